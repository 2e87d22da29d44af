import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { Redis } from 'ioredis';
import { Events, RedisKeys } from '@swarmboot/contracts';
import { EventBus, Registry, createLogger } from '@swarmboot/kit';
import { freePort, waitFor } from '@swarmboot/testkit';
import {
  DhcpOption,
  InventoryCache,
  MessageType,
  decodeDhcp,
  encodeRelayAgentInfo,
  getBootfileName,
  getMessageType,
  getServerId,
  getVendorClass,
  ipOption,
  macToChaddr,
  requestLeaseViaRelay,
  textOption,
  u16Option,
  u8Option,
  type DhcpMessage,
  type DhcpServer,
  type DhcpSettings,
} from '../../src/index.js';
import { GIADDR, bootRequest, counter, randomMac, startDhcpBackends, startDhcp, type DhcpBackends } from './harness.js';

/*
 * RFC 2131 server behaviour beyond DISCOVER/REQUEST — RELEASE, DECLINE, INFORM, a REQUEST for
 * another server, option 82 echoed last — plus UEFI HTTP boot, proxyDHCP and the receive queue,
 * against real redis-server and nats-server over loopback UDP (relayed from 127.77.0.1).
 */

const log = createLogger('dhcp-rfc', process.env.SWARMBOOT_LOG_LEVEL === 'debug' ? 'debug' : 'silent');
let backends: DhcpBackends;
let redis: Redis;
let bus: EventBus;

async function start(patch: Partial<DhcpSettings> = {}): Promise<{ server: DhcpServer; port: number; registry: Registry }> {
  const registry = new Registry();
  return { ...(await startDhcp(backends, log, registry, { patch })), registry };
}

function message(type: number, mac: string, opts: [number, Buffer][] = [], fields: Partial<DhcpMessage> = {}): Buffer {
  return bootRequest([[DhcpOption.messageType, u8Option(type)], ...opts], { chaddr: macToChaddr(mac), ...fields });
}

/** Sends datagrams from GIADDR (one socket) and collects replies for `waitMs`. */
async function exchange(payloads: Buffer[], port: number, waitMs: number): Promise<{ replies: Buffer[]; from: number }> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, GIADDR, () => resolve()));
  const replies: Buffer[] = [];
  sock.on('message', (m) => replies.push(m));
  for (const p of payloads) sock.send(p, port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, waitMs));
  const from = sock.address().port;
  sock.close();
  return { replies, from };
}

/** The one reply to `payloads` (see exchange), decoded; the test fails when there is none or more. */
async function onlyReply(payloads: Buffer[], port: number, waitMs: number): Promise<DhcpMessage> {
  const { replies } = await exchange(payloads, port, waitMs);
  assert.equal(replies.length, 1);
  return decodeDhcp(replies[0]!);
}

/** option 61 as requestLeaseViaRelay sends it (type 1 + MAC): the lease key of a non-PXE client */
const clientId = (mac: string): [number, Buffer] => [DhcpOption.clientId, Buffer.concat([Buffer.from([1]), macToChaddr(mac)])];

/** RFC 8357 relay source port: replies come back to the socket that sent. */
const sourcePort: [number, Buffer] = [DhcpOption.relayAgentInfo, encodeRelayAgentInfo([[19, Buffer.alloc(0)]])];

before(async () => {
  backends = await startDhcpBackends('dhcp-rfc', log);
  ({ redis, bus } = backends);
});

after(async () => {
  await backends?.stop();
});

test('RELEASE frees the address (no reply) and the client gets it back later', async () => {
  const { port, registry } = await start();
  const mac = randomMac();
  const l = await requestLeaseViaRelay({ server: { host: '127.0.0.1', port }, giaddr: GIADDR, chaddr: mac, timeoutMs: 10_000 });
  const { replies } = await exchange([message(MessageType.release, mac, [clientId(mac), [DhcpOption.serverId, ipOption('127.0.0.1')]], { ciaddr: l.yiaddr })], port, 300);
  assert.equal(replies.length, 0);
  assert.equal(await redis.get(RedisKeys.leaseByIp(l.yiaddr)), null);
  assert.equal((await redis.hgetall(RedisKeys.lease(`id:01${mac.replaceAll(':', '')}`))).state, 'released');
  assert.equal(await counter(registry, 'swarmboot_dhcp_lease_changes_total', 'change', 'released'), 1);
  const again = await requestLeaseViaRelay({ server: { host: '127.0.0.1', port }, giaddr: GIADDR, chaddr: mac, timeoutMs: 10_000 });
  assert.equal(again.yiaddr, l.yiaddr);
});

