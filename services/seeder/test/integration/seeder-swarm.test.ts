import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import WebTorrent, { type Torrent, type WebTorrentOptions } from 'webtorrent';
import parseTorrent from 'parse-torrent';
import { Events, type ImageAdded, type ImageRecord } from '@swarmboot/contracts';
import { createLogger, type EventBus, type ImageCatalog, Registry } from '@swarmboot/kit';
import { freePort, waitFor } from '@swarmboot/testkit';
import { buildSeederApp, isSeederPeerId, pieceLengthFor } from '../../src/index.js';
import { diskLike, sha256, startSeederHarness, type SeederHarness } from './harness.js';

const log = createLogger('seeder-test', (process.env.SB_TEST_LOG as 'debug' | undefined) ?? 'silent');
let h: SeederHarness;
let bus: EventBus;
let catalog: ImageCatalog;
let announceUrl: string;
let app: FastifyInstance;
let port: number;
let base: string;
let dataDir: string;
let scratch: string;
const events: ImageAdded[] = [];
let unsubscribe: () => void;

const image = diskLike(2 * 1024 * 1024 + 12_345); // ~2 MB, not a whole number of pieces

async function startSeeder(): Promise<void> {
  app = buildSeederApp({
    log,
    bus,
    redis: h.redis,
    registry: new Registry(),
    config: { dataDir, publicUrl: base, announceUrl, uploadLimit: 0, torrentPort: 0 },
  });
  await app.listen({ host: '127.0.0.1', port });
}

async function restartSeeder(): Promise<void> {
  await app.close();
  await startSeeder();
}

function put(name: string, file: string, body: Buffer, query = ''): Promise<Response> {
  return fetch(`${base}/v1/images/${name}?file=${file}${query}`, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
}

/** A webtorrent client as the agents will run it inside a cluster. */
function clusterClient(extra: WebTorrentOptions): WebTorrent {
  return new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, secure: 0, torrentPort: 0, ...extra });
}

/** Downloads a torrent into a fresh directory; the bytes and the torrent (client still alive). */
async function download(client: WebTorrent, torrent: Buffer): Promise<{ bytes: Buffer; t: Torrent }> {
  const dir = await mkdtemp(join(scratch, 'dl-'));
  const t = client.add(torrent, { path: dir });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`download not done after 30 s (progress ${t.progress})`)), 30_000);
    t.once('done', () => {
      clearTimeout(timer);
      resolve();
    });
    t.once('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return { bytes: await readFile(join(dir, t.name)), t };
}

function destroy(client: WebTorrent): Promise<void> {
  return new Promise((resolve) => client.destroy(() => resolve()));
}

async function torrentOf(name: string): Promise<Buffer> {
  const res = await fetch(`${base}/v1/images/${name}/torrent`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/x-bittorrent');
  return Buffer.from(await res.arrayBuffer());
}

before(async () => {
  h = await startSeederHarness('seeder-test', log, 30);
  ({ bus, catalog, announceUrl, scratch } = h);
  unsubscribe = bus.subscribe(Events.imageAdded, (data) => events.push(data));
  dataDir = join(scratch, 'data');
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  await startSeeder();
});

after(async () => {
  unsubscribe?.();
  await app?.close();
  await h?.stop();
});

let record: ImageRecord;

test('PUT stores the image: 201 with its sha256, a catalog record, an imageAdded event', async () => {
  const res = await put('ubuntu', 'ubuntu.img', image);
  assert.equal(res.status, 201);
  record = (await res.json()) as ImageRecord;
  assert.equal(record.sha256, sha256(image));
  assert.equal(record.size, image.length);
  assert.equal(record.pieceLength, pieceLengthFor(image.length));
  assert.match(record.infoHash, /^[0-9a-f]{40}$/);
  assert.equal(record.webSeedUrl, `${base}/v1/images/ubuntu/file/ubuntu.img`);
  assert.equal(record.torrentUrl, `${base}/v1/images/ubuntu/torrent`);
  assert.deepEqual([record.format, record.bootable], ['raw-disk', false], 'format read from the bytes; not bootable unless said');

  assert.deepEqual(await catalog.get('ubuntu'), record);
  assert.equal(await catalog.nameByInfoHash(record.infoHash), 'ubuntu');
  const event = await waitFor('imageAdded event', () => events.find((e) => e.name === 'ubuntu'));
  assert.equal(event.infoHash, record.infoHash);
  assert.equal(event.sha256, sha256(image));

  const files = (await readdir(join(dataDir, 'images', 'ubuntu'))).sort();
  assert.deepEqual(files, ['.seed-state.json', 'ubuntu.img', 'ubuntu.img.torrent']);
  assert.ok((await readFile(join(dataDir, 'images', 'ubuntu', 'ubuntu.img'))).equals(image));
});

test('the same bytes and file name under another image name: 409 IMAGE_DUPLICATE naming the image; nothing stored', async () => {
  const res = await put('ubuntu-copy', 'ubuntu.img', image);
  const body = (await res.json()) as { code: string; message: string };
  assert.deepEqual([res.status, body.code], [409, 'IMAGE_DUPLICATE']);
  assert.match(body.message, /already image ubuntu /);
  assert.equal(await catalog.get('ubuntu-copy'), undefined);
  assert.equal(await catalog.nameByInfoHash(record.infoHash), 'ubuntu', 'the first image keeps its swarm');
  await assert.rejects(readdir(join(dataDir, 'images', 'ubuntu-copy')), { code: 'ENOENT' });
});

test('GET lists and returns records; the .torrent names the tracker and the web seed', async () => {
  const list = (await (await fetch(`${base}/v1/images`)).json()) as { images: ImageRecord[] };
  assert.deepEqual(list.images.map((i) => i.name), ['ubuntu']);
  assert.deepEqual(await (await fetch(`${base}/v1/images/ubuntu`)).json(), record);

  const parsed = await parseTorrent(await torrentOf('ubuntu'));
  assert.equal(parsed.infoHash, record.infoHash);
  assert.equal(parsed.name, 'ubuntu.img');
  assert.equal(parsed.length, image.length);
  assert.equal(parsed.pieceLength, record.pieceLength);
  assert.deepEqual(parsed.announce, [announceUrl]);
  assert.deepEqual(parsed.urlList, [record.webSeedUrl]);

  const missing = await fetch(`${base}/v1/images/nope`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { code: string }).code, 'IMAGE_NOT_FOUND');
});

