import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import WebTorrent from 'webtorrent';
import type { ImageRecord } from '@swarmboot/contracts';
import { connectNats, createLogger, EventBus, Registry } from '@swarmboot/kit';
import { freePort, waitFor } from '@swarmboot/testkit';
import { buildSeederApp, isSeederPeerId } from '../../src/index.js';
import { diskLike, sha256, startSeederHarness, type SeederHarness } from './harness.js';

// The chart's HA layout (deploy/helm/swarmboot/ci/values-ha.yaml: seeder.replicas 2): seeder
// replicas sharing NATS, Redis and the tracker, each with its own data directory — no shared volume.

const log = createLogger('seeder-replicas-test', (process.env.SB_TEST_LOG as 'debug' | undefined) ?? 'silent');
let h: SeederHarness;

interface Replica {
  app: FastifyInstance;
  base: string;
  port: number;
  dataDir: string;
  registry: Registry;
}
const replicas = new Map<string, Replica>();

/** Starts replica `label` (again: same data directory and port) as `swarmboot seeder` builds it. */
async function startReplica(label: string): Promise<Replica> {
  const known = replicas.get(label);
  const port = known?.port ?? (await freePort());
  const base = `http://127.0.0.1:${port}`;
  const dataDir = known?.dataDir ?? join(h.scratch, label);
  const registry = new Registry();
  // one NATS connection per replica, as each process has its own
  const bus = new EventBus(await connectNats(h.natsUrl, `seeder-${label}`, log), `swarmboot/seeder-${label}`, log);
  const app = buildSeederApp({ log: log.child({ replica: label }), bus, redis: h.redis, registry, config: { dataDir, publicUrl: base, announceUrl: h.announceUrl, uploadLimit: 0, torrentPort: 0 } });
  app.addHook('onClose', async () => bus.nc.drain());
  await app.listen({ host: '127.0.0.1', port });
  const replica = { app, base, port, dataDir, registry };
  replicas.set(label, replica);
  return replica;
}

async function stopReplica(label: string): Promise<void> {
  await replicas.get(label)?.app.close();
}

const image = diskLike(3 * 1024 * 1024 + 777);

