import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';
import { createSegment, netnsUnavailable, run, spawnIn, startSocketRedis, startSwarmbootDhcp, type Segment } from './netns.js';

/*
 * DHCP starvation (issue 15): perfdhcp floods DISCOVERs from random chaddrs that never REQUEST,
 * through a relay address on the segment, while a real udhcpc asks for a lease on the same
 * segment. The pool has 101 addresses, as when the flood was first tried. Control run: with
 * offerHoldShare 1 (every offer holds its address, the behaviour before the bound) the flood
 * holds the whole pool and udhcpc gets nothing; with the default bound it gets a lease.
 */

const skip = netnsUnavailable(['udhcpc', 'perfdhcp']);
const POOL = { first: 100, last: 200 };

let seg: Segment;
let redisSrv: { path: string; stop(): Promise<void> };
let redis: Redis;

before(async () => {
  if (skip) return;
  seg = createSegment('st', 1, ['10.67.0.1/24']);
  await run(seg.client, 'ip', ['addr', 'add', '10.67.0.10/24', 'dev', seg.clientIf], 5000);
  redisSrv = await startSocketRedis(seg.dir);
  redis = new Redis(redisSrv.path);
});

after(async () => {
  if (skip) return;
  redis?.disconnect();
  await redisSrv?.stop();
  seg?.destroy();
});

/** Addresses of the pool held in Redis (offered or bound). */
async function heldAddresses(): Promise<number> {
  let n = 0;
  for (let i = POOL.first; i <= POOL.last; i++) if ((await redis.exists(RedisKeys.leaseByIp(`10.67.0.${i}`))) === 1) n++;
  return n;
}

/**
 * Starts the server with `offerHoldShare`, floods for `floodSeconds`, and asks udhcpc for a lease
 * once the flood has run 3 s. Returns what was seen.
 */
async function floodAndAsk(t: TestContext, name: string, offerHoldShare: number | undefined, floodSeconds: number) {
  await redis.flushall();
  const server = await startSwarmbootDhcp(seg.server, seg.dir, name, {
    listen: '0.0.0.0:67',
    serverId: '10.67.0.1',
    natsUrl: 'none',
    redisUrl: redisSrv.path,
    opsListen: '127.0.0.1:0',
    leaseSeconds: 600,
    ...(offerHoldShare === undefined ? {} : { offerHoldShare }),
    subnets: [{ subnet: '10.67.0.0/24', pool: `10.67.0.${POOL.first}-10.67.0.${POOL.last}`, router: '10.67.0.1', nextServer: '10.67.0.1' }],
  });
  try {
    // -i: DISCOVER-OFFER only; -R: that many distinct chaddrs; as a relay (giaddr 10.67.0.10)
    const flood = spawnIn(seg.client, 'perfdhcp', ['-4', '-i', '-l', '10.67.0.10', '-r', '200', '-R', '100000', '-p', String(floodSeconds), '-b', 'mac=00:0d:00:00:00:00', '10.67.0.1']);
    await new Promise((r) => setTimeout(r, 3000));
    const heldBefore = await heldAddresses();
    const started = Date.now();
    // a real client on the same segment: broadcast DISCOVER, 4 tries 1 s apart
    const client = await run(seg.client, 'udhcpc', ['-i', seg.clientIf, '-n', '-q', '-f', '-s', '/bin/true', '-t', '4', '-T', '1', '-x', '0x3d:ff00000002'], 30_000);
    const clientMs = Date.now() - started;
    const leased = /lease of (\d+\.\d+\.\d+\.\d+) obtained/.exec(client.out)?.[1];
    const heldAfter = await heldAddresses();
    await new Promise<void>((resolve) => (flood.child.exitCode !== null ? resolve() : flood.child.once('exit', () => resolve())));
    const offers = Number(/received packets: (\d+)/.exec(flood.out())?.[1] ?? NaN);
    const sent = Number(/sent packets: (\d+)/.exec(flood.out())?.[1] ?? NaN);
    const seen = { heldBefore, heldAfter, leased, clientMs, code: client.code, floodDiscovers: sent, floodOffers: offers };
    t.diagnostic(`${name}: ${JSON.stringify(seen)}`);
    return { ...seen, clientOut: client.out, floodOut: flood.out() };
  } finally {
    await server.stop();
  }
}

test('control: offers that all hold their address (offerHoldShare 1): the flood holds the whole pool and udhcpc gets no lease', { skip, timeout: 90_000 }, async (t) => {
  const r = await floodAndAsk(t, 'dhcp-unbounded', 1, 12);
  assert.ok(r.floodDiscovers > 500, `the flood sent ${r.floodDiscovers} DISCOVERs\n${r.floodOut}`);
  assert.equal(r.heldBefore, POOL.last - POOL.first + 1, 'the flood held every address');
  assert.equal(r.leased, undefined, `udhcpc got a lease while the pool was held\n${r.clientOut}`);
});

test('default bound: the flood holds at most a quarter of the pool and udhcpc gets a lease', { skip, timeout: 90_000 }, async (t) => {
  const r = await floodAndAsk(t, 'dhcp-bounded', undefined, 12);
  assert.ok(r.floodDiscovers > 500, `the flood sent ${r.floodDiscovers} DISCOVERs\n${r.floodOut}`);
  assert.ok(r.floodOffers > 500, `the flood's DISCOVERs were answered (${r.floodOffers} OFFERs)`);
  const bound = Math.floor((POOL.last - POOL.first + 1) * 0.25);
  assert.ok(r.heldBefore <= bound, `${r.heldBefore} addresses held by the flood (bound ${bound})`);
  assert.ok(r.leased !== undefined, `udhcpc got no lease under the flood\n${r.clientOut}`);
  assert.equal(await redis.hget(RedisKeys.lease('id:ff00000002'), 'state'), 'bound');
});
