import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { RedisKeys, type NodeInput } from '@swarmboot/contracts';
import { connectRedis, createLogger, NodeInventory } from '@swarmboot/kit';
import { startRedis, type Started } from '@swarmboot/testkit';
import { SchedulerStore, type UpsertResult } from '../../src/adapters/store.js';
import { normalizeNodes } from '../../src/domain/inventory.js';

/*
 * kit's NodeInventory reads what the scheduler's store (its only writer) wrote: nodes are
 * registered and their addresses indexed through the real SchedulerStore. Only what that writer
 * cannot produce (malformed labels, an index entry without a hash, a node key of the wrong type)
 * and the DHCP server's lease index (`leaseByIp`, another service's) are written by hand.
 */

let srv: Started;
let redis: Redis;
let store: SchedulerStore;
let inventory: NodeInventory;

/** Registers `inputs` as POST /v1/nodes does: normalised, then written by the store. */
function register(inputs: readonly NodeInput[]): Promise<UpsertResult> {
  return store.upsertNodes(normalizeNodes(inputs, 'VALIDATION', (i) => `node ${i}`));
}

before(async () => {
  srv = await startRedis();
  redis = await connectRedis(srv.url, createLogger('test', 'silent'));
  store = new SchedulerStore(redis);
  inventory = new NodeInventory(redis);
  const registered = await register([
    { id: 'n1', mac: '52-54-00-AA-00-01', hostname: 'rack1-n1', labels: { rack: 'r1', role: 'worker' } },
    { id: 'n2', mac: '52:54:00:aa:00:02', hostname: 'rack2-n2', labels: { rack: 'r2' } },
    { id: 'n3', mac: '52:54:00:aa:00:03', labels: { role: 'db' } },
    { id: 'n4', mac: '52:54:00:aa:00:08' },
    { id: 'bad-json', mac: '52:54:00:aa:00:04' },
    { id: 'bad-array', mac: '52:54:00:aa:00:05' },
    { id: 'bad-rack', mac: '52:54:00:aa:00:06' },
    { id: 'empty-rack', mac: '52:54:00:aa:00:07', labels: { rack: '' } },
  ]);
  assert.deepEqual(registered, { kind: 'ok', imported: 8, updated: 0 });
  // malformed label fields, by hand: the store only writes the JSON of a string-valued object
  await redis.hset(RedisKeys.node('bad-json'), 'labels', '{rack: r1');
  await redis.hset(RedisKeys.node('bad-array'), 'labels', '["r1"]');
  await redis.hset(RedisKeys.node('bad-rack'), 'labels', JSON.stringify({ rack: 7, zone: 'z' }));
});
after(async () => {
  await redis?.quit();
  await srv?.stop();
});

test('byMac accepts any spelling of the MAC and parses the node hash', async () => {
  const want = { id: 'n1', mac: '52:54:00:aa:00:01', hostname: 'rack1-n1', labels: { rack: 'r1', role: 'worker' }, rack: 'r1' };
  assert.deepEqual(await inventory.byMac('52:54:00:aa:00:01'), want);
  assert.deepEqual(await inventory.byMac('52-54-00-aa-00-01'), want);
  assert.deepEqual(await inventory.byMac('52:54:00:AA:00:01'), want);
  assert.equal(await inventory.byMac('52:54:00:aa:00:99'), undefined);
  assert.deepEqual(await inventory.byId('n3'), { id: 'n3', mac: '52:54:00:aa:00:03', hostname: 'n3', labels: { role: 'db' } });
  assert.deepEqual(await inventory.byId('n4'), { id: 'n4', mac: '52:54:00:aa:00:08', hostname: 'n4', labels: {} });
  assert.equal(await inventory.byId('nope'), undefined);
});

test('malformed labels are no labels and no rack; other labels survive a bad rack', async () => {
  assert.deepEqual((await inventory.byMac('52:54:00:aa:00:04'))?.labels, {});
  assert.deepEqual((await inventory.byMac('52:54:00:aa:00:05'))?.labels, {});
  const badRack = await inventory.byMac('52:54:00:aa:00:06');
  assert.deepEqual(badRack?.labels, { zone: 'z' });
  assert.equal(badRack?.rack, undefined);
  assert.equal((await inventory.byMac('52:54:00:aa:00:07'))?.rack, undefined);
});

test('an index entry without a hash is a node with its id only; an empty index entry is none', async () => {
  // by hand: the store writes index and hash in one script
  await redis.set(RedisKeys.nodeByMac('52:54:00:aa:01:01'), 'ghost');
  await redis.set(RedisKeys.nodeByMac('52:54:00:aa:01:02'), '');
  assert.deepEqual(await inventory.byMac('52:54:00:aa:01:01'), { id: 'ghost', labels: {} });
  assert.equal(await inventory.byMac('52:54:00:aa:01:02'), undefined);
});

