import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageRecord } from '@swarmboot/contracts';
import { createLogger } from '@swarmboot/kit';
import { freePort } from '@swarmboot/testkit';
import { joinSwarm } from '../../src/swarm.js';
import { nodeBinaryBytes, startSwarmStack, type SwarmStack } from './swarm-stack.js';

// Other BitTorrent implementations against swarmboot's tracker and seeder (loopback), and the
// agent against a swarm seeded by aria2 alone.
const SIZE = 12 * 1024 * 1024;
const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const skipAria2 = have('aria2c') ? false : 'aria2c is not installed (scripts/install-deps.sh: aria2)';
const skipTransmission = have('transmission-cli') ? false : 'transmission-cli is not installed (scripts/install-deps.sh: transmission-cli)';

const log = createLogger('swarm-interop-test', (process.env.SB_TEST_LOG as 'debug' | undefined) ?? 'silent');
let stack: SwarmStack;
let record: ImageRecord;
let torrentPath: string;
let fullTorrentPath: string;
const children: ChildProcess[] = [];

/** Bytes the seeder uploaded over BitTorrent (its /metrics gauge), to tell BitTorrent from the web seed. */
async function seederUploaded(): Promise<number> {
  const m = await stack.seederRegistry.getSingleMetric('swarmboot_seeder_swarm')?.get();
  return m?.values.find((v) => v.labels.what === 'uploaded_bytes')?.value ?? 0;
}

