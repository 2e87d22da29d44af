import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { startRedisSentinel, waitFor, type RedisSentinelSet } from '@swarmboot/testkit';
import { connectRedis, createLogger, LuaScript } from '../../src/index.js';

// Redis Sentinel failover under continuous writes (issue 15 part 6): the kit's client follows the
// master the sentinels name, Lua scripts survive the new master's empty script cache, and no
// acknowledged write is lost. The figures go to docs/benchmarks.md.

const log = createLogger('test', 'fatal');
let set: RedisSentinelSet;
let redis: Redis;
/** a second client for the INCR + WAIT writer: WAIT blocks its connection until the replica answers */
let redisWait: Redis;
/** a client whose URL asks every script to wait for one replica (`waitReplicas=1`), as a service's would */
let redisScriptsWait: Redis;

before(async () => {
  set = await startRedisSentinel();
  redis = await connectRedis(set.url, log);
  redisWait = await connectRedis(set.url, log);
  redisScriptsWait = await connectRedis(`${set.url}?waitReplicas=1`, log);
});
after(async () => {
  redis?.disconnect();
  redisWait?.disconnect();
  redisScriptsWait?.disconnect();
  await set?.stop();
});

// the scheduler's and dhcp's scripts are multi-key; one INCR is enough to see EVALSHA → NOSCRIPT → EVAL
const incrScript = new LuaScript("return redis.call('INCR', KEYS[1])");

/** Counts of one writer: `acked` writes the server confirmed, `attempted` every write sent. */
interface Tally {
  acked: number;
  attempted: number;
  /** longest time without an acknowledged write (ms) */
  longestGapMs: number;
  errors: number;
}

/** Writes `key` one INCR at a time until `stop` is aborted; an error is retried 20 ms later. */
async function writer(write: () => Promise<unknown>, stop: AbortSignal): Promise<Tally> {
  const t: Tally = { acked: 0, attempted: 0, longestGapMs: 0, errors: 0 };
  let last = performance.now();
  while (!stop.aborted) {
    t.attempted++;
    try {
      await write();
      const now = performance.now();
      t.longestGapMs = Math.max(t.longestGapMs, now - last);
      last = now;
      t.acked++;
    } catch {
      t.errors++;
      await sleep(20);
    }
  }
  return t;
}

/**
 * Runs a plain-INCR writer and a Lua-INCR writer through the failover `cause` sets off, until the
 * sentinels name a new master and both writers got 1 s of acknowledged writes from it; returns the
 * tallies and each key's final value, read from the new master.
 */
async function throughFailover(prefix: string, cause: (masterPort: number) => Promise<void>) {
  // a failover right after the last one would promote a replica that has not caught up yet
  await set.healthy();
  const before = await set.masterPort();
  const stop = new AbortController();
  const plainKey = `${prefix}:plain`;
  const luaKey = `${prefix}:lua`;
  const waitKey = `${prefix}:wait`;
  const luaWaitKey = `${prefix}:lua-wait`;
  // INCR then WAIT 1: acknowledged only once the replica has it (https://redis.io/docs/latest/commands/wait/)
  const replicated = async (): Promise<void> => {
    await redisWait.incr(waitKey);
    if ((await redisWait.wait(1, 500)) < 1) throw new Error('not replicated');
  };
  const writers = Promise.all([
    writer(() => redis.incr(plainKey), stop.signal),
    writer(() => incrScript.run(redis, [luaKey], []), stop.signal),
    writer(replicated, stop.signal),
    writer(() => incrScript.run(redisScriptsWait, [luaWaitKey], []), stop.signal),
  ]);
  let after: number;
  let switchedMs: number;
  try {
    await sleep(1000);
    const started = performance.now();
    await cause(before);
    after = await waitFor('the sentinels to name a new master', async () => {
      const p = await set.masterPort();
      return p !== before ? p : undefined;
    }, 30_000, 100);
    switchedMs = performance.now() - started;
    // writes resume on the new master: its own counter moves
    const newMaster = after;
    const moving = Number((await set.cli(newMaster, 'GET', plainKey)) || 0);
    await waitFor('writes on the new master', async () => Number((await set.cli(newMaster, 'GET', plainKey)) || 0) > moving, 30_000, 50);
    await sleep(1000);
  } finally {
    // also on failure: running writers would keep the test process alive
    stop.abort();
  }
  const [plain, lua, wait, luaWait] = await writers;
  return {
    before,
    after,
    switchedMs,
    plain,
    lua,
    wait,
    luaWait,
    waitValue: Number(await set.cli(after, 'GET', waitKey)),
    luaWaitValue: Number(await set.cli(after, 'GET', luaWaitKey)),
    plainValue: Number(await set.cli(after, 'GET', plainKey)),
    luaValue: Number(await set.cli(after, 'GET', luaKey)),
  };
}

