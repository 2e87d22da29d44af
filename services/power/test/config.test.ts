import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { loadConfig } from '../src/config.js';

test('loadConfig: defaults — 20 BMC operations at once, 10 started per second, ops on :9107, certificates verified', () => {
  const c = loadConfig({});
  assert.equal(c.SWARMBOOT_POWER_MAX_IN_FLIGHT, 20);
  assert.equal(c.SWARMBOOT_POWER_RATE_PER_SECOND, 10);
  assert.equal(c.SWARMBOOT_OPS_LISTEN, '0.0.0.0:9107');
  assert.equal(c.SWARMBOOT_POWER_TLS_INSECURE, false);
  assert.ok(Object.isFrozen(c));
});

test('loadConfig: converts numbers and booleans and names the offending variable', () => {
  const c = loadConfig({ SWARMBOOT_POWER_RATE_PER_SECOND: '0.5', SWARMBOOT_POWER_TLS_INSECURE: 'true' });
  assert.equal(c.SWARMBOOT_POWER_RATE_PER_SECOND, 0.5);
  assert.equal(c.SWARMBOOT_POWER_TLS_INSECURE, true);
  for (const [name, value] of [
    ['SWARMBOOT_POWER_MAX_IN_FLIGHT', '0'],
    ['SWARMBOOT_POWER_RATE_PER_SECOND', '0'],
    ['SWARMBOOT_POWER_RETRIES', 'many'],
    ['SWARMBOOT_POWER_TIMEOUT_MS', '5'],
    ['SWARMBOOT_OPS_LISTEN', 'localhost'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (err: unknown) => isSwarmbootError(err, 'CONFIG_INVALID') && err.message.includes(name),
      `${name}=${value}`,
    );
  }
});
