import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';
import { connectRedis, createLogger, NodeInventory } from '@swarmboot/kit';
import { startRedis, type Started } from '@swarmboot/testkit';
import { SchedulerStore } from '../../src/adapters/store.js';
import { normalizeNodes } from '../../src/domain/inventory.js';

/** kit's NodeInventory reads what the scheduler's store (its only writer) wrote. */

let srv: Started;
let redis: Redis;
let store: SchedulerStore;
let inventory: NodeInventory;

before(async () => {
  srv = await startRedis();
  redis = await connectRedis(srv.url, createLogger('test', 'silent'));
  store = new SchedulerStore(redis);
  inventory = new NodeInventory(redis);
  const nodes = normalizeNodes(
    [
      { id: 'n1', mac: '52-54-00-AA-00-01', hostname: 'rack1-n1', labels: { rack: 'r1', role: 'worker' } },
      { id: 'n2', mac: '52:54:00:aa:00:02', labels: { rack: 'r2' } },
      { id: 'n3', mac: '52:54:00:aa:00:03' },
    ],
    'VALIDATION',
    (i) => `node ${i}`,
  );
  assert.deepEqual(await store.upsertNodes(nodes), { kind: 'ok', imported: 3, updated: 0 });
});
after(async () => {
  await redis?.quit();
  await srv?.stop();
});

test('nodes registered by the store are found by MAC, hostname and listing, labels parsed', async () => {
  const n1 = { id: 'n1', mac: '52:54:00:aa:00:01', hostname: 'rack1-n1', labels: { rack: 'r1', role: 'worker' }, rack: 'r1' };
  assert.deepEqual(await inventory.byMac('52:54:00:AA:00:01'), n1);
  assert.deepEqual(await inventory.byHostname('rack1-n1.lab'), n1);
  assert.deepEqual(await inventory.byHostname('n2'), { id: 'n2', mac: '52:54:00:aa:00:02', hostname: 'n2', labels: { rack: 'r2' }, rack: 'r2' });
  assert.deepEqual((await inventory.list()).map((n) => n.id), ['n1', 'n2', 'n3']);
  assert.deepEqual((await inventory.byId('n3'))?.labels, {});
});

test('a re-registration moves the hostname and labels the inventory reads', async () => {
  await store.upsertNodes(normalizeNodes([{ id: 'n3', mac: '52:54:00:aa:00:03', hostname: 'rack3-n3', labels: { rack: 'r3' } }], 'VALIDATION', (i) => `node ${i}`));
  assert.equal(await inventory.byHostname('n3'), undefined);
  assert.equal((await inventory.byHostname('rack3-n3'))?.rack, 'r3');
});

test('an address the store indexed maps to its node, the lease holder first, a moved node no longer', async () => {
  assert.equal(await store.setNodeIp('n1', '10.1.0.1'), true);
  assert.equal(await store.setNodeIp('n2', '10.1.0.2'), true);
  assert.equal(await store.nodeIdByIp('10.1.0.1'), 'n1');
  assert.deepEqual(await inventory.racksOf(['10.1.0.1', '10.1.0.2', '10.1.0.9']), ['r1', 'r2', undefined]);

  // the DHCP server leased .1 to n2 before the scheduler recorded it: the lease holder wins
  await redis.set(RedisKeys.leaseByIp('10.1.0.1'), '52:54:00:aa:00:02');
  assert.equal(await store.nodeIdByIp('10.1.0.1'), 'n2');
  await redis.del(RedisKeys.leaseByIp('10.1.0.1'));

  // n2 moved to .3: its old address is no longer indexed
  assert.equal(await store.setNodeIp('n2', '10.1.0.3'), true);
  assert.equal(await store.nodeIdByIp('10.1.0.2'), undefined);
  assert.equal(await inventory.rackOf('10.1.0.3'), 'r2');
});
