import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { parseAllowlist } from '../src/index.js';

test('an empty allowlist allows anyone', () => {
  const a = parseAllowlist('', 'SWARMBOOT_X_ALLOWED');
  assert.equal(a.any, true);
  assert.equal(a.allows('203.0.113.7'), true);
});

test('ranges and single addresses, IPv4-mapped IPv6 matched as IPv4, comma or space separated', () => {
  const a = parseAllowlist('10.0.0.0/16, 192.168.4.7 2001:db8::/32', 'SWARMBOOT_X_ALLOWED');
  assert.equal(a.any, false);
  assert.deepEqual(a.ranges, ['10.0.0.0/16', '192.168.4.7/32', '2001:db8::/32']);
  assert.equal(a.allows('10.0.255.1'), true);
  assert.equal(a.allows('::ffff:10.0.3.4'), true, 'a dual-stack socket reports IPv4 peers as mapped IPv6');
  assert.equal(a.allows('10.1.0.1'), false);
  assert.equal(a.allows('192.168.4.7'), true);
  assert.equal(a.allows('192.168.4.8'), false);
  assert.equal(a.allows('2001:db8:1::5'), true);
  assert.equal(a.allows('2001:db9::5'), false);
  assert.equal(a.allows('not-an-address'), false);
});

test('an entry that is not a range stops start-up naming the variable', () => {
  assert.throws(
    () => parseAllowlist('10.0.0.0/16,10.0.0.0/33', 'SWARMBOOT_X_ALLOWED'),
    (err: unknown) => isSwarmbootError(err, 'CONFIG_INVALID') && err.message.includes('SWARMBOOT_X_ALLOWED') && err.message.includes('10.0.0.0/33'),
  );
  assert.throws(() => parseAllowlist('lab-net', 'SWARMBOOT_X_ALLOWED'), /lab-net/);
});
