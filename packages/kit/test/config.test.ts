import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import { parseConfig, parseHostPort, normalizeMac, ipToInt, intToIp } from '../src/index.js';

const schema = Type.Object({
  SWARMBOOT_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 69 }),
  SWARMBOOT_ROOT: Type.String({ minLength: 1 }),
});

test('config converts, applies defaults and freezes', () => {
  const c = parseConfig(schema, { SWARMBOOT_ROOT: '/srv', SWARMBOOT_PORT: '6969' });
  assert.equal(c.SWARMBOOT_PORT, 6969);
  assert.equal(parseConfig(schema, { SWARMBOOT_ROOT: '/srv' }).SWARMBOOT_PORT, 69);
  assert.ok(Object.isFrozen(c));
});

test('a bad config names the variable', () => {
  assert.throws(() => parseConfig(schema, { SWARMBOOT_PORT: 'seventy' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, /SWARMBOOT_PORT="seventy"/);
    assert.match(err.message, /SWARMBOOT_ROOT/);
    return true;
  });
  assert.throws(() => parseHostPort('nope', 'SWARMBOOT_X'), /SWARMBOOT_X="nope"/);
  assert.deepEqual(parseHostPort('0.0.0.0:69', 'X'), { host: '0.0.0.0', port: 69 });
});

test('MAC and IPv4 helpers', () => {
  assert.equal(normalizeMac('AA-BB-CC-00-11-22'), 'aa:bb:cc:00:11:22');
  assert.equal(normalizeMac('zz:bb:cc:00:11:22'), undefined);
  assert.equal(intToIp(ipToInt('10.0.255.1') + 1), '10.0.255.2');
  assert.throws(() => ipToInt('10.0.256.1'));
});

test('credentials in URLs: split for nats.js, hidden in logs', async () => {
  const { natsServerOptions, redactUrl } = await import('../src/index.js');
  assert.deepEqual(natsServerOptions('nats://alice:s%40cret@nats:4222'), { servers: 'nats://nats:4222', user: 'alice', pass: 's@cret' });
  assert.deepEqual(natsServerOptions('nats://tok@nats:4222'), { servers: 'nats://nats:4222', token: 'tok' });
  assert.deepEqual(natsServerOptions('nats://nats:4222'), { servers: 'nats://nats:4222' });
  assert.equal(redactUrl('redis://:hunter2@redis:6379/0'), 'redis://:***@redis:6379/0');
  assert.equal(redactUrl('redis://redis:6379'), 'redis://redis:6379');
});