async function put(r: Replica, name: string, file: string, body: Buffer): Promise<ImageRecord> {
  const res = await fetch(`${r.base}/v1/images/${name}?file=${file}`, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(res.status, 201);
  return (await res.json()) as ImageRecord;
}

async function torrentFrom(r: Replica, name: string): Promise<Buffer> {
  const res = await fetch(`${r.base}/v1/images/${name}/torrent`);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

/** A web seed Range request (BEP 19) to replica `r`: status, Retry-After, body. */
async function webSeed(r: Replica, record: ImageRecord, range: [number, number]): Promise<{ status: number; retryAfter: string | null; body: Buffer }> {
  const res = await fetch(`${r.base}/v1/images/${record.name}/file/${record.file}`, { headers: { range: `bytes=${range[0]}-${range[1]}` } });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: Buffer.from(await res.arrayBuffer()) };
}

/** Waits until replica `r` serves `record` on its web seed; every answer before is a 503 with Retry-After, never a 404. */
async function servedBy(r: Replica, record: ImageRecord, bytes: Buffer): Promise<void> {
  const range: [number, number] = [bytes.length - 5000, bytes.length - 1];
  const waits: string[] = [];
  const served = await waitFor(
    `the web seed of ${r.base}`,
    async () => {
      const got = await webSeed(r, record, range);
      if (got.status === 503) {
        assert.match(got.retryAfter ?? '', /^[1-9][0-9]*$/, 'a wait says how long');
        waits.push(got.retryAfter ?? '');
        return undefined;
      }
      return got;
    },
    30_000,
    100,
  );
  assert.equal(served.status, 206, `after ${waits.length} waits`);
  assert.ok(served.body.equals(bytes.subarray(range[0], range[1] + 1)));
}

async function fileOf(r: Replica, record: ImageRecord): Promise<Buffer> {
  return readFile(join(r.dataDir, 'images', record.name, record.file));
}

async function metric(r: Replica, line: string): Promise<boolean> {
  return (await r.registry.metrics()).split('\n').includes(line);
}

before(async () => {
  // a short announce interval: a replica waiting without peers hears of a returning one soon
  h = await startSeederHarness('seeder-replicas-test', log, 2);
});

after(async () => {
  for (const label of replicas.keys()) await stopReplica(label);
  await h?.stop();
});

let record: ImageRecord;

test('an image uploaded to one replica is fetched by the other from the swarm, verified, and served by it', { timeout: 60_000 }, async () => {
  const a = await startReplica('a');
  const b = await startReplica('b');
  record = await put(a, 'ubuntu', 'ubuntu.img', image);

  // the .torrent comes from the catalog: the same bytes from either replica, at once
  assert.ok((await torrentFrom(b, 'ubuntu')).equals(await torrentFrom(a, 'ubuntu')));
  await servedBy(b, record, image);
  assert.equal(sha256(await fileOf(b, record)), record.sha256, "b's own copy in its own data directory");
  assert.deepEqual((await readdir(join(b.dataDir, 'incoming'))), [], 'nothing left in staging');
  assert.ok(await metric(b, 'swarmboot_seeder_images_replicated_total{outcome="done"} 1'));
  assert.ok(!(await metric(a, 'swarmboot_seeder_images_replicated_total{outcome="done"} 1')), 'the uploader fetched nothing');
});

test('with the uploading replica gone, the other serves the image over BitTorrent', { timeout: 60_000 }, async () => {
  await stopReplica('a');
  const b = replicas.get('b')!;
  const client = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, secure: 0, torrentPort: 0, webSeeds: false });
  try {
    const dir = await mkdtemp(join(h.scratch, 'node-'));
    const t = client.add(await torrentFrom(b, 'ubuntu'), { path: dir });
    await new Promise<void>((resolve, reject) => {
      t.once('done', resolve);
      t.once('error', reject);
    });
    assert.equal(sha256(await readFile(join(dir, record.file))), record.sha256);
    assert.ok(t.wires.some((w) => w.peerId !== null && isSeederPeerId(w.peerId)), 'the bytes came from a seeder, and b is the only one up');
  } finally {
    await new Promise<void>((resolve) => client.destroy(() => resolve()));
  }
});

test('a replica started after the upload catches up from the swarm at start', { timeout: 60_000 }, async () => {
  const c = await startReplica('c');
  await servedBy(c, record, image);
  assert.equal(sha256(await fileOf(c, record)), record.sha256);
});

test('while no replica holding an image is up, a new one answers 503 with Retry-After (and the .torrent), then fetches it once one returns', { timeout: 60_000 }, async () => {
  await stopReplica('b');
  await stopReplica('c');
  const d = await startReplica('d');
  assert.ok((await torrentFrom(d, 'ubuntu')).length > 0, 'the .torrent does not wait for the bytes');
  const waiting = await webSeed(d, record, [0, 99]);
  assert.equal(waiting.status, 503);
  assert.match(waiting.retryAfter ?? '', /^[1-9][0-9]*$/);
  assert.equal((JSON.parse(waiting.body.toString('utf8')) as { code: string }).code, 'IMAGE_NOT_READY');

  // b restarts: it re-seeds its copy from disk, and d fetches the image from it
  await startReplica('b');
  await servedBy(d, record, image);
  assert.equal(sha256(await fileOf(d, record)), record.sha256);
});

test('a new version uploaded to one replica replaces the old one on the others', { timeout: 60_000 }, async () => {
  const b = replicas.get('b')!;
  const d = replicas.get('d')!;
  const next = diskLike(1024 * 1024 + 3);
  const replaced = await put(d, 'ubuntu', 'ubuntu.img', next);
  assert.notEqual(replaced.infoHash, record.infoHash);
  // the same URL: b never serves the old bytes for it once the catalog names the new version
  await servedBy(b, replaced, next);
  assert.equal(sha256(await fileOf(b, replaced)), replaced.sha256);
  assert.ok(await metric(b, 'swarmboot_seeder_images_replicated_total{outcome="done"} 1'), 'b fetched the new version (its first copy came from its data directory)');
});
