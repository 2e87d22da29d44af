import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSwarmbootError } from '@swarmboot/contracts';
import { loadConfig } from '../src/config.js';
import { main } from '../src/main.js';

test('defaults: listen 0.0.0.0:6969, ops 0.0.0.0:9102', () => {
  const c = loadConfig({ SWARMBOOT_TFTP_ROOT: '/srv/tftp' });
  assert.equal(c.SWARMBOOT_TFTP_LISTEN, '0.0.0.0:6969');
  assert.equal(c.SWARMBOOT_OPS_LISTEN, '0.0.0.0:9102');
  assert.equal(c.SWARMBOOT_TFTP_ROOT, '/srv/tftp');
});

test('start-up fails naming SWARMBOOT_TFTP_ROOT when it is missing, absent on disk, or not a directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sb-tftp-config-'));
  try {
    const file = join(dir, 'file');
    await writeFile(file, 'x');
    for (const root of [undefined, join(dir, 'nope'), file]) {
      await assert.rejects(
        main({ SWARMBOOT_TFTP_ROOT: root, SWARMBOOT_NATS_URL: 'nats://127.0.0.1:1' }),
        (err: unknown) => isSwarmbootError(err, 'CONFIG_INVALID') && err.message.includes('SWARMBOOT_TFTP_ROOT'),
        String(root),
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