test('a webtorrent peer downloads the image from the seeder via the tracker (web seeds off)', async () => {
  const client = clusterClient({ webSeeds: false });
  try {
    const { bytes, t } = await download(client, await torrentOf('ubuntu'));
    assert.equal(sha256(bytes), record.sha256);
    const seederWires = t.wires.filter((w) => w.peerId !== null && isSeederPeerId(w.peerId));
    assert.equal(seederWires.length, 1, 'connected to the seeder, found through the tracker');
    assert.ok((seederWires[0]?.downloaded ?? 0) >= image.length, 'every byte came from the seeder');
  } finally {
    await destroy(client);
  }
});

test('a webtorrent peer without a tracker downloads the image from the web seed alone (BEP 19)', async () => {
  const client = clusterClient({ tracker: false, webSeeds: true });
  try {
    const { bytes, t } = await download(client, await torrentOf('ubuntu'));
    assert.equal(sha256(bytes), record.sha256);
    assert.ok(t.wires.every((w) => w.type === 'webSeed'), 'no BitTorrent peer involved');
  } finally {
    await destroy(client);
  }
});

test('the web seed answers Range requests with the right bytes (206), and 416 beyond the end', async () => {
  const mid = await fetch(record.webSeedUrl, { headers: { range: 'bytes=1000-1999' } });
  assert.equal(mid.status, 206);
  assert.equal(mid.headers.get('content-range'), `bytes 1000-1999/${image.length}`);
  assert.ok(Buffer.from(await mid.arrayBuffer()).equals(image.subarray(1000, 2000)));

  const tail = await fetch(record.webSeedUrl, { headers: { range: 'bytes=-100' } });
  assert.equal(tail.status, 206);
  assert.ok(Buffer.from(await tail.arrayBuffer()).equals(image.subarray(image.length - 100)));

  const beyond = await fetch(record.webSeedUrl, { headers: { range: `bytes=${image.length}-` } });
  assert.equal(beyond.status, 416);
  await beyond.arrayBuffer();

  const whole = await fetch(record.webSeedUrl);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('accept-ranges'), 'bytes');
  assert.equal(sha256(Buffer.from(await whole.arrayBuffer())), record.sha256);

  const otherFile = await fetch(`${base}/v1/images/ubuntu/file/ubuntu.img.torrent`);
  assert.equal(otherFile.status, 404, 'only the image file itself is served');
  await otherFile.arrayBuffer();
});

