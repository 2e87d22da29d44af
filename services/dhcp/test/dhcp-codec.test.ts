import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { DhcpOption, decodeDhcp, encodeDhcp, formatMac, getClientId, getLeaseTime, getMessageType, getParameterRequestList, getRequestedIp, getServerId, getSubnetMask, type DhcpMessage } from '../src/index.js';
import { DISCOVER, DISCOVER_END, OFFER } from './fixtures/captures.js';

function assertMalformed(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isSwarmbootError(err, 'DHCP_MALFORMED'), `expected DHCP_MALFORMED, got ${String(err)}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

/** A header + cookie of a BOOTREQUEST followed by `options` (hex). */
function withOptions(optionsHex: string, patch: (b: Buffer) => void = () => undefined): Buffer {
  const b = Buffer.concat([DISCOVER.subarray(0, 240), Buffer.from(optionsHex, 'hex')]);
  patch(b);
  return b;
}

test('decodes the real DISCOVER of the Wireshark sample capture', () => {
  const m = decodeDhcp(DISCOVER);
  assert.equal(m.op, 1);
  assert.equal(m.htype, 1);
  assert.equal(m.hlen, 6);
  assert.equal(m.hops, 0);
  assert.equal(m.xid, 0x3d1d);
  assert.equal(m.secs, 0);
  assert.equal(m.flags, 0);
  assert.equal(m.ciaddr, '0.0.0.0');
  assert.equal(m.giaddr, '0.0.0.0');
  assert.equal(formatMac(m.chaddr), '00:0b:82:01:fc:42');
  assert.equal(m.sname, '');
  assert.equal(m.file, '');
  assert.deepEqual([...m.options.keys()], [53, 61, 50, 55]);
  assert.equal(getMessageType(m), 1);
  assert.equal(getRequestedIp(m), '0.0.0.0');
  assert.deepEqual(getParameterRequestList(m), [1, 3, 6, 42]);
  assert.equal(getClientId(m)?.toString('hex'), '01000b8201fc42');
});

test('decodes the real OFFER of the capture (T1/T2, lease, server id)', () => {
  const m = decodeDhcp(OFFER);
  assert.equal(m.op, 2);
  assert.equal(m.yiaddr, '192.168.0.10');
  assert.equal(m.siaddr, '192.168.0.1');
  assert.equal(getMessageType(m), 2);
  assert.equal(getSubnetMask(m), '255.255.255.0');
  assert.equal(getLeaseTime(m), 3600);
  assert.equal(getServerId(m), '192.168.0.1');
  assert.equal(m.options.get(DhcpOption.renewalTime)?.readUInt32BE(0), 1800);
  assert.equal(m.options.get(DhcpOption.rebindingTime)?.readUInt32BE(0), 3150);
});

test('every truncation of the DISCOVER before its END option is DHCP_MALFORMED', () => {
  for (let n = 0; n <= DISCOVER_END; n++) {
    assertMalformed(() => decodeDhcp(DISCOVER.subarray(0, n)));
  }
  // cutting only the padding after END leaves a complete message
  for (let n = DISCOVER_END + 1; n <= DISCOVER.length; n++) {
    assert.equal(decodeDhcp(DISCOVER.subarray(0, n)).xid, 0x3d1d);
  }
});

test('a bad magic cookie is DHCP_MALFORMED', () => {
  const b = Buffer.from(DISCOVER);
  b.writeUInt32BE(0x63825364, 236);
  assertMalformed(() => decodeDhcp(b), /magic cookie/);
});

test('an option running past the end of the datagram is DHCP_MALFORMED', () => {
  // 53=1, then 12 (hostname) claiming 16 octets with 2 left
  assertMalformed(() => decodeDhcp(withOptions('3501010c104142')), /option 12 .*runs past the end/);
  // a code without its length octet
  assertMalformed(() => decodeDhcp(withOptions('3501010c')), /no length octet/);
});

test('a missing END, a bad op and hlen > 16 are DHCP_MALFORMED', () => {
  assertMalformed(() => decodeDhcp(withOptions('350101')), /no END/);
  assertMalformed(() => decodeDhcp(withOptions('350101ff', (b) => (b[0] = 3))), /op 3/);
  assertMalformed(() => decodeDhcp(withOptions('350101ff', (b) => (b[2] = 17))), /hlen 17/);
});

test('PAD options are skipped and repeated options are concatenated (RFC 3396)', () => {
  const m = decodeDhcp(withOptions('0000350101' + '0c03616263' + '00' + '0c026465' + 'ff'));
  assert.equal(m.options.get(DhcpOption.hostname)?.toString(), 'abcde');
  assert.equal(m.options.has(0), false);
});

test('option overload (52) reads options from file and sname, and never crashes', () => {
  const b = withOptions('350101' + '340103' + 'ff');
  // file: hostname "pxe", END; sname: option 67 "boot.x", END
  Buffer.from('0c03707865ff', 'hex').copy(b, 108);
  Buffer.from('4306626f6f742e78ff', 'hex').copy(b, 44);
  const m = decodeDhcp(b);
  assert.equal(m.options.get(DhcpOption.hostname)?.toString(), 'pxe');
  assert.equal(m.options.get(DhcpOption.bootfileName)?.toString(), 'boot.x');
  assert.equal(m.file, '');
  assert.equal(m.sname, '');
  assert.equal(m.options.has(DhcpOption.overload), false);

  // an option in the overloaded file field that runs past the field
  const bad = withOptions('350101' + '340101' + 'ff');
  bad[108 + 126] = 12;
  bad[108 + 127] = 9;
  assertMalformed(() => decodeDhcp(bad), /file \(overloaded\)/);

  // an invalid overload value is ignored: sname/file stay strings
  const ignored = withOptions('350101' + '340107' + 'ff');
  Buffer.from('hello').copy(ignored, 108);
  assert.equal(decodeDhcp(ignored).file, 'hello');
});

test('encode: re-encoding the capture gives the same octets, padded to 300', () => {
  const out = encodeDhcp(decodeDhcp(DISCOVER));
  assert.equal(out.length, 300);
  assert.deepEqual(out.subarray(0, DISCOVER_END + 1), DISCOVER.subarray(0, DISCOVER_END + 1));
  assert.ok(out.subarray(DISCOVER_END + 1).every((x) => x === 0));
});

function reply(options: [number, Buffer][]): DhcpMessage {
  return {
    op: 2,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0xdeadbeef,
    secs: 0,
    flags: 0x8000,
    ciaddr: '0.0.0.0',
    yiaddr: '127.77.1.9',
    siaddr: '127.0.0.1',
    giaddr: '127.77.0.1',
    chaddr: Buffer.from('525400000001', 'hex'),
    sname: '',
    file: 'undionly.kpxe',
    options: new Map(options),
  };
}

test('encode: 53 first, 82 last before END, round trip of every field', () => {
  const msg = reply([
    [DhcpOption.relayAgentInfo, Buffer.from('1300', 'hex')],
    [DhcpOption.serverId, Buffer.from([127, 0, 0, 1])],
    [DhcpOption.messageType, Buffer.from([2])],
  ]);
  const out = encodeDhcp(msg);
  assert.deepEqual([...out.subarray(240, 240 + 3)], [53, 1, 2]);
  assert.deepEqual([...out.subarray(243, 249)], [54, 4, 127, 0, 0, 1]);
  assert.deepEqual([...out.subarray(249, 254)], [82, 2, 19, 0, 255]);
  const back = decodeDhcp(out);
  assert.equal(back.xid, 0xdeadbeef);
  assert.equal(back.flags, 0x8000);
  assert.equal(back.yiaddr, '127.77.1.9');
  assert.equal(back.siaddr, '127.0.0.1');
  assert.equal(back.giaddr, '127.77.0.1');
  assert.equal(back.file, 'undionly.kpxe');
  assert.equal(formatMac(back.chaddr), '52:54:00:00:00:01');
});

test('encode: options longer than 255 octets are split and decode back whole (RFC 3396)', () => {
  const long = Buffer.alloc(600, 0x61);
  const out = encodeDhcp(reply([[DhcpOption.vendorClass, long]]));
  assert.deepEqual(decodeDhcp(out).options.get(DhcpOption.vendorClass), long);
});

test('encode: fields that do not fit throw DHCP_ENCODE', () => {
  const tooLong = { ...reply([]), file: 'x'.repeat(128) };
  assert.throws(() => encodeDhcp(tooLong), (err: unknown) => isSwarmbootError(err, 'DHCP_ENCODE'));
  assert.throws(() => encodeDhcp({ ...reply([]), yiaddr: '300.1.1.1' }), (err: unknown) => isSwarmbootError(err, 'DHCP_ENCODE'));
  assert.throws(() => encodeDhcp(reply([[255, Buffer.alloc(1)]])), (err: unknown) => isSwarmbootError(err, 'DHCP_ENCODE'));
});
