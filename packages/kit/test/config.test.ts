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

test('a NATS cluster URL: comma-separated members become a server list, credentials kept once', async () => {
  const { natsServerOptions, redactUrl } = await import('../src/index.js');
  assert.deepEqual(natsServerOptions('nats://u:p@nats-0:4222, nats://u:p@nats-1:4222,nats://nats-2:4222'), { servers: ['nats://nats-0:4222', 'nats://nats-1:4222', 'nats://nats-2:4222'], user: 'u', pass: 'p' });
  assert.equal(redactUrl('nats://u:p@nats-0:4222,nats://u:p@nats-1:4222'), 'nats://u:***@nats-0:4222,nats://u:***@nats-1:4222');
});

test('redis+sentinel URLs: sentinels, master name, db and credentials; malformed ones name the variable', async () => {
  const { redisOptions, redactUrl } = await import('../src/index.js');
  const { options } = redisOptions('redis+sentinel://:s%40cret@10.0.0.1:26380,sentinel-b,[fd00::1]:26379/mymaster?db=2');
  assert.deepEqual(options.sentinels, [
    { host: '10.0.0.1', port: 26380 },
    { host: 'sentinel-b', port: 26379 },
    { host: 'fd00::1', port: 26379 },
  ]);
  assert.equal(options.name, 'mymaster');
  assert.equal(options.db, 2);
  assert.equal(options.password, 's@cret');
  assert.equal(options.sentinelPassword, 's@cret');
  assert.equal(redisOptions('redis+sentinel://:pw@s1/m?sentinelAuth=none').options.sentinelPassword, undefined);
  assert.deepEqual(redisOptions('redis://redis:6379/0'), { url: 'redis://redis:6379/0', options: {} });
  assert.deepEqual(redisOptions('redis+sentinel://s1/m?waitReplicas=2').replication, { replicas: 2, timeoutMs: 500 });
  assert.deepEqual(redisOptions('redis+sentinel://s1/m?waitTimeoutMs=50&waitReplicas=1').replication, { replicas: 1, timeoutMs: 50 });
  assert.equal(redisOptions('redis+sentinel://s1/m?waitReplicas=0').replication, undefined, 'waitReplicas=0: no WAIT');
  assert.equal(redactUrl('redis+sentinel://:hunter2@s1:26379,s2:26379/mymaster'), 'redis+sentinel://:***@s1:26379,s2:26379/mymaster');
  for (const bad of ['redis+sentinel://s1:26379', 'redis+sentinel://s1:99999/m', 'redis+sentinel://s1/m?db=x', 'redis+sentinel://s1/m?timeout=1', 'redis+sentinel://:hunter2@s1:port/m', 'redis+sentinel://s1/m?waitReplicas=-1', 'redis+sentinel://s1/m?waitReplicas=1&waitTimeoutMs=0']) {
    assert.throws(
      () => redisOptions(bad),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.match(err.message, /^SWARMBOOT_REDIS_URL=/);
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
      bad,
    );
  }
});
