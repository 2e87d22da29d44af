import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { chooseBootFile, clientKind, decodeDhcp, DhcpOption, encodeDhcp, loadDhcpConfig, parseSubnets, subnetFor, type DhcpMessage } from '../src/index.js';
import { buildGrant, buildNak, classifyRequest } from '../src/domain/reply.js';
import { replyDestination } from '../src/domain/destination.js';
import { DISCOVER } from './fixtures/captures.js';

const policy = { bootScriptUrl: 'http://sched:8080/v1/boot/${mac}' };
const mac = '52:54:00:12:34:56';

test('boot file by option 93 architecture (RFC 4578 §2.1)', () => {
  assert.equal(chooseBootFile({ mac, arch: 0 }, policy), 'undionly.kpxe');
  for (const arch of [6, 7, 9]) assert.equal(chooseBootFile({ mac, arch }, policy), 'ipxe.efi');
  assert.equal(chooseBootFile({ mac, arch: 11 }, policy), 'ipxe-arm64.efi');
  assert.equal(chooseBootFile({ mac, arch: 16 }, policy), undefined);
  assert.equal(chooseBootFile({ mac, vendorClass: 'PXEClient' }, policy), 'undionly.kpxe');
  assert.equal(chooseBootFile({ mac }, policy), undefined);
});

test('iPXE user class gets the boot script URL, whatever the architecture (no chainload loop)', () => {
  assert.equal(chooseBootFile({ mac, arch: 7, userClasses: ['iPXE'] }, policy), `http://sched:8080/v1/boot/${mac}`);
});

test('subnets: validation and selection by giaddr', () => {
  const subnets = parseSubnets([
    { subnet: '127.77.0.0/16', pool: '127.77.1.1-127.77.255.254', router: '127.77.0.1', nextServer: '127.0.0.1' },
    { subnet: '10.1.0.0/24', pool: '10.1.0.10-10.1.0.20', nextServer: '10.1.0.1', dns: ['10.1.0.2'] },
  ]);
  assert.equal(subnetFor(subnets, '127.77.0.1')?.cidr, '127.77.0.0/16');
  assert.equal(subnetFor(subnets, '10.1.0.1')?.mask, '255.255.255.0');
  assert.equal(subnetFor(subnets, '10.2.0.1'), undefined);
  const bad = [
    { subnet: '127.77.0.1/16', pool: '127.77.1.1-127.77.1.2', nextServer: '127.0.0.1' },
    { subnet: '127.77.0.0/16', pool: '127.78.1.1-127.78.1.2', nextServer: '127.0.0.1' },
    { subnet: '127.77.0.0/16', pool: '127.77.1.9-127.77.1.2', nextServer: '127.0.0.1' },
    { subnet: '127.77.0.0/16', pool: '127.77.0.0-127.77.1.2', nextServer: '127.0.0.1' },
    { subnet: '127.77.0.0/16', pool: '127.77.1.1-127.77.1.2', router: '10.0.0.1', nextServer: '127.0.0.1' },
  ];
  for (const spec of bad) assert.throws(() => parseSubnets([spec]), Error, JSON.stringify(spec));
  assert.throws(() => parseSubnets([{ subnet: '10.0.0.0/8', pool: '10.0.0.1-10.0.0.2', nextServer: '10.0.0.1' }, { subnet: '10.1.0.0/24', pool: '10.1.0.1-10.1.0.2', nextServer: '10.0.0.1' }]), /overlap/);
});

test('config: defaults, and a bad SWARMBOOT_DHCP_SUBNETS stops start-up naming the variable', () => {
  const c = loadDhcpConfig({});
  assert.deepEqual(c.settings.listen, { host: '0.0.0.0', port: 6767 });
  assert.deepEqual(c.ops, { host: '0.0.0.0', port: 9101 });
  assert.equal(c.settings.serverId, '127.0.0.1');
  assert.equal(c.settings.leaseSeconds, 3600);
  assert.equal(c.settings.relayPort, 67);
  assert.equal(c.settings.bootScriptUrl, 'http://127.0.0.1:8080/v1/boot/${mac}');
  assert.equal(c.settings.subnets[0]?.cidr, '127.77.0.0/16');
  for (const value of ['not json', '[]', '[{"subnet":"127.77.0.0/16"}]', '[{"subnet":"127.77.0.0/16","pool":"1.1.1.1-1.1.1.2","nextServer":"127.0.0.1"}]']) {
    assert.throws(
      () => loadDhcpConfig({ SWARMBOOT_DHCP_SUBNETS: value }),
      (err: unknown) => isSwarmbootError(err, 'CONFIG_INVALID') && err.message.includes('SWARMBOOT_DHCP_SUBNETS'),
      value,
    );
  }
  assert.throws(() => loadDhcpConfig({ SWARMBOOT_DHCP_LEASE_SECONDS: 'soon' }), /SWARMBOOT_DHCP_LEASE_SECONDS/);
  assert.throws(() => loadDhcpConfig({ SWARMBOOT_DHCP_SERVER_ID: '999.1.1.1' }), /SWARMBOOT_DHCP_SERVER_ID/);
});

