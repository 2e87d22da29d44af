import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { IDEMPOTENCY_KEY_MAX_LENGTH, parseIdempotencyKey, requestFingerprint } from '../src/index.js';

test('parseIdempotencyKey: bare (Stripe) and RFC 8941 string forms are one key', () => {
  assert.equal(parseIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324'), '8e03978e-40d5-43e8-bc93-6894a57f9324');
  assert.equal(parseIdempotencyKey('"8e03978e-40d5"'), '8e03978e-40d5');
  assert.equal(parseIdempotencyKey('"a \\"quoted\\" \\\\ key"'), 'a "quoted" \\ key');
  assert.equal(parseIdempotencyKey('k'.repeat(IDEMPOTENCY_KEY_MAX_LENGTH)).length, IDEMPOTENCY_KEY_MAX_LENGTH);
});

test('parseIdempotencyKey: empty, too long, or not printable ASCII is IDEMPOTENCY_KEY_INVALID', () => {
  for (const bad of ['', '""', 'k'.repeat(IDEMPOTENCY_KEY_MAX_LENGTH + 1), 'tab\there', 'caf\u00e9', 'nul\u0000']) {
    assert.throws(() => parseIdempotencyKey(bad), (err) => isSwarmbootError(err, 'IDEMPOTENCY_KEY_INVALID'), JSON.stringify(bad));
  }
});

test('requestFingerprint: JSON key order does not count; method, path, values and text bytes do', () => {
  const fp = requestFingerprint('POST', '/v1/deployments', { image: 'a', nodes: ['n1', 'n2'] });
  assert.match(fp, /^[0-9a-f]{64}$/);
  assert.equal(requestFingerprint('POST', '/v1/deployments', { nodes: ['n1', 'n2'], image: 'a' }), fp);
  assert.notEqual(requestFingerprint('POST', '/v1/deployments', { image: 'a', nodes: ['n2', 'n1'] }), fp);
  assert.notEqual(requestFingerprint('PUT', '/v1/deployments', { image: 'a', nodes: ['n1', 'n2'] }), fp);
  assert.notEqual(requestFingerprint('POST', '/v1/deployments?x=1', { image: 'a', nodes: ['n1', 'n2'] }), fp);
  assert.notEqual(requestFingerprint('POST', '/v1/nodes/import', 'id,mac\nn1,52:54:00:00:00:01\n'), requestFingerprint('POST', '/v1/nodes/import', 'id,mac\r\nn1,52:54:00:00:00:01\n'));
  assert.equal(requestFingerprint('POST', '/v1/x', undefined), requestFingerprint('POST', '/v1/x', null));
});