test('DECLINE quarantines the address and the client gets another one', async () => {
  const { port } = await start({ declineQuarantineSeconds: 120 });
  const mac = randomMac();
  const l = await requestLeaseViaRelay({ server: { host: '127.0.0.1', port }, giaddr: GIADDR, chaddr: mac, timeoutMs: 10_000 });
  const decline = message(MessageType.decline, mac, [
    clientId(mac),
    [DhcpOption.requestedIp, ipOption(l.yiaddr)],
    [DhcpOption.serverId, ipOption('127.0.0.1')],
  ]);
  assert.equal((await exchange([decline], port, 300)).replies.length, 0);
  assert.equal(await redis.get(RedisKeys.leaseByIp(l.yiaddr)), 'declined');
  const ttl = await redis.pttl(RedisKeys.leaseByIp(l.yiaddr));
  assert.ok(ttl > 110_000 && ttl <= 120_000, `quarantine ${ttl} ms`);
  const next = await requestLeaseViaRelay({ server: { host: '127.0.0.1', port }, giaddr: GIADDR, chaddr: mac, timeoutMs: 10_000 });
  assert.notEqual(next.yiaddr, l.yiaddr);
});

test('INFORM gets an ACK with configuration, no lease time and yiaddr 0', async () => {
  const { port } = await start();
  const mac = randomMac();
  const ack = await onlyReply([message(MessageType.inform, mac, [sourcePort], { ciaddr: '127.77.9.9' })], port, 500);
  assert.equal(getMessageType(ack), MessageType.ack);
  assert.equal(ack.yiaddr, '0.0.0.0');
  assert.equal(ack.ciaddr, '127.77.9.9');
  assert.equal(getServerId(ack), '127.0.0.1');
  assert.equal(ack.options.has(DhcpOption.leaseTime), false);
  assert.equal(ack.options.has(DhcpOption.renewalTime), false);
  assert.deepEqual([...ack.options.get(DhcpOption.subnetMask)!], [255, 255, 0, 0]);
  assert.equal(await redis.exists(RedisKeys.lease(mac)), 0, 'INFORM leases nothing');
});

test('a REQUEST naming another server is not answered and our offer is freed', async () => {
  const { port, registry } = await start();
  const mac = randomMac();
  const ip = (await onlyReply([message(MessageType.discover, mac, [sourcePort])], port, 400)).yiaddr;
  assert.equal(await redis.get(RedisKeys.leaseByIp(ip)), mac);
  const req = message(MessageType.request, mac, [
    [DhcpOption.requestedIp, ipOption(ip)],
    [DhcpOption.serverId, ipOption('127.0.0.99')],
    sourcePort,
  ]);
  assert.equal((await exchange([req], port, 300)).replies.length, 0);
  assert.equal(await redis.get(RedisKeys.leaseByIp(ip)), null);
  assert.equal(await counter(registry, 'swarmboot_dhcp_dropped_total', 'reason', 'other_server'), 1);
});

test('option 82 comes back unchanged and last, before END (RFC 3046 §2.2)', async () => {
  const { port } = await start();
  const relayInfo = encodeRelayAgentInfo([
    [1, Buffer.from('eth0/7')],
    [2, Buffer.from('switch-3')],
    [19, Buffer.alloc(0)],
  ]);
  const { replies } = await exchange([message(MessageType.discover, randomMac(), [[DhcpOption.relayAgentInfo, relayInfo]])], port, 400);
  assert.equal(replies.length, 1);
  const raw = replies[0]!;
  const end = raw.lastIndexOf(Buffer.from([DhcpOption.relayAgentInfo, relayInfo.length, ...relayInfo, 0xff]));
  assert.ok(end > 240, 'option 82 followed directly by END');
  assert.deepEqual(decodeDhcp(raw).options.get(DhcpOption.relayAgentInfo), relayInfo);
});