function request(patch: Partial<DhcpMessage>, options: [number, string][]): DhcpMessage {
  const base = decodeDhcp(DISCOVER);
  return { ...base, ...patch, options: new Map(options.map(([c, hex]) => [c, Buffer.from(hex, 'hex')])) };
}

test('DHCPREQUEST states of RFC 2131 §4.3.2', () => {
  assert.deepEqual(classifyRequest(request({}, [[53, '03'], [54, '7f000001'], [50, '7f4d0101']])), { state: 'selecting', ip: '127.77.1.1', serverId: '127.0.0.1' });
  assert.deepEqual(classifyRequest(request({}, [[53, '03'], [50, '7f4d0101']])), { state: 'init-reboot', ip: '127.77.1.1' });
  assert.deepEqual(classifyRequest(request({ ciaddr: '127.77.1.1' }, [[53, '03']])), { state: 'renewing', ip: '127.77.1.1' });
  assert.equal(classifyRequest(request({}, [[53, '03']])), undefined);
  assert.equal(classifyRequest(request({ ciaddr: '127.77.1.1' }, [[53, '03'], [54, '7f000001'], [50, '7f4d0101']])), undefined);
});

test('OFFER/ACK fields and options (RFC 2131 Table 3), 61 and 82 echoed, 82 last', () => {
  const [subnet] = parseSubnets([{ subnet: '127.77.0.0/16', pool: '127.77.1.1-127.77.1.9', router: '127.77.0.1', nextServer: '127.0.0.1', dns: ['127.0.0.53'] }]);
  const req = request({ giaddr: '127.77.0.1', flags: 0x8000, ciaddr: '127.77.1.5' }, [
    [53, '03'],
    [61, '01525400123456'],
    [82, '1300'],
  ]);
  const ack = buildGrant(req, { type: 5, serverId: '127.0.0.1', yiaddr: '127.77.1.5', subnet: subnet!, leaseSeconds: 3600, bootFile: 'ipxe.efi', hostname: 'n-001' });
  const wire = encodeDhcp(ack);
  const back = decodeDhcp(wire);
  assert.equal(back.op, 2);
  assert.equal(back.hops, 0);
  assert.equal(back.xid, req.xid);
  assert.equal(back.flags, 0x8000);
  assert.equal(back.ciaddr, '127.77.1.5');
  assert.equal(back.yiaddr, '127.77.1.5');
  assert.equal(back.siaddr, '127.0.0.1');
  assert.equal(back.giaddr, '127.77.0.1');
  assert.equal(back.file, 'ipxe.efi');
  assert.equal(back.options.get(DhcpOption.bootfileName)?.toString('hex'), Buffer.from('ipxe.efi\0').toString('hex'));
  const u32 = (code: number) => back.options.get(code)?.readUInt32BE(0);
  assert.equal(u32(DhcpOption.leaseTime), 3600);
  assert.equal(u32(DhcpOption.renewalTime), 1800);
  assert.equal(u32(DhcpOption.rebindingTime), 3150);
  assert.equal(back.options.get(DhcpOption.subnetMask)?.toString('hex'), 'ffff0000');
  assert.equal(back.options.get(DhcpOption.router)?.toString('hex'), '7f4d0001');
  assert.equal(back.options.get(DhcpOption.dns)?.toString('hex'), '7f000035');
  assert.equal(back.options.get(DhcpOption.hostname)?.toString(), 'n-001');
  assert.equal(back.options.get(DhcpOption.clientId)?.toString('hex'), '01525400123456');
  assert.deepEqual([...back.options.keys()].at(-1), DhcpOption.relayAgentInfo);
  // END is the last non-zero octet (PAD follows it up to 300 octets)
  const end = wire.length - 1 - [...wire].reverse().findIndex((x) => x !== 0);
  assert.equal(wire[end], 255);
  assert.deepEqual([...wire.subarray(end - 4, end + 1)], [82, 2, 19, 0, 255]);

  const offer = buildGrant(req, { type: 2, serverId: '127.0.0.1', yiaddr: '127.77.1.5', subnet: subnet!, leaseSeconds: 60 });
  assert.equal(offer.ciaddr, '0.0.0.0');
  assert.equal(offer.file, '');
  assert.equal(offer.options.has(DhcpOption.bootfileName), false);

  const nak = buildNak(req, '127.0.0.1', 'no');
  assert.equal(nak.yiaddr, '0.0.0.0');
  assert.equal(nak.siaddr, '0.0.0.0');
  assert.deepEqual([...nak.options.keys()], [53, 54, 56, 61, 82]);
});

