import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { Redis } from 'ioredis';
import { Events, RedisKeys, isSwarmbootError, type LeaseGranted } from '@swarmboot/contracts';
import { EventBus, Registry, connectRedis, createLogger, ipToInt } from '@swarmboot/kit';
import { freePort, startRedis, waitFor } from '@swarmboot/testkit';
import {
  decodeDhcp,
  encodeRelayAgentInfo,
  getMessageType,
  macToChaddr,
  requestLeaseViaRelay,
  u8Option,
  ipOption,
  type DhcpLease,
  type DhcpMessage,
  type DhcpServer,
  type DhcpSettings,
  InventoryCache,
} from '../../src/index.js';
import { GIADDR, bootRequest, counter, randomMac, startDhcpBackends, startDhcp, type DhcpBackends } from './harness.js';

/*
 * The DHCP server against real nats-server and redis-server, over real UDP on loopback: the
 * server on 127.0.0.1, the emulated relay/client on 127.77.0.1 (subnet 127.77.0.0/16).
 */

const log = createLogger('dhcp-it', process.env.SWARMBOOT_LOG_LEVEL === 'debug' ? 'debug' : 'silent');

let backends: DhcpBackends;
let redis: Redis;
let bus: EventBus;
let registry: Registry;
let port: number;
const events: LeaseGranted[] = [];
let stopConsumer: (() => Promise<void>) | undefined;

const startServer = (reg: Registry, env: Record<string, string> = {}, patch: Partial<DhcpSettings> = {}): Promise<{ server: DhcpServer; port: number }> => startDhcp(backends, log, reg, { env, patch });

function inPool(ip: string): boolean {
  const n = ipToInt(ip);
  return n >= ipToInt('127.77.1.1') && n <= ipToInt('127.77.255.254');
}

/** Sends one datagram from `from` (default GIADDR, any port) and collects what comes back within `waitMs`. */
async function sendRaw(payload: Buffer, waitMs: number, stopOnFirst = false, from: { address: string; port: number; serverPort?: number } = { address: GIADDR, port: 0 }): Promise<Buffer[]> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(from.port, from.address, () => resolve()));
  const got: Buffer[] = [];
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      sock.on('message', (m) => {
        got.push(m);
        if (stopOnFirst) {
          clearTimeout(timer);
          resolve();
        }
      });
      sock.send(payload, from.serverPort ?? port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
  return got;
}

before(async () => {
  backends = await startDhcpBackends('dhcp-it', log);
  ({ redis, bus } = backends);
  registry = new Registry();
  ({ port } = await startServer(registry));
  stopConsumer = await bus.consume(Events.leaseGranted, 'dhcp-it', async (data) => {
    events.push(data);
  });
});

after(async () => {
  await stopConsumer?.();
  await backends?.stop();
});

const lease = (chaddr: string, extra: { arch?: number; userClass?: string; serverPort?: number } = {}): Promise<DhcpLease> =>
  requestLeaseViaRelay({
    server: { host: '127.0.0.1', port: extra.serverPort ?? port },
    giaddr: GIADDR,
    chaddr,
    ...(extra.arch === undefined ? {} : { arch: extra.arch }),
    ...(extra.userClass === undefined ? {} : { userClass: extra.userClass }),
    timeoutMs: 15_000,
  });

test('relayed clients get distinct addresses of the pool with the subnet options', async () => {
  const macs = Array.from({ length: 8 }, randomMac);
  const leases = await Promise.all(macs.map((m) => lease(m, { arch: 0 })));
  assert.equal(new Set(leases.map((l) => l.yiaddr)).size, macs.length);
  for (const l of leases) {
    assert.ok(inPool(l.yiaddr), l.yiaddr);
    assert.equal(l.serverId, '127.0.0.1');
    assert.equal(l.siaddr, '127.0.0.1');
    assert.equal(l.subnetMask, '255.255.0.0');
    assert.equal(l.router, '127.77.0.1');
    assert.equal(l.leaseSeconds, 3600);
  }
  assert.ok((await counter(registry, 'swarmboot_dhcp_replies_total', 'type', 'offer')) >= macs.length);
  assert.ok((await counter(registry, 'swarmboot_dhcp_replies_total', 'type', 'ack')) >= macs.length);
});

test('the same chaddr keeps its address: PXE ROM first, then iPXE', async () => {
  const mac = randomMac();
  const rom = await lease(mac, { arch: 7 });
  const ipxe = await lease(mac, { arch: 7, userClass: 'iPXE' });
  assert.equal(ipxe.yiaddr, rom.yiaddr);
  assert.notEqual(ipxe.xid, rom.xid);
});