test('byHostname tries the name as sent, lower-cased and its first label', async () => {
  assert.equal((await inventory.byHostname('rack1-n1'))?.id, 'n1');
  assert.equal((await inventory.byHostname('RACK1-N1'))?.id, 'n1');
  assert.deepEqual(await inventory.byHostname('rack1-n1.lab'), await inventory.byMac('52:54:00:aa:00:01'));
  assert.equal((await inventory.byHostname('rack2-n2.lab.example'))?.id, 'n2');
  // a node registered without a hostname is found by its id, the store's default
  assert.deepEqual(await inventory.byHostname('n4'), { id: 'n4', mac: '52:54:00:aa:00:08', hostname: 'n4', labels: {} });
  assert.equal(await inventory.byHostname('rack9-n9.lab'), undefined);
  assert.equal(await inventory.byHostname(''), undefined);
});

test('a re-registration moves the hostname and labels the inventory reads', async () => {
  assert.deepEqual(await register([{ id: 'n4', mac: '52:54:00:aa:00:08', hostname: 'rack4-n4', labels: { rack: 'r4' } }]), { kind: 'ok', imported: 0, updated: 1 });
  assert.equal(await inventory.byHostname('n4'), undefined);
  assert.equal((await inventory.byHostname('rack4-n4'))?.rack, 'r4');
});

test('byIp: the lease holder wins, the scheduler index answers when the lease does not', async () => {
  await redis.set(RedisKeys.leaseByIp('10.0.0.1'), '52:54:00:aa:00:01');
  await redis.set(RedisKeys.leaseByIp('10.0.0.2'), '52-54-00-AA-00-02'); // a chaddr in another spelling
  await store.setNodeIp('n3', '10.0.0.3'); // the lease key expired; the scheduler remembers
  // the scheduler still indexes n1 on .4, the lease is n2's already (its leaseGranted not yet handled)
  await store.setNodeIp('n1', '10.0.0.4');
  await redis.set(RedisKeys.leaseByIp('10.0.0.4'), '52:54:00:aa:00:02');
  // held by an unregistered MAC: nobody; quarantined after a DECLINE: the scheduler index answers
  await redis.set(RedisKeys.leaseByIp('10.0.0.5'), '52:54:00:aa:09:09');
  await redis.set(RedisKeys.leaseByIp('10.0.0.6'), 'declined');
  await store.setNodeIp('n2', '10.0.0.6');

  assert.deepEqual(await inventory.byIp('10.0.0.1'), await inventory.byMac('52:54:00:aa:00:01'));
  assert.equal((await inventory.byIp('10.0.0.2'))?.id, 'n2');
  assert.equal((await inventory.byIp('10.0.0.3'))?.id, 'n3');
  assert.equal((await inventory.byIp('10.0.0.4'))?.id, 'n2');
  assert.equal(await inventory.byIp('10.0.0.5'), undefined);
  assert.equal((await inventory.byIp('10.0.0.6'))?.id, 'n2');
  assert.equal(await inventory.byIp('10.0.0.99'), undefined);
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

test('racksOf answers a batch in order, with undefined for unknown, unlabelled and malformed', async () => {
  await redis.set(RedisKeys.leaseByIp('10.0.1.1'), '52:54:00:aa:00:01');
  await redis.set(RedisKeys.leaseByIp('10.0.1.2'), '52:54:00:aa:00:02');
  await redis.set(RedisKeys.leaseByIp('10.0.1.3'), '52:54:00:aa:00:03');
  await redis.set(RedisKeys.leaseByIp('10.0.1.4'), '52:54:00:aa:00:04');
  await store.setNodeIp('n2', '10.0.1.5');
  const ips = ['10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.4', '10.0.1.5', '10.0.1.99', '10.0.1.1'];
  assert.deepEqual(await inventory.racksOf(ips), ['r1', 'r2', undefined, undefined, 'r2', undefined, 'r1']);
  assert.deepEqual(await inventory.racksOf([]), []);
  assert.equal(await inventory.rackOf('10.0.1.2'), 'r2');
});

test('a node key of the wrong type is no rack in a batch and an empty node in a listing', async () => {
  await register([{ id: 'wrongtype', mac: '52:54:00:aa:02:01', labels: { rack: 'r1' } }]);
  // by hand: the store only ever writes a hash there
  await redis.set(RedisKeys.node('wrongtype'), 'x');
  await redis.set(RedisKeys.leaseByIp('10.0.2.1'), '52:54:00:aa:02:01');
  assert.deepEqual(await inventory.racksOf(['10.0.2.1', '10.0.1.1']), [undefined, 'r1']);
  const listed = await inventory.list();
  assert.deepEqual(
    listed.map((n) => n.id),
    ['n1', 'n2', 'n3', 'n4', 'bad-json', 'bad-array', 'bad-rack', 'empty-rack', 'wrongtype'],
  );
  assert.deepEqual(listed.at(-1), { id: 'wrongtype', labels: {} });
  assert.deepEqual(listed[1], { id: 'n2', mac: '52:54:00:aa:00:02', hostname: 'rack2-n2', labels: { rack: 'r2' }, rack: 'r2' });
});