test('a boot file URL longer than the file field goes in option 67 only', () => {
  const [subnet] = parseSubnets([{ subnet: '127.77.0.0/16', pool: '127.77.1.1-127.77.1.9', nextServer: '127.0.0.1' }]);
  const url = 'http://127.0.0.1:8080/' + 'x'.repeat(200);
  const offer = buildGrant(request({}, [[53, '01']]), { type: 2, serverId: '127.0.0.1', yiaddr: '127.77.1.5', subnet: subnet!, leaseSeconds: 60, bootFile: url });
  assert.equal(offer.file, '');
  const back = decodeDhcp(encodeDhcp(offer));
  assert.equal(back.options.get(DhcpOption.bootfileName)?.subarray(0, -1).toString(), url);
});

test('reply destinations (RFC 2131 §4.1, RFC 8357 §5.2)', () => {
  const pol = { relayPort: 67, clientPort: 68 };
  const from = { address: '127.77.0.1', port: 40000 };
  const relayed = request({ giaddr: '127.77.0.1' }, []);
  assert.deepEqual(replyDestination(relayed, 2, from, true, pol), { to: { address: '127.77.0.1', port: 40000 } });
  assert.deepEqual(replyDestination(relayed, 2, from, false, pol), { to: { address: '127.77.0.1', port: 67 } });
  assert.deepEqual(replyDestination(relayed, 6, from, false, pol), { to: { address: '127.77.0.1', port: 67 } });
  const direct = request({}, []);
  assert.deepEqual(replyDestination({ ...direct, ciaddr: '10.0.0.5' }, 5, from, false, pol), { to: { address: '10.0.0.5', port: 68 } });
  assert.deepEqual(replyDestination({ ...direct, flags: 0x8000 }, 2, from, false, pol), { to: { address: '255.255.255.255', port: 68 } });
  assert.deepEqual(replyDestination({ ...direct, ciaddr: '10.0.0.5' }, 6, from, false, pol), { to: { address: '255.255.255.255', port: 68 } });
  assert.deepEqual(replyDestination(direct, 2, from, false, pol), { to: { address: '255.255.255.255', port: 68 } });
});

test('boot files: configurable per architecture, UEFI HTTP boot URLs, iPXE first, non-PXE none', () => {
  const files = { bios: 'undionly.kpxe', efiIa32: 'ipxe32.efi', efiX64: 'snponly.efi', efiArm64: 'arm.efi', httpX64: 'http://b/x64.efi', httpArm64: 'http://b/arm.efi' };
  const policy = { bootScriptUrl: 'http://s/boot/${mac}', files };
  const mac = '02:00:00:00:00:01';
  assert.equal(chooseBootFile({ mac, arch: 7, vendorClass: 'PXEClient:Arch:00007' }, policy), 'snponly.efi');
  assert.equal(chooseBootFile({ mac, arch: 9 }, policy), 'snponly.efi');
  assert.equal(chooseBootFile({ mac, arch: 6 }, policy), 'ipxe32.efi');
  assert.equal(chooseBootFile({ mac, arch: 11 }, policy), 'arm.efi');
  assert.equal(chooseBootFile({ mac, vendorClass: 'PXEClient' }, policy), 'undionly.kpxe');
  assert.equal(chooseBootFile({ mac, arch: 16, vendorClass: 'HTTPClient:Arch:00016' }, policy), 'http://b/x64.efi');
  assert.equal(chooseBootFile({ mac, arch: 19, vendorClass: 'HTTPClient:Arch:00019' }, policy), 'http://b/arm.efi');
  assert.equal(chooseBootFile({ mac, arch: 7, userClasses: ['iPXE'], vendorClass: 'PXEClient' }, policy), `http://s/boot/${mac}`);
  assert.equal(chooseBootFile({ mac }, policy), undefined);
  assert.equal(chooseBootFile({ mac, arch: 0x1234 }, policy), undefined);
  assert.equal(clientKind({ vendorClass: 'HTTPClient' }), 'http');
  assert.equal(clientKind({ vendorClass: 'PXEClient', userClasses: ['iPXE'] }), 'ipxe');
  assert.equal(clientKind({ vendorClass: 'MSFT 5.0' }), 'other');
});