test('boot file by architecture, and the boot script URL for iPXE', async () => {
  const mac = randomMac();
  assert.equal((await lease(randomMac(), { arch: 0 })).bootFile, 'undionly.kpxe');
  assert.equal((await lease(randomMac(), { arch: 7 })).bootFile, 'ipxe.efi');
  assert.equal((await lease(randomMac(), { arch: 11 })).bootFile, 'ipxe-arm64.efi');
  assert.equal((await lease(mac, { arch: 0, userClass: 'iPXE' })).bootFile, `http://127.0.0.1:8080/v1/boot/${mac}`);
});

test('the lease is in Redis and a leaseGranted event arrives on NATS, with the inventory hostname', async () => {
  const mac = randomMac();
  await redis.set(RedisKeys.nodeByMac(mac), 'n-042');
  await redis.hset(RedisKeys.node('n-042'), 'hostname', 'rack1-node42');
  const l = await lease(mac, { arch: 7, userClass: 'iPXE' });
  assert.equal(l.hostname, 'rack1-node42');

  const record = await redis.hgetall(RedisKeys.lease(mac));
  assert.equal(record.ip, l.yiaddr);
  assert.equal(record.state, 'bound');
  assert.equal(await redis.get(RedisKeys.leaseByIp(l.yiaddr)), mac);
  const ttl = await redis.pttl(RedisKeys.leaseByIp(l.yiaddr));
  assert.ok(ttl > 3500_000 && ttl <= 3600_000, `ownership TTL ${ttl} ms follows the lease`);

  const event = await waitFor('leaseGranted event', () => events.find((e) => e.chaddr === mac && e.xid === l.xid));
  assert.equal(event.yiaddr, l.yiaddr);
  assert.equal(event.giaddr, GIADDR);
  assert.equal(event.leaseSeconds, 3600);
  assert.equal(event.nodeId, 'n-042');
  assert.equal(event.hostname, 'rack1-node42');
  assert.equal(event.arch, 7);
  assert.equal(event.userClass, 'iPXE');
  assert.equal(event.bootFile, `http://127.0.0.1:8080/v1/boot/${mac}`);
});

test('a stalled inventory holds the reply back at most lookupTimeoutMs and costs only the hostname', async () => {
  // the inventory on a second, real redis-server that is paused: every look-up hangs
  const inventorySrv = await startRedis();
  const inventory = await connectRedis(inventorySrv.url, log);
  try {
    const mac = randomMac();
    await inventory.set(RedisKeys.nodeByMac(mac), 'n-043');
    await inventory.hset(RedisKeys.node('n-043'), 'hostname', 'rack1-node43');
    const { port: p } = await startDhcp(backends, log, new Registry(), { patch: { lookupTimeoutMs: 100 }, nodes: new InventoryCache(inventory, log) });
    await inventory.call('CLIENT', 'PAUSE', '5000', 'ALL');
    const started = Date.now();
    const l = await lease(mac, { arch: 7, serverPort: p });
    const elapsed = Date.now() - started;
    assert.ok(inPool(l.yiaddr), l.yiaddr);
    assert.equal(l.hostname, undefined);
    // two exchanges (OFFER, ACK), each waiting 100 ms for the look-up; far below the 5 s pause
    assert.ok(elapsed < 2_000, `lease took ${elapsed} ms with the inventory paused 5 s`);
  } finally {
    inventory.disconnect();
    await inventorySrv.stop();
  }
});

test('malformed datagrams are counted and not answered', async () => {
  const before = await counter(registry, 'swarmboot_dhcp_dropped_total', 'reason', 'malformed');
  const valid = bootRequest([
    [53, u8Option(1)],
    [82, encodeRelayAgentInfo([[19, Buffer.alloc(0)]])],
  ]);
  const end = valid.lastIndexOf(255);
  const truncated = valid.subarray(0, end); // no END
  const garbage = Buffer.from('this is not DHCP at all');
  const replies = await Promise.all([sendRaw(truncated, 500), sendRaw(garbage, 500)]);
  assert.deepEqual(
    replies.map((r) => r.length),
    [0, 0],
  );
  await waitFor('malformed counter', async () => (await counter(registry, 'swarmboot_dhcp_dropped_total', 'reason', 'malformed')) >= before + 2, 2000);
  // the server still answers afterwards
  assert.ok(inPool((await lease(randomMac(), { arch: 0 })).yiaddr));
});