test('UEFI HTTP boot: the configured URL and vendor class HTTPClient echoed; BIOS/UEFI files configurable', async () => {
  const { port } = await start({ bootFiles: { bios: 'undionly.kpxe', efiIa32: 'ipxe.efi', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi', httpX64: 'http://10.0.0.1/ipxe.efi' } });
  const http = message(MessageType.discover, randomMac(), [[DhcpOption.vendorClass, textOption('HTTPClient:Arch:00016:UNDI:003001')], [DhcpOption.clientArch, u16Option(16)], sourcePort]);
  const uefi = message(MessageType.discover, randomMac(), [[DhcpOption.vendorClass, textOption('PXEClient:Arch:00007:UNDI:003016')], [DhcpOption.clientArch, u16Option(7)], sourcePort]);
  const { replies } = await exchange([http, uefi], port, 500);
  assert.equal(replies.length, 2);
  const byFile = new Map(replies.map((r) => decodeDhcp(r)).map((m) => [getBootfileName(m), m]));
  const h = byFile.get('http://10.0.0.1/ipxe.efi');
  assert.ok(h, [...byFile.keys()].join(','));
  assert.equal(getVendorClass(h), 'HTTPClient');
  // option 67 is NUL-terminated for PXE ROMs that read a C string
  assert.equal(h.options.get(DhcpOption.bootfileName)!.at(-1), 0);
  const u = byFile.get('snponly.efi');
  assert.ok(u);
  assert.equal(getVendorClass(u), undefined);
});

test('proxyDHCP: PXE clients get boot parameters without an address; others and REQUESTs on 67 get nothing', async () => {
  const proxyPort = await freePort();
  const { server, port, registry } = await start({ mode: 'proxy', proxyPort });
  assert.equal(server.proxyAddress()?.port, proxyPort);
  const pxe = message(MessageType.discover, randomMac(), [[DhcpOption.vendorClass, textOption('PXEClient:Arch:00000:UNDI:002001')], [DhcpOption.clientArch, u16Option(0)], sourcePort]);
  const plain = message(MessageType.discover, randomMac(), [sourcePort]);
  const offer = await onlyReply([pxe, plain], port, 500);
  assert.equal(getMessageType(offer), MessageType.offer);
  assert.equal(offer.yiaddr, '0.0.0.0');
  assert.equal(offer.siaddr, '127.0.0.1');
  assert.equal(getBootfileName(offer), 'undionly.kpxe');
  assert.equal(getVendorClass(offer), 'PXEClient');
  assert.deepEqual([...offer.options.get(DhcpOption.vendorOptions)!], [6, 1, 8, 255]);
  assert.equal(offer.options.has(DhcpOption.leaseTime), false);
  assert.equal(offer.options.has(DhcpOption.subnetMask), false);
  assert.equal(await counter(registry, 'swarmboot_dhcp_dropped_total', 'reason', 'not_pxe'), 1);

  // the PXE ROM, now with an address from the site's server, asks the proxy on 4011: a unicast ACK
  const mac = randomMac();
  const req = message(MessageType.request, mac, [[DhcpOption.vendorClass, textOption('PXEClient:Arch:00007:UNDI:003016')], [DhcpOption.clientArch, u16Option(7)]], { ciaddr: '127.77.5.5', giaddr: '0.0.0.0' });
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.77.5.5', () => resolve()));
  const got = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
  sock.send(req, proxyPort, '127.0.0.1');
  const ack = decodeDhcp(await got);
  sock.close();
  assert.equal(getMessageType(ack), MessageType.ack);
  assert.equal(ack.yiaddr, '0.0.0.0');
  assert.equal(ack.ciaddr, '127.77.5.5');
  assert.equal(getBootfileName(ack), 'ipxe.efi');
  assert.equal(await redis.exists(RedisKeys.lease(mac)), 0, 'the proxy leases nothing');
  // a REQUEST on 67 belongs to the site's DHCP server
  const on67 = message(MessageType.request, mac, [[DhcpOption.vendorClass, textOption('PXEClient')], [DhcpOption.requestedIp, ipOption('127.77.5.5')], [DhcpOption.serverId, ipOption('127.77.0.254')], sourcePort]);
  assert.equal((await exchange([on67], port, 300)).replies.length, 0);
  assert.equal(await counter(registry, 'swarmboot_dhcp_dropped_total', 'reason', 'proxy_ignored'), 1);
});

test('receive queue: retransmissions of a request in work are dropped as duplicates, old work as stale', async () => {
  const { port, registry } = await start({ queue: { concurrency: 1, maxAgeMs: 2 } });
  const mac = randomMac();
  const one = message(MessageType.discover, mac, [sourcePort]);
  const burst = Array.from({ length: 30 }, () => one);
  const many = Array.from({ length: 300 }, () => message(MessageType.discover, randomMac(), [sourcePort]));
  const { replies } = await exchange([...burst, ...many], port, 1500);
  const dup = await counter(registry, 'swarmboot_dhcp_dropped_total', 'reason', 'duplicate');
  const stale = await counter(registry, 'swarmboot_dhcp_dropped_total', 'reason', 'stale');
  assert.ok(dup >= 1, `duplicates dropped: ${dup}`);
  assert.ok(stale >= 1, `stale dropped: ${stale}`);
  const offersToMac = replies.map((r) => decodeDhcp(r)).filter((m) => m.chaddr.equals(macToChaddr(mac)));
  assert.ok(offersToMac.length >= 1 && offersToMac.length < burst.length, `${offersToMac.length} offers for ${burst.length} copies`);
  assert.equal(replies.length + dup + stale, burst.length + many.length);
});

test('the inventory is held in memory: loaded at start, refreshed by nodeStateChanged, used for option 12', async () => {
  const known = randomMac();
  const later = randomMac();
  await redis.hset(RedisKeys.node('inv-1'), 'mac', known, 'hostname', 'rack2-n1');
  await redis.zadd(RedisKeys.nodes, 1, 'inv-1');
  const { port } = await start();
  const l = await requestLeaseViaRelay({ server: { host: '127.0.0.1', port }, giaddr: GIADDR, chaddr: known, arch: 7, timeoutMs: 10_000 });
  assert.equal(l.hostname, 'rack2-n1');

  // a node registered after start, announced by a state change: the cache learns it without a reload
  const cache = new InventoryCache(redis, log);
  await cache.start(bus);
  assert.equal(cache.peek(later), undefined);
  await redis.hset(RedisKeys.node('inv-2'), 'mac', later, 'hostname', 'rack2-n2');
  await redis.zadd(RedisKeys.nodes, 2, 'inv-2');
  await bus.publish(Events.nodeStateChanged, { nodeId: 'inv-2', from: 'registered', to: 'booting' }, 'inv-2');
  await waitFor('cache refresh', () => cache.peek(later));
  assert.deepEqual(cache.peek(later), { nodeId: 'inv-2', hostname: 'rack2-n2' });
  cache.stop();
});
