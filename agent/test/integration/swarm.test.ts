import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ImageRecord, TransferStats } from '@swarmboot/contracts';
import { connectNats, connectRedis, createLogger, EventBus, ImageCatalog, Registry } from '@swarmboot/kit';
import { freePort, startNats, startRedis, type Started } from '@swarmboot/testkit';
import { buildTracker, type Tracker } from '@swarmboot/tracker';
import { buildSeederApp } from '@swarmboot/seeder';
import { joinSwarm, type SwarmDownload } from '../../src/swarm.js';

// A small swarm as in a rack: a seeder capped at 4 MB/s, the tracker, 4 agents joining at once.
// 4 × 20 MB from the seeder alone would take 20 s; peers must carry part of it. Measured here:
// 5.8–7.2 s with super-seeding (seeder sent 1.0 copy), 15 s without (2.8 copies).
const NODES = 4;
const SIZE = 20 * 1024 * 1024;
const SEEDER_LIMIT = 4 * 1024 * 1024;

const log = createLogger('swarm-test', (process.env.SB_TEST_LOG as 'debug' | undefined) ?? 'silent');
let natsServer: Started;
let redisServer: Started;
let nc: NatsConnection;
let redis: Redis;
let tracker: Tracker;
let seeder: FastifyInstance;
let scratch: string;
let base: string;
let image: Buffer;

before(async () => {
  // real bytes (compressible and not, as an OS image): the start of the node binary running us
  const fh = await open(process.execPath, 'r');
  image = Buffer.alloc(SIZE);
  const { bytesRead } = await fh.read(image, 0, SIZE, 0);
  await fh.close();
  assert.equal(bytesRead, SIZE, 'the node binary holds 20 MB');
  [natsServer, redisServer] = await Promise.all([startNats(), startRedis()]);
  nc = await connectNats(natsServer.url, 'swarm-test', log);
  redis = await connectRedis(redisServer.url, log);
  const catalog = new ImageCatalog(redis);
  tracker = buildTracker({ log, lookup: (h) => catalog.nameByInfoHash(h), redis, registry: new Registry(), config: { intervalSeconds: 30, admissionTtlMs: 0 } });
  const announceUrl = `http://127.0.0.1:${(await tracker.listen('127.0.0.1', 0)).port}/announce`;
  scratch = await mkdtemp(join(tmpdir(), 'sb-swarm-test-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  seeder = buildSeederApp({
    log,
    bus: new EventBus(nc, 'swarmboot/swarm-test', log),
    redis,
    registry: new Registry(),
    config: { dataDir: join(scratch, 'seeder'), publicUrl: base, announceUrl, uploadLimit: SEEDER_LIMIT, torrentPort: 0 },
  });
  await seeder.listen({ host: '127.0.0.1', port });
});

after(async () => {
  await seeder?.close();
  await tracker?.close();
  await nc?.drain();
  await redis?.quit();
  await Promise.all([natsServer?.stop(), redisServer?.stop()]);
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test(`${NODES} agents join one swarm: every byte identical, peers carry part of the load`, { timeout: 150_000 }, async () => {
  const res = await fetch(`${base}/v1/images/node-bin?file=node.img`, { method: 'PUT', body: image, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(res.status, 201);
  const record = (await res.json()) as ImageRecord;
  const torrent = Buffer.from(await (await fetch(record.torrentUrl)).arrayBuffer());

  const dirs = await Promise.all(Array.from({ length: NODES }, (_, i) => mkdtemp(join(scratch, `node${i}-`))));
  const started = Date.now();
  // no web seed: the bytes must come over BitTorrent (seeder + peers)
  const downloads: SwarmDownload[] = dirs.map((dir, i) => joinSwarm({ torrent, dir, log: log.child({ node: i }) }));
  let stats: TransferStats[];
  try {
    stats = await Promise.all(downloads.map((d) => d.done));
    const makespanMs = Date.now() - started;
    for (const dir of dirs) {
      const got = await readFile(join(dir, record.file));
      assert.equal(got.length, SIZE);
      assert.equal(createHash('sha256').update(got).digest('hex'), record.sha256, `${dir}: the image's sha256`);
    }
    const fromSeeder = stats.reduce((n, s) => n + s.bytesFromSeeder, 0);
    const fromPeers = stats.reduce((n, s) => n + s.bytesFromPeers, 0);
    const uploaded = downloads.reduce((n, d) => n + d.uploaded(), 0);
    log.info({ makespanMs, fromSeeder, fromPeers, uploaded }, 'swarm done');
    assert.equal(stats.reduce((n, s) => n + s.bytesFromWebSeed, 0), 0, 'no web seed was given');
    assert.ok(fromSeeder + fromPeers >= NODES * SIZE, `every node got the whole image (${fromSeeder} + ${fromPeers})`);
    assert.ok(fromPeers > SIZE / 2, `peers contributed (${fromPeers} bytes from peers, ${fromSeeder} from the seeder)`);
    assert.ok(uploaded > SIZE / 2, `the agents uploaded to each other (${uploaded} bytes)`);
    // super-seeding (BEP 16): the seeder's upload goes to distinct pieces, about one copy in all
    assert.ok(fromSeeder <= 1.5 * SIZE, `the seeder sent ${(fromSeeder / SIZE).toFixed(2)} copies of the image, not one per node`);
  } finally {
    await Promise.all(downloads.map((d) => d.stop()));
  }
});
