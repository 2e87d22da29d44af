import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { randomBytes } from 'node:crypto';
import bencode from 'bencode';
import { Redis } from 'ioredis';
import { startRedis, type Started } from '@swarmboot/testkit';
import { createLogger, ImageCatalog, Registry } from '@swarmboot/kit';
import { buildTracker, type Tracker } from '../../src/index.js';
import { imageRecord } from './image-record.js';
import { escapeBytes } from './bep3.js';

let redisServer: Started;
let redis: Redis;
let catalog: ImageCatalog;
let tracker: Tracker;
let port: number;
const registry = new Registry();



/** A raw BEP 3 HTTP announce from `localAddress` (a 127.77.0.0/16 "node"); the bdecoded reply. */
function announce(opts: { infoHash: Buffer; peerId: Buffer; peerPort: number; left: number; event?: string; localAddress: string }): Promise<Record<string, unknown>> {
  const q = `info_hash=${escapeBytes(opts.infoHash)}&peer_id=${escapeBytes(opts.peerId)}&port=${opts.peerPort}&uploaded=0&downloaded=0&left=${opts.left}&compact=1${opts.event ? `&event=${opts.event}` : ''}`;
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: `/announce?${q}`, localAddress: opts.localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(bencode.decode(Buffer.concat(chunks)) as Record<string, unknown>);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    req.on('error', reject);
  });
}

const text = (v: unknown): string => Buffer.from(v as Uint8Array).toString('utf8');

/** BEP 23 compact peers: 6 bytes each (IPv4, port big-endian). */
function compactPeers(v: unknown): string[] {
  const b = Buffer.from(v as Uint8Array);
  const out: string[] = [];
  for (let i = 0; i + 6 <= b.length; i += 6) out.push(`${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}:${b.readUInt16BE(i + 4)}`);
  return out;
}

async function announceCount(result: string): Promise<number> {
  const metric = await registry.getSingleMetric('swarmboot_tracker_announces_total')?.get();
  return (metric?.values ?? []).filter((v) => v.labels.result === result).reduce((n, v) => n + v.value, 0);
}

before(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  catalog = new ImageCatalog(redis);
  tracker = buildTracker({
    log: createLogger('tracker-test', 'silent'),
    lookup: (h) => catalog.nameByInfoHash(h),
    redis,
    registry,
    config: { intervalSeconds: 30 },
  });
  port = (await tracker.listen('127.0.0.1', 0)).port;
});

after(async () => {
  await tracker.close();
  await redis.quit();
  await redisServer.stop();
});

test('peers announcing a registered infohash get each other back (compact, BEP 23)', async () => {
  const infoHash = randomBytes(20);
  await catalog.put(imageRecord('ubuntu', infoHash));

  const a = await announce({ infoHash, peerId: randomBytes(20), peerPort: 51001, left: 1000, event: 'started', localAddress: '127.77.0.11' });
  assert.equal(a['failure reason'], undefined);
  assert.equal(a.interval, 30);
  // bittorrent-tracker@11 lists the announcing peer itself too (HTTP/UDP); clients drop a
  // connection to their own peer id. Only the others matter here.
  const others = (v: unknown, self: string): string[] => compactPeers(v).filter((p) => p !== self);
  assert.deepEqual(others(a.peers, '127.77.0.11:51001'), [], 'the first peer has nobody to meet');

  const b = await announce({ infoHash, peerId: randomBytes(20), peerPort: 51002, left: 0, event: 'started', localAddress: '127.77.0.12' });
  assert.equal(b['failure reason'], undefined);
  assert.deepEqual(others(b.peers, '127.77.0.12:51002'), ['127.77.0.11:51001'], 'the address the tracker saw the peer at');
  assert.equal(b.complete, 1);
  assert.equal(b.incomplete, 1);

  const a2 = await announce({ infoHash, peerId: randomBytes(20), peerPort: 51001, left: 500, localAddress: '127.77.0.11' });
  assert.deepEqual(others(a2.peers, '127.77.0.11:51001'), ['127.77.0.12:51002']);
  assert.equal(await announceCount('accepted'), 3);
});

test('an unregistered infohash gets the failure reason "unknown infohash", until it is registered', async () => {
  const infoHash = randomBytes(20);
  const refused = await announce({ infoHash, peerId: randomBytes(20), peerPort: 51003, left: 10, event: 'started', localAddress: '127.77.0.13' });
  assert.equal(text(refused['failure reason']), 'unknown infohash');
  assert.equal(refused.peers, undefined);
  assert.equal(await announceCount('unknown_infohash'), 1);

  // the refusal is not cached: a registration is honoured on the next announce
  await catalog.put(imageRecord('debian', infoHash));
  const accepted = await announce({ infoHash, peerId: randomBytes(20), peerPort: 51003, left: 10, event: 'started', localAddress: '127.77.0.13' });
  assert.equal(accepted['failure reason'], undefined);
  assert.equal(accepted.incomplete, 1);
});

test('a malformed announce is refused and counted, and the tracker keeps serving', async () => {
  const bad = await announce({ infoHash: randomBytes(19), peerId: randomBytes(20), peerPort: 51004, left: 10, localAddress: '127.77.0.14' });
  assert.match(text(bad['failure reason']), /info_hash/);
  const metric = await registry.getSingleMetric('swarmboot_tracker_requests_malformed_total')?.get();
  assert.equal(metric?.values[0]?.value, 1);

  const infoHash = randomBytes(20);
  await catalog.put(imageRecord('fedora', infoHash));
  const ok = await announce({ infoHash, peerId: randomBytes(20), peerPort: 51005, left: 0, event: 'started', localAddress: '127.77.0.15' });
  assert.equal(ok['failure reason'], undefined);

  // an unknown event is refused by the swarm; the metric label stays bounded
  const odd = await announce({ infoHash, peerId: randomBytes(20), peerPort: 51006, left: 0, event: 'x'.repeat(40), localAddress: '127.77.0.16' });
  assert.equal(text(odd['failure reason']), 'invalid event');
  const announces = await registry.getSingleMetric('swarmboot_tracker_announces_total')?.get();
  assert.deepEqual([...new Set(announces?.values.map((v) => v.labels.event))].sort(), ['invalid', 'started', 'update']);
  const malformedAfter = await registry.getSingleMetric('swarmboot_tracker_requests_malformed_total')?.get();
  assert.equal(malformedAfter?.values[0]?.value, 2);
});

test('the peer gauge counts seeding and leeching peers over all swarms', async () => {
  const metric = await registry.getSingleMetric('swarmboot_tracker_peers')?.get();
  const byState = Object.fromEntries((metric?.values ?? []).map((v) => [v.labels.state, v.value]));
  // ubuntu: a (leeching) + b (seeding); debian: one leecher; fedora: one seeder
  assert.deepEqual(byState, { seeding: 2, leeching: 2 });
});
