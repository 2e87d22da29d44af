import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '@swarmboot/kit';
import { isSwarmbootError } from '@swarmboot/contracts';
import { TrackerConfig } from '../src/config.js';

test('tracker config defaults: HTTP on :8000, ops on :9103', () => {
  const c = parseConfig(TrackerConfig, {});
  assert.equal(c.SWARMBOOT_TRACKER_LISTEN, '0.0.0.0:8000');
  assert.equal(c.SWARMBOOT_OPS_LISTEN, '0.0.0.0:9103');
  assert.equal(c.SWARMBOOT_TRACKER_INTERVAL, 60);
});

test('tracker config names the offending variable', () => {
  assert.throws(
    () => parseConfig(TrackerConfig, { SWARMBOOT_TRACKER_INTERVAL: 'soon' }),
    (err: unknown) => isSwarmbootError(err, 'CONFIG_INVALID') && /SWARMBOOT_TRACKER_INTERVAL/.test(err.message),
  );
});
