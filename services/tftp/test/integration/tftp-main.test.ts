import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnMain, startNats, waitFor } from '@swarmboot/testkit';
import { tftpGet } from '../../src/client/tftp-get.js';

const indexJs = fileURLToPath(new URL('../../src/index.js', import.meta.url));

test('main(env) wires the service: serves SWARMBOOT_TFTP_ROOT, answers /healthz and /metrics, exits 0 on SIGTERM', async () => {
  const nats = await startNats();
  const root = await mkdtemp(join(tmpdir(), 'sb-tftp-main-'));
  const tftpPort = await freePort();
  const opsPort = await freePort();
  await writeFile(join(root, 'ipxe.efi'), Buffer.alloc(3000, 0x5a));
  const proc = spawnMain(indexJs, {
    SWARMBOOT_NATS_URL: nats.url,
    SWARMBOOT_LOG_LEVEL: 'warn',
    SWARMBOOT_TFTP_LISTEN: `127.0.0.1:${tftpPort}`,
    SWARMBOOT_TFTP_ROOT: root,
    SWARMBOOT_OPS_LISTEN: `127.0.0.1:${opsPort}`,
  });
  try {
    const health = await proc.healthz(opsPort);
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
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, proc.stderr());
  } finally {
    proc.kill();
    await nats.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('standalone (SWARMBOOT_TFTP_EVENTS=off): serves without NATS; /healthz has no nats check', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sb-tftp-alone-'));
  const tftpPort = await freePort();
  const opsPort = await freePort();
  await writeFile(join(root, 'f.bin'), Buffer.alloc(5000, 0x33));
  const proc = spawnMain(indexJs, {
    // a NATS URL nobody listens on: standalone must not even try it
    SWARMBOOT_NATS_URL: 'nats://127.0.0.1:1',
    SWARMBOOT_TFTP_EVENTS: 'off',
    SWARMBOOT_LOG_LEVEL: 'warn',
    SWARMBOOT_TFTP_LISTEN: `127.0.0.1:${tftpPort}`,
    SWARMBOOT_TFTP_ROOT: root,
    SWARMBOOT_TFTP_RATE: '10000000',
    SWARMBOOT_OPS_LISTEN: `127.0.0.1:${opsPort}`,
  });
  try {
    const health = await proc.healthz(opsPort);
    assert.deepEqual(health.checks, { tftp: true });
    const r = await tftpGet({ host: '127.0.0.1', port: tftpPort, file: 'f.bin', blksize: 1432, windowsize: 8 });
    assert.equal(r.windowsize, 8);
    assert.ok(r.data.equals(Buffer.alloc(5000, 0x33)));
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, proc.stderr());
  } finally {
    proc.kill();
    await rm(root, { recursive: true, force: true });
  }
});
