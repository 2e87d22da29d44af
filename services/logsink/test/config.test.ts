import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { loadConfig } from '../src/config.js';

test('loadConfig: defaults for the syslog, ops and stream length variables', () => {
  const c = loadConfig({});
  assert.equal(c.SWARMBOOT_SYSLOG_LISTEN, '0.0.0.0:5514');
  assert.equal(c.SWARMBOOT_OPS_LISTEN, '0.0.0.0:9106');
  assert.equal(c.SWARMBOOT_LOG_MAXLEN, 20000);
  assert.equal(c.SWARMBOOT_LOGSINK_UDP_RECV_BUFFER_BYTES, 32 * 1024 * 1024);
  assert.equal(c.SWARMBOOT_NATS_URL, 'nats://127.0.0.1:4222');
  assert.ok(Object.isFrozen(c));
});

test('loadConfig: converts numbers and names the offending variable', () => {
  assert.equal(loadConfig({ SWARMBOOT_LOG_MAXLEN: '500' }).SWARMBOOT_LOG_MAXLEN, 500);
  for (const [name, value] of [
    ['SWARMBOOT_LOG_MAXLEN', '0'],
    ['SWARMBOOT_LOG_MAXLEN', 'lots'],
    ['SWARMBOOT_LOGSINK_UDP_RECV_BUFFER_BYTES', '1024'],
    ['SWARMBOOT_SYSLOG_LISTEN', '5514'],
    ['SWARMBOOT_OPS_LISTEN', 'localhost:99999'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (err: unknown) => isSwarmbootError(err, 'CONFIG_INVALID') && err.message.includes(name),
      `${name}=${value}`,
    );
  }
});
