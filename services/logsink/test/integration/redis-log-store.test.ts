import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { RedisKeys, type LogLine } from '@swarmboot/contracts';
import { connectRedis, createLogger } from '@swarmboot/kit';
import { startRedis, type Started } from '@swarmboot/testkit';
import { RedisLogStore } from '../../src/adapters/redis-log-store.js';

const log = createLogger('test', 'silent');
let server: Started;
let redis: Redis;

before(async () => {
  server = await startRedis();
  redis = await connectRedis(server.url, log);
});

after(async () => {
  if (redis.status !== 'end') await redis.quit();
  await server.stop();
});

const line = (nodeId: string, message: string): LogLine => ({
  nodeId,
  received: '2026-12-02T00:00:00.000Z',
  source: '127.0.0.1:514',
  format: 'rfc5424',
  facility: 1,
  severity: 6,
  message,
});

const serialized = (l: LogLine) => ({ nodeId: l.nodeId, json: JSON.stringify(l) });

test('appendMany: every node stream in the order given, an entry id per line', async () => {
  const store = new RedisLogStore(redis, 1000);
  const lines = Array.from({ length: 300 }, (_, i) => line(i % 3 === 0 ? 'ms-a' : 'ms-b', `line ${i}`));
  const outcomes = await store.appendMany(lines.map(serialized));
  assert.equal(outcomes.length, lines.length);
  for (const o of outcomes) assert.match(String(o), /^\d+-\d+$/, 'a stream entry id');
  for (const node of ['ms-a', 'ms-b']) {
    const entries = await redis.xrange(RedisKeys.nodeLog(node), '-', '+');
    const stored = entries.map(([, fields]) => (JSON.parse(fields[1] ?? '{}') as LogLine).message);
    assert.deepEqual(stored, lines.filter((l) => l.nodeId === node).map((l) => l.message));
  }
});

test('appendMany: a line Redis refuses gets its own Error, the lines around it are stored', async () => {
  const store = new RedisLogStore(redis, 1000);
  await redis.set(RedisKeys.nodeLog('ms-wrongtype'), 'not a stream');
  const outcomes = await store.appendMany([line('ms-c', 'before'), line('ms-wrongtype', 'refused'), line('ms-c', 'after')].map(serialized));
  assert.match(String(outcomes[0]), /^\d+-\d+$/);
  assert.ok(outcomes[1] instanceof Error);
  assert.match(outcomes[1].message, /WRONGTYPE/);
  assert.match(String(outcomes[2]), /^\d+-\d+$/);
  assert.equal(await redis.xlen(RedisKeys.nodeLog('ms-c')), 2);
});
