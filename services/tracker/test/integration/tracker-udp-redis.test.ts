import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startRedis, type Started } from '@swarmboot/testkit';
import { createLogger, ImageCatalog, parseAllowlist, Registry } from '@swarmboot/kit';
import { get } from 'node:http';
import { RedisKeys } from '@swarmboot/contracts';
import { buildTracker, type Tracker } from '../../src/index.js';
import { imageRecord } from './image-record.js';
import { escapeBytes } from './bep3.js';

let redisServer: Started;
let redis: Redis;
let catalog: ImageCatalog;
const replicas: { tracker: Tracker; udpPort: number; registry: Registry }[] = [];


/** One BEP 15 request/response over UDP from `localAddress`; resolves with the reply datagram. */
function udpExchange(port: number, localAddress: string, packet: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('no UDP tracker reply within 3 s'));
    }, 3000);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(msg);
    });
    sock.bind(0, localAddress, () => sock.send(packet, port, '127.0.0.1'));
  });
}

const PROTOCOL_ID = Buffer.from('0000041727101980', 'hex');

/** BEP 15: connect, then announce; returns action, interval, leechers, seeders and compact peers (or the error text). */
async function udpAnnounce(port: number, o: { infoHash: Buffer; peerId: Buffer; left: number; event: number; peerPort: number; localAddress: string; numwant?: number; ip?: number }) {
  const tid = randomBytes(4);
  const connect = Buffer.concat([PROTOCOL_ID, Buffer.from([0, 0, 0, 0]), tid]);
  const c = await udpExchange(port, o.localAddress, connect);
  assert.equal(c.readUInt32BE(0), 0, 'connect action');
  assert.deepEqual(c.subarray(4, 8), tid, 'transaction id echoed');
  const connectionId = c.subarray(8, 16);
  const a = Buffer.alloc(98);
  connectionId.copy(a, 0);
  a.writeUInt32BE(1, 8);
  tid.copy(a, 12);
  o.infoHash.copy(a, 16);
  o.peerId.copy(a, 36);
  a.writeBigUInt64BE(0n, 56);
  a.writeBigUInt64BE(BigInt(o.left), 64);
  a.writeBigUInt64BE(0n, 72);
  a.writeUInt32BE(o.event, 80);
  a.writeUInt32BE(o.ip ?? 0, 84); // 0: the sender's
  a.writeUInt32BE(0, 88);
  a.writeInt32BE(o.numwant ?? -1, 92); // -1: the default
  a.writeUInt16BE(o.peerPort, 96);
  const r = await udpExchange(port, o.localAddress, a);
  const action = r.readUInt32BE(0);
  if (action === 3) return { action, error: r.subarray(8).toString('utf8'), peers: [] as string[] };
  const peers: string[] = [];
  for (let i = 20; i + 6 <= r.length; i += 6) peers.push(`${r[i]}.${r[i + 1]}.${r[i + 2]}.${r[i + 3]}:${r.readUInt16BE(i + 4)}`);
  return { action, interval: r.readUInt32BE(8), leechers: r.readUInt32BE(12), seeders: r.readUInt32BE(16), peers, error: undefined };
}

before(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  catalog = new ImageCatalog(redis);
  // two replicas sharing one Redis, as behind one Service address
  for (let i = 0; i < 2; i++) {
    const registry = new Registry();
    const tracker = buildTracker({ log: createLogger('tracker-test', 'silent'), lookup: (h) => catalog.nameByInfoHash(h), redis, registry, config: { intervalSeconds: 30 } });
    const bound = await tracker.listen('127.0.0.1', 0, { host: '127.0.0.1', port: 0 });
    assert.ok(bound.udpPort);
    replicas.push({ tracker, udpPort: bound.udpPort, registry });
  }
});

after(async () => {
  for (const r of replicas) await r.tracker.close();
  await redis.quit();
  await redisServer.stop();
});

test('BEP 15 announces on two replicas meet in one Redis swarm', async () => {
  const infoHash = randomBytes(20);
  await catalog.put(imageRecord('udp-img', infoHash));
  const [r0, r1] = replicas;
  assert.ok(r0 && r1);
  const a = await udpAnnounce(r0.udpPort, { infoHash, peerId: randomBytes(20), left: 100, event: 2, peerPort: 52001, localAddress: '127.77.1.11' });
  assert.equal(a.action, 1, a.error);
  assert.equal(a.interval, 30);
  assert.deepEqual(a.peers, [], 'nobody else yet, and never the announcing peer');
  const b = await udpAnnounce(r1.udpPort, { infoHash, peerId: randomBytes(20), left: 0, event: 2, peerPort: 52002, localAddress: '127.77.1.12' });
  assert.equal(b.action, 1, b.error);
  assert.deepEqual(b.peers, ['127.77.1.11:52001'], 'the peer announced to the other replica');
  assert.equal(b.seeders, 1);
  assert.equal(b.leechers, 1);
  const members = await redis.zrange(RedisKeys.trackerPeers(infoHash.toString('hex')), 0, -1);
  assert.deepEqual(members.sort(), ['127.77.1.11:52001', '127.77.1.12:52002']);
  const ttl = await redis.pttl(RedisKeys.trackerPeers(infoHash.toString('hex')));
  assert.ok(ttl > 0 && ttl <= 90_000, `swarm key expires (pttl ${ttl})`);

  // stopped (event 3) removes the peer for every replica
  await udpAnnounce(r1.udpPort, { infoHash, peerId: randomBytes(20), left: 0, event: 3, peerPort: 52002, localAddress: '127.77.1.12' });
  const c = await udpAnnounce(r0.udpPort, { infoHash, peerId: randomBytes(20), left: 10, event: 0, peerPort: 52001, localAddress: '127.77.1.11' });
  assert.deepEqual(c.peers, []);
  assert.equal(c.seeders, 0);
});

