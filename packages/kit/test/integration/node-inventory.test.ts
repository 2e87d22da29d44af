import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { startRedis, type Started } from '@swarmboot/testkit';
import { RedisKeys } from '@swarmboot/contracts';
import { connectRedis, createLogger, NodeInventory } from '../../src/index.js';

/*
 * The data is written field by field the way the scheduler's store writes it (its UPSERT_NODES
 * and SET_IP scripts, services/scheduler/src/adapters/scripts.ts) and the DHCP server's lease
 * index: kit's tests cannot use the scheduler's writer without a package cycle. The scheduler's
 * own integration tests read what its real writer wrote through this inventory.
 */

let srv: Started;
let redis: Redis;
let inventory: NodeInventory;
const log = createLogger('test', 'warn');

async function register(id: string, mac: string, hostname: string, labels: string, order: number): Promise<void> {
  const now = new Date().toISOString();
  await redis.hset(RedisKeys.node(id), 'id', id, 'mac', mac, 'hostname', hostname, 'labels', labels, 'state', 'registered', 'createdAt', now, 'updatedAt', now);
  await redis.set(RedisKeys.nodeByMac(mac), id);
  await redis.set(RedisKeys.nodeByHostname(hostname), id);
  await redis.zadd(RedisKeys.nodes, order, id);
}

/** What the scheduler's SET_IP does on a lease it saw. */
async function setNodeIp(id: string, ip: string): Promise<void> {
  await redis.hset(RedisKeys.node(id), 'ip', ip);
  await redis.set(RedisKeys.nodeByIp(ip), id);
}

before(async () => {
  srv = await startRedis();
  redis = await connectRedis(srv.url, log);
  inventory = new NodeInventory(redis);
  await register('n1', '52:54:00:00:00:01', 'rack1-n1', JSON.stringify({ rack: 'r1', role: 'worker' }), 1);
  await register('n2', '52:54:00:00:00:02', 'rack2-n2', JSON.stringify({ rack: 'r2' }), 2);
  await register('n3', '52:54:00:00:00:03', 'n3', JSON.stringify({ role: 'db' }), 3);
  // malformed label fields: not JSON, an array, a rack that is no string or empty
  await register('bad-json', '52:54:00:00:00:04', 'bad-json', '{rack: r1', 4);
  await register('bad-array', '52:54:00:00:00:05', 'bad-array', '["r1"]', 5);
  await register('bad-rack', '52:54:00:00:00:06', 'bad-rack', JSON.stringify({ rack: 7, zone: 'z' }), 6);
  await register('empty-rack', '52:54:00:00:00:07', 'empty-rack', JSON.stringify({ rack: '' }), 7);
});
after(async () => {
  await redis?.quit();
  await srv?.stop();
});

test('byMac accepts any spelling of the MAC and parses the node hash', async () => {
  const want = { id: 'n1', mac: '52:54:00:00:00:01', hostname: 'rack1-n1', labels: { rack: 'r1', role: 'worker' }, rack: 'r1' };
  assert.deepEqual(await inventory.byMac('52:54:00:00:00:01'), want);
  assert.deepEqual(await inventory.byMac('52-54-00-00-00-01'), want);
  assert.deepEqual(await inventory.byMac('52:54:00:00:00:01'.toUpperCase()), want);
  assert.equal(await inventory.byMac('52:54:00:00:00:99'), undefined);
  assert.deepEqual(await inventory.byId('n3'), { id: 'n3', mac: '52:54:00:00:00:03', hostname: 'n3', labels: { role: 'db' } });
  assert.equal(await inventory.byId('nope'), undefined);
});

test('malformed labels are no labels and no rack; other labels survive a bad rack', async () => {
  assert.deepEqual((await inventory.byMac('52:54:00:00:00:04'))?.labels, {});
  assert.deepEqual((await inventory.byMac('52:54:00:00:00:05'))?.labels, {});
  const badRack = await inventory.byMac('52:54:00:00:00:06');
  assert.deepEqual(badRack?.labels, { zone: 'z' });
  assert.equal(badRack?.rack, undefined);
  assert.equal((await inventory.byMac('52:54:00:00:00:07'))?.rack, undefined);
});

test('an index entry without a hash is a node with its id only; an empty index entry is none', async () => {
  await redis.set(RedisKeys.nodeByMac('52:54:00:00:01:01'), 'ghost');
  await redis.set(RedisKeys.nodeByMac('52:54:00:00:01:02'), '');
  assert.deepEqual(await inventory.byMac('52:54:00:00:01:01'), { id: 'ghost', labels: {} });
  assert.equal(await inventory.byMac('52:54:00:00:01:02'), undefined);
});

