import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';
import { startRedis, type Started } from '@swarmboot/testkit';
import { RedisLeaseStore, parseSubnet } from '../../src/index.js';

/* RedisLeaseStore's Lua scripts against a real redis-server. */

let redisSrv: Started;
let redis: Redis;
let store: RedisLeaseStore;

before(async () => {
  redisSrv = await startRedis();
  redis = new Redis(redisSrv.url);
  store = new RedisLeaseStore(redis);
});

after(async () => {
  await redis?.quit();
  await redisSrv?.stop();
});

const mac = (n: number): string => `02:00:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;

test('a pool of three: three clients, then exhaustion; an offer released frees its address', async () => {
  const subnet = parseSubnet({ subnet: '10.200.0.0/24', pool: '10.200.0.10-10.200.0.12', nextServer: '10.200.0.1' });
  const ips = [];
  for (let i = 1; i <= 3; i++) ips.push(await store.offer({ chaddr: mac(i), subnet, reserveSeconds: 30 }));
  assert.deepEqual([...ips].sort(), ['10.200.0.10', '10.200.0.11', '10.200.0.12']);
  assert.equal(await store.offer({ chaddr: mac(4), subnet, reserveSeconds: 30 }), undefined);
  // the same client asking again keeps its offer
  assert.equal(await store.offer({ chaddr: mac(2), subnet, reserveSeconds: 30 }), ips[1]);

  assert.equal(await store.releaseOffer({ chaddr: mac(3), ip: ips[2]! }), true);
  assert.equal(await store.holderOf(ips[2]!), undefined);
  assert.equal(await store.offer({ chaddr: mac(4), subnet, reserveSeconds: 30 }), ips[2]);
});

test('commit: bound, taken, mismatch, unknown, out_of_pool; a binding survives a later offer', async () => {
  const subnet = parseSubnet({ subnet: '10.201.0.0/24', pool: '10.201.0.10-10.201.0.20', nextServer: '10.201.0.1' });
  const a = await store.offer({ chaddr: mac(10), subnet, reserveSeconds: 30 });
  const b = await store.offer({ chaddr: mac(11), subnet, reserveSeconds: 30 });
  assert.ok(a && b);
  assert.equal(await store.commit({ chaddr: mac(10), ip: a, subnet, leaseSeconds: 600 }), 'bound');
  assert.equal(await store.commit({ chaddr: mac(11), ip: a, subnet, leaseSeconds: 600 }), 'taken');
  assert.equal(await store.commit({ chaddr: mac(10), ip: b, subnet, leaseSeconds: 600 }), 'taken');
  assert.equal(await store.commit({ chaddr: mac(10), ip: '10.201.0.30', subnet, leaseSeconds: 600 }), 'out_of_pool');
  assert.equal(await store.commit({ chaddr: mac(12), ip: '10.201.0.19', subnet, leaseSeconds: 600 }), 'unknown');
  assert.equal(await store.commit({ chaddr: mac(10), ip: '10.201.0.19', subnet, leaseSeconds: 600 }), 'mismatch');

  // a DISCOVER from a bound client neither shortens its binding nor un-binds the record
  assert.equal(await store.offer({ chaddr: mac(10), subnet, reserveSeconds: 30 }), a);
  assert.ok((await redis.pttl(RedisKeys.leaseByIp(a))) > 500_000);
  assert.equal((await store.get(mac(10)))?.state, 'bound');
  // and a released offer of a bound client is not released
  assert.equal(await store.releaseOffer({ chaddr: mac(10), ip: a }), false);
});

test('the requested address (option 50) is honoured when free', async () => {
  const subnet = parseSubnet({ subnet: '10.202.0.0/24', pool: '10.202.0.10-10.202.0.20', nextServer: '10.202.0.1' });
  assert.equal(await store.offer({ chaddr: mac(20), subnet, requestedIp: '10.202.0.17', reserveSeconds: 30 }), '10.202.0.17');
  assert.notEqual(await store.offer({ chaddr: mac(21), subnet, requestedIp: '10.202.0.17', reserveSeconds: 30 }), '10.202.0.17');
  assert.notEqual(await store.offer({ chaddr: mac(22), subnet, requestedIp: '10.9.9.9', reserveSeconds: 30 }), undefined);
});

test('a client that moves to another subnet frees its old address', async () => {
  const s1 = parseSubnet({ subnet: '10.203.0.0/24', pool: '10.203.0.10-10.203.0.20', nextServer: '10.203.0.1' });
  const s2 = parseSubnet({ subnet: '10.204.0.0/24', pool: '10.204.0.10-10.204.0.20', nextServer: '10.204.0.1' });
  const old = await store.offer({ chaddr: mac(30), subnet: s1, reserveSeconds: 30 });
  assert.ok(old);
  const moved = await store.offer({ chaddr: mac(30), subnet: s2, reserveSeconds: 30 });
  assert.ok(moved?.startsWith('10.204.0.'));
  assert.equal(await store.holderOf(old), undefined);
});

test('50 concurrent offers for a pool of 20 on two connections: 20 distinct winners, 30 refused', async () => {
  const subnet = parseSubnet({ subnet: '10.205.0.0/24', pool: '10.205.0.1-10.205.0.20', nextServer: '10.205.0.254' });
  const other = new Redis(redisSrv.url);
  try {
    const stores = [store, new RedisLeaseStore(other)];
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => stores[i % 2]!.offer({ chaddr: mac(100 + i), subnet, reserveSeconds: 30 })));
    const won = results.filter((r): r is string => r !== undefined);
    assert.equal(won.length, 20);
    assert.equal(new Set(won).size, 20);
  } finally {
    await other.quit();
  }
});
