import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { DemoSummary } from '../../src/demo.js';
import { assetPaths } from '../../src/assets.js';

const pexec = promisify(execFile);
const cli = fileURLToPath(new URL('../../src/main.js', import.meta.url));

/**
 * The demo path end to end, as the README runs it, with 3 nodes and a small real image (the files
 * of Debian's tzdata package): real nats-server, redis-server, every service as its own process,
 * 3 agents through DHCP, TFTP (real iPXE binaries, Debian netboot kernel and initrd), the swarm
 * and the log sink.
 */
test('swarmboot demo installs a real image onto 3 emulated nodes', { timeout: 600_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'sb-demo-test-'));
  const image = assetPaths().sampleImage;
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [cli, 'demo', '--nodes', '3', '--image', image, '--work', work, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`demo exited ${code}\n${stderr}\n${stdout}`))));
    });
    const summary = JSON.parse(out) as DemoSummary;
    assert.equal(summary.installed, 3, JSON.stringify(summary.failures));
    assert.equal(summary.failed, 0);

    // The image the nodes verified is the file we gave, byte for byte.
    const sha = createHash('sha256').update(await readFile(image)).digest('hex');
    assert.equal(summary.image.sha256, sha);
    // Every byte of the image reached every node from somewhere.
    const got = summary.bytes.fromPeers + summary.bytes.fromSeeder + summary.bytes.fromWebSeed;
    assert.ok(got >= 3 * summary.image.bytes, `nodes received ${got} bytes, expected at least ${3 * summary.image.bytes}`);

    // Each node's root is the image: tar --compare finds no difference.
    const nodes = (await readdir(join(work, 'nodes'))).sort();
    assert.deepEqual(nodes, ['node-001', 'node-002', 'node-003']);
    for (const n of nodes) {
      const { stdout, stderr } = await pexec('tar', ['--compare', '--numeric-owner', '-f', join(work, 'image', summary.image.file), '-C', join(work, 'nodes', n, 'root')]);
      assert.equal(stdout + stderr, '', `${n} differs from the image`);
    }
    // Every node's syslog lines were stored and read back through the API.
    assert.equal(summary.logLines.nodesWithLines, 3);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
