import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';
import { startRedis, type Started } from '@swarmboot/testkit';
import { RedisLeaseStore, parseSubnet, type OfferRequest } from '../../src/index.js';

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

/** The address of an offer (the tests before the bound on held offers compare addresses only). */
async function offerIp(s: RedisLeaseStore, req: OfferRequest): Promise<string | undefined> {
  return (await s.offer(req))?.ip;
}

const mac = (n: number): string => `02:00:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;

test('a pool of three: three clients, then exhaustion; an offer released frees its address', async () => {
  const subnet = parseSubnet({ subnet: '10.200.0.0/24', pool: '10.200.0.10-10.200.0.12', nextServer: '10.200.0.1' });
  const ips = [];
  for (let i = 1; i <= 3; i++) ips.push(await offerIp(store, { chaddr: mac(i), subnet, reserveSeconds: 30 }));
  assert.deepEqual([...ips].sort(), ['10.200.0.10', '10.200.0.11', '10.200.0.12']);
  assert.equal(await offerIp(store, { chaddr: mac(4), subnet, reserveSeconds: 30 }), undefined);
  // the same client asking again keeps its offer
  assert.equal(await offerIp(store, { chaddr: mac(2), subnet, reserveSeconds: 30 }), ips[1]);

  assert.equal(await store.releaseOffer({ chaddr: mac(3), ip: ips[2]! }), true);
  assert.equal(await store.holderOf(ips[2]!), undefined);
  assert.equal(await offerIp(store, { chaddr: mac(4), subnet, reserveSeconds: 30 }), ips[2]);
});

test('commit: bound, taken, mismatch, unknown, out_of_pool; a binding survives a later offer', async () => {
  const subnet = parseSubnet({ subnet: '10.201.0.0/24', pool: '10.201.0.10-10.201.0.20', nextServer: '10.201.0.1' });
  const a = await offerIp(store, { chaddr: mac(10), subnet, reserveSeconds: 30 });
  const b = await offerIp(store, { chaddr: mac(11), subnet, reserveSeconds: 30 });
  assert.ok(a && b);
  assert.equal(await store.commit({ chaddr: mac(10), ip: a, subnet, leaseSeconds: 600 }), 'bound');
  assert.equal(await store.commit({ chaddr: mac(11), ip: a, subnet, leaseSeconds: 600 }), 'taken');
  assert.equal(await store.commit({ chaddr: mac(10), ip: b, subnet, leaseSeconds: 600 }), 'taken');
  assert.equal(await store.commit({ chaddr: mac(10), ip: '10.201.0.30', subnet, leaseSeconds: 600 }), 'out_of_pool');
  assert.equal(await store.commit({ chaddr: mac(12), ip: '10.201.0.19', subnet, leaseSeconds: 600 }), 'unknown');
  assert.equal(await store.commit({ chaddr: mac(10), ip: '10.201.0.19', subnet, leaseSeconds: 600 }), 'mismatch');

  // a DISCOVER from a bound client neither shortens its binding nor un-binds the record
  assert.equal(await offerIp(store, { chaddr: mac(10), subnet, reserveSeconds: 30 }), a);
  assert.ok((await redis.pttl(RedisKeys.leaseByIp(a))) > 500_000);
  assert.equal((await store.get(mac(10)))?.state, 'bound');
  // and a released offer of a bound client is not released
  assert.equal(await store.releaseOffer({ chaddr: mac(10), ip: a }), false);
});

test('the requested address (option 50) is honoured when free', async () => {
  const subnet = parseSubnet({ subnet: '10.202.0.0/24', pool: '10.202.0.10-10.202.0.20', nextServer: '10.202.0.1' });
  assert.equal(await offerIp(store, { chaddr: mac(20), subnet, requestedIp: '10.202.0.17', reserveSeconds: 30 }), '10.202.0.17');
  assert.notEqual(await offerIp(store, { chaddr: mac(21), subnet, requestedIp: '10.202.0.17', reserveSeconds: 30 }), '10.202.0.17');
  assert.notEqual(await offerIp(store, { chaddr: mac(22), subnet, requestedIp: '10.9.9.9', reserveSeconds: 30 }), undefined);
});

test('a client that moves to another subnet frees its old address', async () => {
  const s1 = parseSubnet({ subnet: '10.203.0.0/24', pool: '10.203.0.10-10.203.0.20', nextServer: '10.203.0.1' });
  const s2 = parseSubnet({ subnet: '10.204.0.0/24', pool: '10.204.0.10-10.204.0.20', nextServer: '10.204.0.1' });
  const old = await offerIp(store, { chaddr: mac(30), subnet: s1, reserveSeconds: 30 });
  assert.ok(old);
  const moved = await offerIp(store, { chaddr: mac(30), subnet: s2, reserveSeconds: 30 });
  assert.ok(moved?.startsWith('10.204.0.'));
  assert.equal(await store.holderOf(old), undefined);
});

test('50 concurrent offers for a pool of 20 on two connections: 20 distinct winners, 30 refused', async () => {
  const subnet = parseSubnet({ subnet: '10.205.0.0/24', pool: '10.205.0.1-10.205.0.20', nextServer: '10.205.0.254' });
  const other = new Redis(redisSrv.url);
  try {
    const stores = [store, new RedisLeaseStore(other)];
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => offerIp(stores[i % 2]!, { chaddr: mac(100 + i), subnet, reserveSeconds: 30 })));
    const won = results.filter((r): r is string => r !== undefined);
    assert.equal(won.length, 20);
    assert.equal(new Set(won).size, 20);
  } finally {
    await other.quit();
  }
});

test('held offers are bounded per subnet: a flood of chaddrs holds maxHeld addresses, later clients still bind', async () => {
  const subnet = parseSubnet({ subnet: '10.206.0.0/24', pool: '10.206.0.1-10.206.0.20', nextServer: '10.206.0.254' });
  const maxHeld = 5;
  // 100 DISCOVERs from chaddrs that never REQUEST
  const flood = [];
  for (let i = 0; i < 100; i++) flood.push(await store.offer({ chaddr: mac(300 + i), subnet, reserveSeconds: 60, maxHeld }));
  assert.ok(flood.every((o) => o !== undefined), 'no DISCOVER of the flood was refused');
  const held = flood.filter((o) => o?.held).length;
  assert.equal(held, maxHeld);
  assert.equal(await redis.zcard(RedisKeys.heldOffers(subnet.cidr)), maxHeld);
  const holders = await Promise.all(Array.from({ length: 20 }, (_, i) => store.holderOf(`10.206.0.${i + 1}`)));
  assert.equal(holders.filter((h) => h !== undefined).length, maxHeld, 'addresses held in Redis');

  // 15 real clients: each DISCOVER gets an address, each REQUEST binds it, none is refused
  const bound = [];
  for (let i = 0; i < 15; i++) {
    const o = await store.offer({ chaddr: mac(500 + i), subnet, reserveSeconds: 60, maxHeld });
    assert.ok(o, `client ${i} got no offer`);
    assert.equal(await store.commit({ chaddr: mac(500 + i), ip: o.ip, subnet, leaseSeconds: 600 }), 'bound');
    bound.push(o.ip);
  }
  assert.equal(new Set(bound).size, 15);
  // the pool is now full (5 held + 15 bound): the next DISCOVER is refused
  assert.equal(await store.offer({ chaddr: mac(600), subnet, reserveSeconds: 60, maxHeld }), undefined);
  // the flood's unheld clients left no lease records behind past their offer's hold
  const pttl = await redis.pttl(RedisKeys.lease(mac(399)));
  assert.ok(pttl > 0 && pttl <= 60_000, `an unbound flood record expires with its offer (pttl ${pttl} ms)`);
});

test('a commit and a released offer leave the bound on held offers', async () => {
  const subnet = parseSubnet({ subnet: '10.207.0.0/24', pool: '10.207.0.1-10.207.0.20', nextServer: '10.207.0.254' });
  const a = await store.offer({ chaddr: mac(700), subnet, reserveSeconds: 60, maxHeld: 2 });
  const b = await store.offer({ chaddr: mac(701), subnet, reserveSeconds: 60, maxHeld: 2 });
  assert.ok(a?.held && b?.held);
  assert.equal((await store.offer({ chaddr: mac(702), subnet, reserveSeconds: 60, maxHeld: 2 }))?.held, false);
  assert.equal(await store.commit({ chaddr: mac(700), ip: a.ip, subnet, leaseSeconds: 600 }), 'bound');
  assert.equal(await store.releaseOffer({ chaddr: mac(701), ip: b.ip }), true);
  assert.equal(await redis.zcard(RedisKeys.heldOffers(subnet.cidr)), 0);
  const c = await store.offer({ chaddr: mac(703), subnet, reserveSeconds: 60, maxHeld: 2 });
  assert.equal(c?.held, true);
});