test('bad requests get 4xx with a code', async () => {
  const bad = await app.inject({ method: 'PUT', url: '/v1/images/bad%20name?file=x.img', payload: Buffer.from('x'), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json<{ code: string }>().code, 'IMAGE_NAME_INVALID');
  assert.equal(typeof bad.json<{ message: string }>().message, 'string');

  const dotted = await app.inject({ method: 'PUT', url: '/v1/images/.hidden?file=x.img', payload: Buffer.from('x'), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(dotted.json<{ code: string }>().code, 'IMAGE_NAME_INVALID');

  const noFile = await app.inject({ method: 'PUT', url: '/v1/images/good', payload: Buffer.from('x'), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(noFile.statusCode, 400);
  assert.equal(noFile.json<{ code: string }>().code, 'IMAGE_FILE_INVALID');

  const traversal = await app.inject({ method: 'PUT', url: '/v1/images/good?file=..%2Fescape', payload: Buffer.from('x'), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(traversal.json<{ code: string }>().code, 'IMAGE_FILE_INVALID');

  const empty = await app.inject({ method: 'PUT', url: '/v1/images/good?file=x.img', payload: Buffer.alloc(0), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(empty.statusCode, 400);
  assert.equal(empty.json<{ code: string }>().code, 'IMAGE_EMPTY');

  const json = await app.inject({ method: 'PUT', url: '/v1/images/good?file=x.img', payload: { a: 1 } });
  assert.equal(json.statusCode, 415);
  assert.equal(json.json<{ code: string }>().code, 'UNSUPPORTED_MEDIA_TYPE');
  assert.match(json.json<{ message: string }>().message, /application\/octet-stream/);

  // the query schema refuses an unknown format: the one request-validation code of every API
  const badFormat = await app.inject({ method: 'PUT', url: '/v1/images/good?file=x.img&format=floppy', payload: Buffer.from('x'), headers: { 'content-type': 'application/octet-stream' } });
  assert.deepEqual([badFormat.statusCode, badFormat.json<{ code: string }>().code], [400, 'VALIDATION']);

  const noRoute = await app.inject({ method: 'DELETE', url: '/v1/images/good' });
  assert.deepEqual([noRoute.statusCode, noRoute.json<{ code: string }>().code], [404, 'NOT_FOUND']);

  assert.equal(await catalog.get('good'), undefined, 'nothing was registered');
  assert.deepEqual(await readdir(join(dataDir, 'incoming')), [], 'no upload left behind');
});

test('a restart re-seeds the catalogued image from the data directory', async () => {
  await restartSeeder();
  const client = clusterClient({ webSeeds: false });
  try {
    const { bytes } = await download(client, await torrentOf('ubuntu'));
    assert.equal(sha256(bytes), record.sha256);
  } finally {
    await destroy(client);
  }
});

test('on restart a file is hashed only when its size or mtime changed', async () => {
  const file = join(dataDir, 'images', 'ubuntu', 'ubuntu.img');
  const T = 1_700_000_000; // whole seconds: mtime survives utimes exactly

  // mtime changed, bytes intact: hashed, found complete, seeded
  const webSeedStatus = async (): Promise<number> => {
    const res = await fetch(record.webSeedUrl, { headers: { range: 'bytes=100-199' } });
    await res.arrayBuffer();
    return res.status;
  };
  await utimes(file, T, T);
  await restartSeeder();
  assert.equal(await webSeedStatus(), 206);

  // a byte changed behind the seeder's back with size and mtime restored: trusted without hashing
  const fh = await open(file, 'r+');
  await fh.write(Buffer.from([image[0]! ^ 0xff]), 0, 1, 0);
  await fh.close();
  await utimes(file, T, T);
  await restartSeeder();
  assert.equal(await webSeedStatus(), 206, 'seeded: unchanged size and mtime mean no re-hash');

  // the mtime moves: hashed, piece 0 fails, not seeded
  await utimes(file, T + 10, T + 10);
  await restartSeeder();
  const res = await fetch(record.webSeedUrl, { headers: { range: 'bytes=100-199' } });
  assert.equal(res.status, 503, 'a file that no longer matches its torrent is not served: the replica fetches the image from the swarm (no peer has it here)');
  assert.match(res.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
  assert.equal(((await res.json()) as { code: string }).code, 'IMAGE_NOT_READY');
});

test('re-adding a name replaces the image: new infohash, old one unregistered, old files gone', async () => {
  const next = diskLike(300_000);
  const mismatch = await put('ubuntu', 'ubuntu-v2.img', next, '&format=rootfs-tar');
  assert.equal(mismatch.status, 400);
  assert.equal(((await mismatch.json()) as { code: string }).code, 'IMAGE_FORMAT_MISMATCH');
  const res = await put('ubuntu', 'ubuntu-v2.img', next, '&format=raw-disk&bootable=true');
  assert.equal(res.status, 201);
  const replaced = (await res.json()) as ImageRecord;
  assert.notEqual(replaced.infoHash, record.infoHash);
  assert.equal(replaced.sha256, sha256(next));
  assert.equal(replaced.bootable, true);
  assert.equal(await catalog.nameByInfoHash(replaced.infoHash), 'ubuntu');
  assert.equal(await catalog.nameByInfoHash(record.infoHash), undefined, 'the tracker no longer admits the old swarm');
  assert.deepEqual((await readdir(join(dataDir, 'images', 'ubuntu'))).sort(), ['.seed-state.json', 'ubuntu-v2.img', 'ubuntu-v2.img.torrent']);

  const old = await fetch(record.webSeedUrl);
  assert.equal(old.status, 404);
  await old.arrayBuffer();
  const range = await fetch(replaced.webSeedUrl, { headers: { range: 'bytes=10-19' } });
  assert.equal(range.status, 206);
  assert.ok(Buffer.from(await range.arrayBuffer()).equals(next.subarray(10, 20)));
  await waitFor('second imageAdded event', () => events.find((e) => e.infoHash === replaced.infoHash));
});