test('byHostname tries the name as sent, lower-cased and its first label', async () => {
  assert.equal((await inventory.byHostname('rack1-n1'))?.id, 'n1');
  assert.equal((await inventory.byHostname('RACK1-N1'))?.id, 'n1');
  assert.equal((await inventory.byHostname('rack2-n2.lab.example'))?.id, 'n2');
  assert.equal(await inventory.byHostname('rack9-n9.lab'), undefined);
  assert.equal(await inventory.byHostname(''), undefined);
});

test('byIp: the lease holder wins, the scheduler index answers when the lease does not', async () => {
  await redis.set(RedisKeys.leaseByIp('10.0.0.1'), '52:54:00:00:00:01');
  await redis.set(RedisKeys.leaseByIp('10.0.0.2'), '52-54-00-00-00-02'); // a chaddr in another spelling
  await setNodeIp('n3', '10.0.0.3'); // the lease key expired; the scheduler remembers
  // the scheduler still indexes n1 on .4, the lease is n2's already (its leaseGranted not yet handled)
  await setNodeIp('n1', '10.0.0.4');
  await redis.set(RedisKeys.leaseByIp('10.0.0.4'), '52:54:00:00:00:02');
  // held by an unregistered MAC: nobody; quarantined after a DECLINE: the scheduler index answers
  await redis.set(RedisKeys.leaseByIp('10.0.0.5'), '52:54:00:00:09:09');
  await redis.set(RedisKeys.leaseByIp('10.0.0.6'), 'declined');
  await redis.set(RedisKeys.nodeByIp('10.0.0.6'), 'n2');

  assert.deepEqual(await inventory.byIp('10.0.0.1'), await inventory.byMac('52:54:00:00:00:01'));
  assert.equal((await inventory.byIp('10.0.0.2'))?.id, 'n2');
  assert.equal((await inventory.byIp('10.0.0.3'))?.id, 'n3');
  assert.equal((await inventory.byIp('10.0.0.4'))?.id, 'n2');
  assert.equal(await inventory.byIp('10.0.0.5'), undefined);
  assert.equal((await inventory.byIp('10.0.0.6'))?.id, 'n2');
  assert.equal(await inventory.byIp('10.0.0.99'), undefined);
});

test('racksOf answers a batch in order, with undefined for unknown, unlabelled and malformed', async () => {
  await redis.set(RedisKeys.leaseByIp('10.0.1.1'), '52:54:00:00:00:01');
  await redis.set(RedisKeys.leaseByIp('10.0.1.2'), '52:54:00:00:00:02');
  await redis.set(RedisKeys.leaseByIp('10.0.1.3'), '52:54:00:00:00:03');
  await redis.set(RedisKeys.leaseByIp('10.0.1.4'), '52:54:00:00:00:04');
  await setNodeIp('n2', '10.0.1.5');
  const ips = ['10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.4', '10.0.1.5', '10.0.1.99', '10.0.1.1'];
  assert.deepEqual(await inventory.racksOf(ips), ['r1', 'r2', undefined, undefined, 'r2', undefined, 'r1']);
  assert.deepEqual(await inventory.racksOf([]), []);
  assert.equal(await inventory.rackOf('10.0.1.2'), 'r2');
});

test('a node key of the wrong type is no rack in a batch and an empty node in a listing', async () => {
  await redis.set(RedisKeys.node('wrongtype'), 'x');
  await redis.set(RedisKeys.nodeByMac('52:54:00:00:02:01'), 'wrongtype');
  await redis.set(RedisKeys.leaseByIp('10.0.2.1'), '52:54:00:00:02:01');
  await redis.zadd(RedisKeys.nodes, 8, 'wrongtype');
  assert.deepEqual(await inventory.racksOf(['10.0.2.1', '10.0.1.1']), [undefined, 'r1']);
  const listed = await inventory.list();
  assert.deepEqual(
    listed.map((n) => n.id),
    ['n1', 'n2', 'n3', 'bad-json', 'bad-array', 'bad-rack', 'empty-rack', 'wrongtype'],
  );
  assert.deepEqual(listed.at(-1), { id: 'wrongtype', labels: {} });
  assert.deepEqual(listed[1], { id: 'n2', mac: '52:54:00:00:00:02', hostname: 'rack2-n2', labels: { rack: 'r2' }, rack: 'r2' });
  await redis.zrem(RedisKeys.nodes, 'wrongtype');
});
