import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';
import { connectRedis, createLogger, NodeInventory } from '@swarmboot/kit';
import { startRedis, type Started } from '@swarmboot/testkit';
import { NodeMapper } from '../../src/domain/node-mapper.js';

const log = createLogger('test', 'silent');
let server: Started;
let redis: Redis;

before(async () => {
  server = await startRedis();
  redis = await connectRedis(server.url, log);
  await redis.set(RedisKeys.leaseByIp('127.77.2.1'), '52:54:00:77:02:01');
  await redis.set(RedisKeys.nodeByMac('52:54:00:77:02:01'), 'n-lease');
  await redis.set(RedisKeys.leaseByIp('127.77.2.2'), '52-54-00-77-02-02'); // a chaddr in another spelling
  await redis.set(RedisKeys.nodeByMac('52:54:00:77:02:02'), 'n-dash');
  await redis.set(RedisKeys.leaseByIp('127.77.2.3'), '52:54:00:77:02:03'); // lease, but no node with that MAC
  await redis.set(RedisKeys.nodeByHostname('rack2-n1'), 'n-host');
});

after(async () => {
  if (redis.status !== 'end') await redis.quit();
  await server.stop();
});

async function getCalls(): Promise<number> {
  const info = await redis.info('commandstats');
  const count = (cmd: string): number => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return count('get') + count('mget');
}

test('NodeMapper over Redis: lease first, then hostname (as sent, lower-case, first label), else unknown', async () => {
  const mapper = new NodeMapper(new NodeInventory(redis));
  assert.deepEqual(await mapper.map('127.77.2.1', 'rack2-n1'), { nodeId: 'n-lease', by: 'lease' }, 'the lease wins over the claimed hostname');
  assert.deepEqual(await mapper.map('127.77.2.2', undefined), { nodeId: 'n-dash', by: 'lease' }, 'chaddr normalised');
  assert.deepEqual(await mapper.map('127.77.2.3', 'rack2-n1'), { nodeId: 'n-host', by: 'hostname' }, 'lease without node → hostname');
  assert.deepEqual(await mapper.map('127.0.0.1', 'RACK2-N1.lab.example'), { nodeId: 'n-host', by: 'hostname' });
  assert.deepEqual(await mapper.map('127.0.0.1', 'stranger'), { nodeId: 'unknown', by: 'unknown' });
  assert.deepEqual(await mapper.map('127.0.0.1', undefined), { nodeId: 'unknown', by: 'unknown' });
});

test('NodeMapper caches hits and misses for its TTL and shares concurrent lookups', async () => {
  let now = 0;
  const mapper = new NodeMapper(new NodeInventory(redis), { ttlMs: 1000, now: () => now });
  const before = await getCalls();
  const results = await Promise.all(Array.from({ length: 500 }, () => mapper.map('127.77.2.1', undefined)));
  assert.ok(results.every((r) => r.nodeId === 'n-lease'));
  await Promise.all(Array.from({ length: 500 }, () => mapper.map('127.0.0.1', 'stranger')));
  // lease: MGET of the address indexes + MGET mac; miss: that MGET + MGET hostnames — once each, not per line
  assert.equal((await getCalls()) - before, 4);

  await redis.set(RedisKeys.nodeByMac('52:54:00:77:02:01'), 'n-moved');
  now = 999;
  assert.equal((await mapper.map('127.77.2.1', undefined)).nodeId, 'n-lease', 'within the TTL the cached mapping is used');
  now = 1000;
  assert.equal((await mapper.map('127.77.2.1', undefined)).nodeId, 'n-moved', 'after the TTL the new mapping is read');
});

test('NodeMapper: a failing lookup files the line under unknown, reports, and is not cached', async () => {
  const client = await connectRedis(server.url, log);
  const errors: unknown[] = [];
  const mapper = new NodeMapper(new NodeInventory(client), { onLookupError: (e) => errors.push(e) });
  assert.equal((await mapper.map('127.77.2.1', undefined)).by, 'lease');
  mapper.clear();
  await client.quit();
  assert.deepEqual(await mapper.map('127.77.2.1', 'rack2-n1'), { nodeId: 'unknown', by: 'unknown' });
  assert.equal(errors.length, 2, 'both lookups reported');
  await mapper.map('127.77.2.1', 'rack2-n1');
  assert.equal(errors.length, 4, 'the failures were not cached: both lookups tried again');
});

test('NodeMapper.mapNow answers only from answered, unexpired cache entries, as map would', async () => {
  let now = 0;
  const mapper = new NodeMapper(new NodeInventory(redis), { ttlMs: 1000, now: () => now });
  assert.equal(mapper.mapNow('127.77.2.1', undefined), undefined, 'nothing cached yet');
  const pending = mapper.map('127.77.2.1', undefined);
  assert.equal(mapper.mapNow('127.77.2.1', undefined), undefined, 'the lookup has not answered');
  const mapped = await pending;
  assert.deepEqual(mapper.mapNow('127.77.2.1', undefined), mapped);
  // a lease miss falls through to the hostname, which needs its own answered entry
  await mapper.map('127.0.0.1', undefined);
  assert.deepEqual(mapper.mapNow('127.0.0.1', undefined), await mapper.map('127.0.0.1', undefined));
  assert.equal(mapper.mapNow('127.0.0.1', 'rack2-n1'), undefined, 'hostname not looked up yet');
  const byName = await mapper.map('127.0.0.1', 'rack2-n1');
  assert.equal(byName.by, 'hostname');
  assert.deepEqual(mapper.mapNow('127.0.0.1', 'rack2-n1'), byName);
  assert.deepEqual(mapper.mapNow('127.0.0.1', 'stranger'), undefined);
  await mapper.map('127.0.0.1', 'stranger');
  assert.deepEqual(mapper.mapNow('127.0.0.1', 'stranger'), { nodeId: 'unknown', by: 'unknown' });
  now = 1000;
  assert.equal(mapper.mapNow('127.77.2.1', undefined), undefined, 'expired: map must look it up again');
});
