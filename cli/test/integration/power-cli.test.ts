import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort, startNats, waitFor } from '@swarmboot/testkit';
import { CLI_ENTRY } from '../../src/stack.js';

const pexec = promisify(execFile);

test('swarmboot power NODE ACTION: the request goes over NATS to `swarmboot power` and its result comes back (exit 1 when it failed)', { timeout: 60_000 }, async () => {
  const nats = await startNats();
  const ops = await freePort();
  // the service, as `swarmboot power` runs it: no BMC inventory, so the node has no BMC
  const svc = spawn(process.execPath, [CLI_ENTRY, 'power'], { env: { ...process.env, SWARMBOOT_NATS_URL: nats.url, SWARMBOOT_OPS_LISTEN: `127.0.0.1:${ops}`, SWARMBOOT_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  try {
    await waitFor('power /healthz', async () => (await fetch(`http://127.0.0.1:${ops}/healthz`).catch(() => undefined))?.status === 200, 20_000, 200);
    const failed = await pexec(process.execPath, [CLI_ENTRY, 'power', 'rack1-n07', 'pxe-boot', '--nats', nats.url, '--timeout', '20']).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    assert.ok(failed !== undefined, 'exit code non-zero');
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /rack1-n07: pxe-boot failed: BMC_UNKNOWN: no BMC for node rack1-n07/);
  } finally {
    svc.kill('SIGTERM');
    await new Promise((r) => svc.once('exit', r));
    await nats.stop();
  }
});