test('REQUEST for an address another client holds gets a NAK; one off the network too', async () => {
  const macA = randomMac();
  const a = await lease(macA, { arch: 0 });
  const macB = randomMac();
  await lease(macB, { arch: 0 });
  const request = (ip: string): Buffer =>
    // INIT-REBOOT (RFC 2131 §4.3.2): option 50, no server id
    bootRequest(
      [
        [53, u8Option(3)],
        [50, ipOption(ip)],
        [82, encodeRelayAgentInfo([[19, Buffer.alloc(0)]])],
      ],
      { chaddr: macToChaddr(macB) },
    );
  for (const ip of [a.yiaddr, '10.9.9.9']) {
    const [reply] = await sendRaw(request(ip), 3000, true);
    assert.ok(reply, `a reply to REQUEST ${ip}`);
    const m = decodeDhcp(reply);
    assert.equal(getMessageType(m), 6, `NAK for ${ip}`);
    assert.equal(m.yiaddr, '0.0.0.0');
    // option 82 echoed as the last option before END
    const end = reply.length - 1 - [...reply].reverse().findIndex((x) => x !== 0);
    assert.deepEqual([...reply.subarray(end - 4, end + 1)], [82, 2, 19, 0, 255]);
  }
  // A keeps its address
  assert.equal(await redis.get(RedisKeys.leaseByIp(a.yiaddr)), macA);
});

function requestMessage(patch: Partial<DhcpMessage>, options: [number, Buffer][]): Buffer {
  return bootRequest(options, { hops: 0, giaddr: '0.0.0.0', ...patch });
}

test('a relay without the RFC 8357 sub-option gets the reply at SWARMBOOT_DHCP_RELAY_PORT', async () => {
  const relayPort = await freePort();
  const s = await startServer(new Registry(), { SWARMBOOT_DHCP_RELAY_PORT: String(relayPort) });
  const discover = requestMessage({ hops: 1, giaddr: GIADDR }, [[53, u8Option(1)], [93, Buffer.from([0, 0])]]);
  const [reply] = await sendRaw(discover, 3000, true, { address: GIADDR, port: relayPort, serverPort: s.port });
  assert.ok(reply, 'an OFFER at the relay port');
  const m = decodeDhcp(reply);
  assert.equal(getMessageType(m), 2);
  assert.ok(inPool(m.yiaddr));
  assert.equal(m.file, 'undionly.kpxe');
});

test('a direct RENEWING client (giaddr 0, ciaddr set) gets its ACK unicast at ciaddr (RFC 2131 §4.1)', async () => {
  const mac = randomMac();
  const l = await lease(mac, { arch: 0 });
  const clientPort = await freePort();
  const s = await startServer(new Registry(), {}, { clientPort });
  const renew = requestMessage({ ciaddr: l.yiaddr, chaddr: macToChaddr(mac) }, [[53, u8Option(3)]]);
  const [reply] = await sendRaw(renew, 3000, true, { address: l.yiaddr, port: clientPort, serverPort: s.port });
  assert.ok(reply, 'an ACK at ciaddr');
  const m = decodeDhcp(reply);
  assert.equal(getMessageType(m), 5);
  assert.equal(m.yiaddr, l.yiaddr);
  assert.equal(m.ciaddr, l.yiaddr);
});

test('INIT-REBOOT from a client without a lease record gets silence (RFC 2131 §4.3.2)', async () => {
  const before = await counter(registry, 'swarmboot_dhcp_dropped_total', 'reason', 'unknown_client');
  const stranger = requestMessage({ hops: 1, giaddr: GIADDR }, [
    [53, u8Option(3)],
    [50, ipOption('127.77.250.250')],
    [82, encodeRelayAgentInfo([[19, Buffer.alloc(0)]])],
  ]);
  assert.deepEqual(await sendRaw(stranger, 500), []);
  assert.equal(await counter(registry, 'swarmboot_dhcp_dropped_total', 'reason', 'unknown_client'), before + 1);
});

test('the client gives up with DHCP_TIMEOUT when nobody answers', async () => {
  const silent = await freePort();
  await assert.rejects(
    requestLeaseViaRelay({ server: { host: '127.0.0.1', port: silent }, giaddr: GIADDR, chaddr: randomMac(), retries: 1, timeoutMs: 5000 }),
    (err: unknown) => isSwarmbootError(err, 'DHCP_TIMEOUT'),
  );
});

test('two server instances sharing one Redis give 200 concurrent clients 200 distinct addresses', async () => {
  const second = await startServer(new Registry());
  const macs = Array.from({ length: 200 }, randomMac);
  const leases = await Promise.all(macs.map((m, i) => lease(m, { arch: 0, serverPort: i % 2 === 0 ? port : second.port })));
  const ips = leases.map((l) => l.yiaddr);
  assert.equal(new Set(ips).size, 200);
  for (const [i, l] of leases.entries()) {
    assert.ok(inPool(l.yiaddr));
    assert.equal(await redis.get(RedisKeys.leaseByIp(l.yiaddr)), macs[i]);
  }
});
