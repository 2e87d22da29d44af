import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageRecord, TransferStats } from '@swarmboot/contracts';
import { createLogger } from '@swarmboot/kit';
import { joinSwarm, type SwarmDownload } from '../../src/swarm.js';
import { nodeBinaryBytes, startSwarmStack, type SwarmStack } from './swarm-stack.js';

// A small swarm as in a rack: a seeder capped at 4 MB/s, the tracker, 4 agents joining at once.
// 4 × 20 MB from the seeder alone would take 20 s; peers must carry part of it. Measured here:
// 5.8–7.2 s with super-seeding (seeder sent 1.0 copy), 15 s without (2.8 copies).
const NODES = 4;
const SIZE = 20 * 1024 * 1024;
const SEEDER_LIMIT = 4 * 1024 * 1024;

const log = createLogger('swarm-test', (process.env.SB_TEST_LOG as 'debug' | undefined) ?? 'silent');
let stack: SwarmStack;
let image: Buffer;

before(async () => {
  image = await nodeBinaryBytes(SIZE);
  stack = await startSwarmStack('swarm-test', log, SEEDER_LIMIT);
});

after(async () => {
  await stack?.stop();
});

test(`${NODES} agents join one swarm: every byte identical, peers carry part of the load`, { timeout: 150_000 }, async () => {
  const res = await fetch(`${stack.seederUrl}/v1/images/node-bin?file=node.img&format=raw-disk`, { method: 'PUT', body: image, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(res.status, 201);
  const record = (await res.json()) as ImageRecord;
  const torrent = Buffer.from(await (await fetch(record.torrentUrl)).arrayBuffer());

  const dirs = await Promise.all(Array.from({ length: NODES }, (_, i) => mkdtemp(join(stack.scratch, `node${i}-`))));
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
    assert.ok(fromSeeder + fromPeers >= NODES * SIZE, `every node got the whole image (${fromSeeder} + ${fromPeers})`);
    assert.ok(fromPeers > SIZE / 2, `peers contributed (${fromPeers} bytes from peers, ${fromSeeder} from the seeder)`);
    assert.ok(uploaded > SIZE / 2, `the agents uploaded to each other (${uploaded} bytes)`);
    // super-seeding (BEP 16): the seeder's upload goes to distinct pieces, about one copy in all
    assert.ok(fromSeeder <= 1.5 * SIZE, `the seeder sent ${(fromSeeder / SIZE).toFixed(2)} copies of the image, not one per node`);
  } finally {
    await Promise.all(downloads.map((d) => d.stop()));
  }
});
