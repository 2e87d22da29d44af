import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageRecord, TransferStats } from '@swarmboot/contracts';
import { createLogger } from '@swarmboot/kit';
import { agentEntry, REPO, run } from './bootenv-build.js';
import { nodeBinaryBytes, startSwarmStack, type SwarmStack } from './swarm-stack.js';

// The esbuild bundle of the install environment (agent/bootenv/bundle.mjs) run from a directory
// without node_modules, as on the node: the agent loads, and webtorrent@3 with its natives
// stubbed (WebRTC, uTP) moves a file between two bundled processes over the BitTorrent wire.

const SIZE = 4 * 1024 * 1024;
const log = createLogger('bootenv-bundle-test', (process.env.SB_TEST_LOG as 'debug' | undefined) ?? 'silent');
let stack: SwarmStack;
let dir: string;
const peers: ChildProcess[] = [];

async function bundle(entry: string, out: string, wrap: boolean): Promise<void> {
  await run('node', [join(REPO, 'agent/bootenv/bundle.mjs'), entry, out, ...(wrap ? [] : ['--no-wrap'])]);
}

/** Starts a bundled peer; resolves with its stats once it has every piece (it keeps seeding). */
function startPeer(peerBundle: string, torrentFile: string, into: string): Promise<TransferStats> {
  const child = spawn('node', [peerBundle, torrentFile, into], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  peers.push(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { stats: TransferStats }).stats);
    });
    child.once('exit', (code) => reject(new Error(`peer exited ${code}: ${err}`)));
  });
}

before(async () => {
  stack = await startSwarmStack('bootenv-bundle', log, 0);
  dir = await mkdtemp(join(tmpdir(), 'sb-bootenv-bundle-'));
});

after(async () => {
  for (const p of peers) p.kill('SIGKILL');
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the agent bundle loads from a directory without node_modules: natives stubbed, nothing missing', async () => {
  const out = join(dir, 'agent.mjs');
  await bundle(agentEntry(), out, true);
  const first = await readFile(out);
  await bundle(agentEntry(), out, true);
  assert.ok(first.equals(await readFile(out)), 'esbuild output differs between two runs');
  const src = first.toString('utf8');
  assert.doesNotMatch(src, /node_modules\/node-datachannel\/dist|node_modules\/utp-native\/lib\/binding/, 'a native add-on loader is in the bundle');
  if (!agentEntry().endsWith('/main.js')) return;
  // the emulated agent stops at its config check (no SWARMBOOT_AGENT_MAC): everything loaded
  const res = await run('node', [out], { cwd: dir, env: { PATH: process.env.PATH ?? '', SWARMBOOT_AGENT_WORK: dir } }).then(
    () => assert.fail('exited 0 without configuration'),
    (e: Error & { code?: number; stderr?: string }) => e,
  );
  assert.equal(res.code, 1);
  assert.match(res.stderr ?? '', /CONFIG_INVALID/);
  assert.doesNotMatch(res.stderr ?? '', /Cannot find module|uTP not supported|Dynamic require/);
});

test('two bundled processes: one downloads from the seeder, the other only from it', { timeout: 120_000 }, async () => {
  const peerBundle = join(dir, 'peer.mjs');
  await bundle(join(REPO, 'agent/dist/test/integration/bootenv-peer.js'), peerBundle, false);
  const image = await nodeBinaryBytes(SIZE, 1 << 20);
  const res = await fetch(`${stack.seederUrl}/v1/images/bootenv-bundle?file=image.bin&format=raw-disk`, { method: 'PUT', body: image, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(res.status, 201);
  const record = (await res.json()) as ImageRecord;
  const torrentFile = join(dir, 'image.torrent');
  await writeFile(torrentFile, Buffer.from(await (await fetch(record.torrentUrl)).arrayBuffer()));
  const want = createHash('sha256').update(image).digest('hex');

  const a = join(dir, 'a');
  const b = join(dir, 'b');
  await mkdir(a);
  await mkdir(b);
  const statsA = await startPeer(peerBundle, torrentFile, a);
  assert.equal(statsA.bytesFromSeeder + statsA.bytesFromPeers, SIZE);
  assert.equal(createHash('sha256').update(await readFile(join(a, 'image.bin'))).digest('hex'), want);

  // the seeder leaves the swarm: B's only source is A, another bundled process
  await stack.closeSeeder();
  const statsB = await startPeer(peerBundle, torrentFile, b);
  assert.equal(statsB.bytesFromPeers, SIZE);
  assert.equal(statsB.bytesFromSeeder, 0);
  assert.equal(createHash('sha256').update(await readFile(join(b, 'image.bin'))).digest('hex'), want);
});