test('fuzz regression: an announce with the IP field set (10.9.8.7) joins as its source address, not as ":port"', async () => {
  const infoHash = randomBytes(20);
  await catalog.put(imageRecord('udp-ip-field', infoHash));
  const [r0] = replicas;
  assert.ok(r0);
  const a = await udpAnnounce(r0.udpPort, { infoHash, peerId: randomBytes(20), left: 5, event: 2, peerPort: 52004, localAddress: '127.77.1.14', ip: 0x0a090807 });
  assert.equal(a.action, 1, a.error);
  assert.deepEqual(await redis.zrange(RedisKeys.trackerPeers(infoHash.toString('hex')), 0, -1), ['127.77.1.14:52004']);
});

test('an unregistered infohash over UDP gets a BEP 15 error (action 3), counted like HTTP', async () => {
  const [r0] = replicas;
  assert.ok(r0);
  const res = await udpAnnounce(r0.udpPort, { infoHash: randomBytes(20), peerId: randomBytes(20), left: 1, event: 2, peerPort: 52003, localAddress: '127.77.1.13' });
  assert.equal(res.action, 3);
  assert.equal(res.error, 'unknown infohash');
  const metric = await r0.registry.getSingleMetric('swarmboot_tracker_announces_total')?.get();
  const refused = metric?.values.find((v) => v.labels.transport === 'udp' && v.labels.result === 'unknown_infohash');
  assert.equal(refused?.value, 1);
});

test('more peers than numwant: the same rack (inventory label) first, a few from other racks', async () => {
  const infoHash = randomBytes(20);
  await catalog.put(imageRecord('rack-img', infoHash));
  const [r0] = replicas;
  assert.ok(r0);
  // 60 nodes on one /24, racks a and b by inventory: ip → lease chaddr → node id → labels
  const rackOf = (i: number): string => (i < 20 ? 'a' : 'b');
  for (let i = 0; i < 60; i++) {
    const ip = `127.77.2.${i + 1}`;
    const mac = `02:00:00:00:02:${(i + 1).toString(16).padStart(2, '0')}`;
    await redis.set(RedisKeys.leaseByIp(ip), mac);
    await redis.set(RedisKeys.nodeByMac(mac), `n${i}`);
    await redis.hset(RedisKeys.node(`n${i}`), 'id', `n${i}`, 'labels', JSON.stringify({ rack: rackOf(i) }));
  }
  for (let i = 1; i < 60; i++) {
    const res = await udpAnnounce(r0.udpPort, { infoHash, peerId: randomBytes(20), left: 5, event: 2, peerPort: 53000, localAddress: `127.77.2.${i + 1}` });
    assert.equal(res.action, 1, res.error);
  }
  const res = await udpAnnounce(r0.udpPort, { infoHash, peerId: randomBytes(20), left: 5, event: 2, peerPort: 53000, localAddress: '127.77.2.1', numwant: 30 });
  assert.equal(res.peers.length, 30, 'numwant');
  const inRackA = res.peers.filter((p) => Number(p.split(':')[0]?.split('.')[3]) <= 20).length;
  assert.equal(inRackA, 19, 'every other node of rack a');
  assert.equal(res.peers.length - inRackA, 11, 'the rest from rack b');
});

test('allowed subnets: peers inside announce over UDP and HTTP; outside, datagrams go unanswered and connections are closed', async () => {
  const infoHash = randomBytes(20);
  await catalog.put(imageRecord('allow-img', infoHash));
  const registry = new Registry();
  const tracker = buildTracker({
    log: createLogger('tracker-test', 'silent'),
    lookup: (h) => catalog.nameByInfoHash(h),
    redis,
    registry,
    config: { intervalSeconds: 30, allowed: parseAllowlist('127.77.3.0/24', 'SWARMBOOT_TRACKER_ALLOWED_SUBNETS') },
  });
  const bound = await tracker.listen('127.0.0.1', 0, { host: '127.0.0.1', port: 0 });
  try {
    assert.ok(bound.udpPort);
    const inside = await udpAnnounce(bound.udpPort, { infoHash, peerId: randomBytes(20), left: 5, event: 2, peerPort: 54001, localAddress: '127.77.3.1' });
    assert.equal(inside.action, 1, inside.error);
    await assert.rejects(udpAnnounce(bound.udpPort, { infoHash, peerId: randomBytes(20), left: 5, event: 2, peerPort: 54002, localAddress: '127.77.4.1' }), /no UDP tracker reply/);

    const httpGet = (localAddress: string) =>
      new Promise<number>((resolve, reject) => {
        const q = `info_hash=${escapeBytes(infoHash)}&peer_id=${escapeBytes(randomBytes(20))}&port=54003&left=5&compact=1`;
        get({ host: '127.0.0.1', port: bound.port, path: `/announce?${q}`, localAddress, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject);
      });
    assert.equal(await httpGet('127.77.3.2'), 200);
    await assert.rejects(httpGet('127.77.4.2'), /socket hang up|ECONNRESET/);

    const refused = await registry.getSingleMetric('swarmboot_tracker_refused_total')?.get();
    assert.equal(refused?.values.find((v) => v.labels.transport === 'udp')?.value, 1, 'the connect datagram from outside');
    assert.equal(refused?.values.find((v) => v.labels.transport === 'http')?.value, 1);
    const members = await redis.zrange(RedisKeys.trackerPeers(infoHash.toString('hex')), 0, -1);
    assert.deepEqual(members.sort(), ['127.77.3.1:54001', '127.77.3.2:54003'], 'only the peers inside joined the swarm');
  } finally {
    await tracker.close();
  }
});