/** Drops the top-level `url-list` (a bencoded string or list of strings) from a .torrent; the infohash (of `info`) is unchanged. */
function withoutUrlList(torrent: Buffer): Buffer {
  const key = Buffer.from('8:url-list');
  const at = torrent.indexOf(key);
  if (at < 0) return torrent;
  const skipString = (i: number): number => {
    const colon = torrent.indexOf(0x3a, i);
    const len = Number(torrent.subarray(i, colon).toString('ascii'));
    assert.ok(Number.isInteger(len), 'a bencoded string');
    return colon + 1 + len;
  };
  let end = at + key.length;
  if (torrent[end] === 0x6c) {
    end++; // 'l'
    while (torrent[end] !== 0x65) end = skipString(end);
    end++; // 'e'
  } else end = skipString(end);
  return Buffer.concat([torrent.subarray(0, at), torrent.subarray(end)]);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Starts a client; resolves when `isDone()` holds (polled), rejects on exit or after `ms`. */
async function runUntil(cmd: string, args: string[], isDone: () => Promise<boolean>, ms: number): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-4000)));
  child.stderr?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-4000)));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${cmd} exited (${code}) before done:\n${out}`))));
  exited.catch(() => undefined);
  const deadline = Date.now() + ms;
  while (!(await isDone())) {
    if (Date.now() > deadline) throw new Error(`${cmd} not done after ${ms} ms:\n${out}`);
    await Promise.race([new Promise((r) => setTimeout(r, 250)), exited]);
  }
  return child;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function fileHash(path: string): Promise<string | undefined> {
  try {
    const b = await readFile(path);
    return b.length === SIZE ? sha256(b) : undefined;
  } catch {
    return undefined;
  }
}

before(async () => {
  const image = await nodeBinaryBytes(SIZE, 8 * 1024 * 1024);
  stack = await startSwarmStack('swarm-interop', log, 0);
  const res = await fetch(`${stack.seederUrl}/v1/images/interop?file=interop.img&format=raw-disk`, { method: 'PUT', body: image, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(res.status, 201);
  record = (await res.json()) as ImageRecord;
  torrentPath = join(stack.scratch, 'interop.torrent');
  const torrent = Buffer.from(await (await fetch(record.torrentUrl)).arrayBuffer());
  // without the BEP 19 url-list, so aria2c must speak BitTorrent to the seeder
  await writeFile(torrentPath, withoutUrlList(torrent));
  fullTorrentPath = join(stack.scratch, 'interop-webseed.torrent');
  await writeFile(fullTorrentPath, torrent);
});

after(async () => {
  await Promise.all(children.map(stopChild));
  await stack?.stop();
});

const ARIA2_LAN = ['--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--check-certificate=false', '--summary-interval=0', '--console-log-level=warn'];

test('aria2c downloads the image from swarmboot tracker + seeder: identical bytes', { skip: skipAria2, timeout: 120_000 }, async () => {
  const dir = join(stack.scratch, 'aria2');
  const child = await runUntil(
    'aria2c',
    [...ARIA2_LAN, `--dir=${dir}`, `--listen-port=${await freePort()}`, '--seed-time=0', '--follow-torrent=mem', torrentPath],
    // the file is preallocated: its hash matches once every piece is written
    async () => (await fileHash(join(dir, record.file))) === record.sha256,
    100_000,
  );
  await stopChild(child);
  assert.ok((await seederUploaded()) >= SIZE, 'the seeder sent the image over BitTorrent');
});

async function acceptedAnnounces(): Promise<number> {
  const m = await stack.trackerRegistry.getSingleMetric('swarmboot_tracker_announces_total')?.get();
  return (m?.values ?? []).filter((v) => v.labels.result === 'accepted').reduce((n, v) => n + v.value, 0);
}

// Transmission 3.00 drops tracker peers in 127.0.0.0/8 (libtransmission net.c isMartianAddr), so on
// loopback it cannot reach the seeder's peer wire: it announces to our tracker and takes the bytes
// from the BEP 19 web seed of the .torrent. (Its peer wire against ours needs non-loopback
// addresses: bench/swarm's namespaces.)
test('transmission-cli announces to the tracker and downloads through the web seed: identical bytes', { skip: skipTransmission, timeout: 120_000 }, async () => {
  const dir = join(stack.scratch, 'transmission');
  const config = join(stack.scratch, 'transmission-config');
  await mkdir(config, { recursive: true });
  // LAN settings: no DHT, LPD, PEX, uTP, port mapping
  const announcesBefore = await acceptedAnnounces();
  await writeFile(join(config, 'settings.json'), JSON.stringify({ 'dht-enabled': false, 'lpd-enabled': false, 'pex-enabled': false, 'utp-enabled': false, 'port-forwarding-enabled': false, 'encryption': 0 }));
  let seeding = false;
  const child = await runUntil(
    'transmission-cli',
    ['-g', config, '-w', dir, '-p', String(await freePort()), '-et', '-M', '-D', '-U', fullTorrentPath],
    async () => {
      seeding ||= (await fileHash(join(dir, record.file))) === record.sha256;
      return seeding;
    },
    100_000,
  );
  await stopChild(child);
  assert.ok((await acceptedAnnounces()) > announcesBefore, 'transmission announced to the tracker');
});

test('a swarmboot agent completes from a swarm seeded only by aria2c', { skip: skipAria2, timeout: 150_000 }, async () => {
  // the swarmboot seeder leaves (a `stopped` announce takes it off the tracker)
  await stack.closeSeeder();
  const seedDir = join(stack.scratch, 'seeder', 'images', 'interop');
  const port = await freePort();
  const aria = spawn('aria2c', [...ARIA2_LAN, `--dir=${seedDir}`, `--listen-port=${port}`, '--seed-ratio=0', '-V', '--bt-seed-unverified', torrentPath], { stdio: 'ignore' });
  children.push(aria);
  const dir = join(stack.scratch, 'agent');
  const dl = joinSwarm({ torrent: await readFile(torrentPath), dir, log });
  try {
    let timer: NodeJS.Timeout | undefined;
    const stats = await Promise.race([
      dl.done,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('agent not done after 120 s from an aria2c-only swarm')), 120_000))),
    ]).finally(() => clearTimeout(timer));
    assert.equal(await fileHash(join(dir, record.file)), record.sha256);
    assert.equal(stats.bytesFromSeeder, 0, 'the swarmboot seeder had left');
    assert.ok(stats.bytesFromPeers >= SIZE, `every byte came from aria2c (${stats.bytesFromPeers})`);
  } finally {
    await dl.stop();
    await stopChild(aria);
  }
});