/**
 * Checks one run. Writes confirmed by WAIT 1 must all be there. A plain acknowledgement is not
 * a promise under Sentinel (asynchronous replication: the writes the old master accepts between
 * the promotion and the client's switch, or has not shipped yet when it dies, are gone — Redis
 * docs, Sentinel, "Consistency under partitions"), so those losses are measured and reported,
 * and only bounded from the other side: no increment without a write sent.
 */
function check(t: { diagnostic(msg: string): void }, what: string, r: Awaited<ReturnType<typeof throughFailover>>, gapBoundMs: number): void {
  const lost = (value: number, tally: Tally): number => Math.max(0, tally.acked - value);
  t.diagnostic(
    `${what}: master ${r.before} → ${r.after} named after ${r.switchedMs.toFixed(0)} ms; longest gap between acknowledged writes plain ${r.plain.longestGapMs.toFixed(0)} ms, lua ${r.lua.longestGapMs.toFixed(0)} ms; ` +
      `plain acked ${r.plain.acked} lost ${lost(r.plainValue, r.plain)}; lua acked ${r.lua.acked} lost ${lost(r.luaValue, r.lua)}; WAIT-confirmed acked ${r.wait.acked} lost ${lost(r.waitValue, r.wait)}; ` +
      `lua with waitReplicas=1 acked ${r.luaWait.acked} (refused ${r.luaWait.errors}) lost ${lost(r.luaWaitValue, r.luaWait)}`,
  );
  assert.ok(r.waitValue >= r.wait.acked, `a write the replica had confirmed was lost: ${r.waitValue} < ${r.wait.acked}`);
  assert.ok(r.luaWaitValue >= r.luaWait.acked, `a script run with waitReplicas=1 was lost: ${r.luaWaitValue} < ${r.luaWait.acked}`);
  assert.ok(r.luaWait.acked > 0, 'the waitReplicas=1 writer got no script through');
  // + 1: ioredis resends the command in flight when its connection drops
  // (autoResendUnfulfilledCommands); after a crash the dead master may have run it already, and
  // then it runs twice (seen once, kill -9: 7,835 increments of 7,834 writes). The services'
  // scripts are compare-and-set, so a second run changes nothing.
  for (const [tally, value] of [[r.plain, r.plainValue], [r.lua, r.luaValue], [r.wait, r.waitValue], [r.luaWait, r.luaWaitValue]] as const) {
    assert.ok(value <= tally.attempted + 1, `more increments than writes sent (+ 1 resent): ${value} > ${tally.attempted} + 1`);
  }
  for (const tally of [r.plain, r.lua]) assert.ok(tally.longestGapMs < gapBoundMs, `writes stopped for ${tally.longestGapMs.toFixed(0)} ms`);
}

test('SENTINEL FAILOVER mid-run: writes and Lua scripts resume on the new master; no replica-confirmed write lost', async (t) => {
  const r = await throughFailover('graceful', async () => {
    assert.equal(await set.cli(set.sentinelPorts[0] ?? 0, 'SENTINEL', 'failover', set.name), 'OK');
  });
  check(t, 'SENTINEL FAILOVER', r, 5_000);
});

// Failed 1 run in 9 before: the client had not written to the promoted replica 30 s after the
// sentinels named it. The same showed in bench/faults (seed 411): ioredis had ended the client for
// good on a reconnect its failover detector aborted (redis/ioredis#1683); connectRedis now
// connects again (kit connections.ts keepConnecting; test/integration/redis-reconnect). 5 of 5
// runs passed with it.
test('kill -9 of the master mid-run: writes and Lua scripts resume on the promoted replica; no replica-confirmed write lost', async (t) => {
  // down-after-milliseconds 1000 + election + promotion: about 2.5 s measured
  const r = await throughFailover('crash', async (master) => set.kill(master));
  check(t, 'kill -9', r, 10_000);
});
