import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startNats, waitFor } from '@swarmboot/testkit';
import { tftpGet } from '../../src/client/tftp-get.js';

const indexJs = fileURLToPath(new URL('../../src/index.js', import.meta.url));

test('main(env) wires the service: serves SWARMBOOT_TFTP_ROOT, answers /healthz and /metrics, exits 0 on SIGTERM', async () => {
  const nats = await startNats();
  const root = await mkdtemp(join(tmpdir(), 'sb-tftp-main-'));
  const tftpPort = await freePort();
  const opsPort = await freePort();
  await writeFile(join(root, 'ipxe.efi'), Buffer.alloc(3000, 0x5a));
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(indexJs)}).then((m) => m.main())`], {
    env: {
      ...process.env,
      SWARMBOOT_NATS_URL: nats.url,
      SWARMBOOT_LOG_LEVEL: 'warn',
      SWARMBOOT_TFTP_LISTEN: `127.0.0.1:${tftpPort}`,
      SWARMBOOT_TFTP_ROOT: root,
      SWARMBOOT_OPS_LISTEN: `127.0.0.1:${opsPort}`,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor('the ops endpoint', () => fetch(`http://127.0.0.1:${opsPort}/healthz`).then((r) => r.ok, () => false), 15_000);
    const health = (await (await fetch(`http://127.0.0.1:${opsPort}/healthz`)).json()) as { checks: Record<string, boolean> };
    assert.deepEqual(health.checks, { tftp: true, nats: true });
    const r = await tftpGet({ host: '127.0.0.1', port: tftpPort, file: 'ipxe.efi', blksize: 1432, tsize: true });
    assert.equal(r.data.length, 3000);
    assert.equal(r.tsize, 3000);
    // the client resolves on sending its final ACK; the server counts on receiving it
    const metrics = await waitFor('the completed transfer in /metrics', async () => {
      const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      return /swarmboot_tftp_transfers_total\{result="completed"\} 1/.test(text) && text;
    });
    assert.match(metrics, /swarmboot_tftp_file_bytes_total 3000/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await nats.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('standalone (SWARMBOOT_TFTP_EVENTS=off): serves without NATS; /healthz has no nats check', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sb-tftp-alone-'));
  const tftpPort = await freePort();
  const opsPort = await freePort();
  await writeFile(join(root, 'f.bin'), Buffer.alloc(5000, 0x33));
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(indexJs)}).then((m) => m.main())`], {
    env: {
      ...process.env,
      // a NATS URL nobody listens on: standalone must not even try it
      SWARMBOOT_NATS_URL: 'nats://127.0.0.1:1',
      SWARMBOOT_TFTP_EVENTS: 'off',
      SWARMBOOT_LOG_LEVEL: 'warn',
      SWARMBOOT_TFTP_LISTEN: `127.0.0.1:${tftpPort}`,
      SWARMBOOT_TFTP_ROOT: root,
      SWARMBOOT_TFTP_RATE: '10000000',
      SWARMBOOT_OPS_LISTEN: `127.0.0.1:${opsPort}`,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor('the ops endpoint', () => fetch(`http://127.0.0.1:${opsPort}/healthz`).then((r) => r.ok, () => false), 15_000);
    const health = (await (await fetch(`http://127.0.0.1:${opsPort}/healthz`)).json()) as { checks: Record<string, boolean> };
    assert.deepEqual(health.checks, { tftp: true });
    const r = await tftpGet({ host: '127.0.0.1', port: tftpPort, file: 'f.bin', blksize: 1432, windowsize: 8 });
    assert.equal(r.windowsize, 8);
    assert.ok(r.data.equals(Buffer.alloc(5000, 0x33)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});
