import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import type { Redis } from 'ioredis';
import { isSwarmbootError } from '@swarmboot/contracts';
import { freePort, startNats, startRedis, waitFor, type Started } from '@swarmboot/testkit';
import { bindUdp, runService, type EventBus } from '../../src/index.js';

/* runService with real NATS and Redis; `exit` is injected so the test sees the exit code instead of ending. */

let nats: Started;
let redisSrv: Started;

before(async () => {
  [nats, redisSrv] = await Promise.all([startNats(), startRedis()]);
});
after(async () => {
  await Promise.all([nats?.stop(), redisSrv?.stop()]);
});

/** An `exit` stand-in: `code` resolves with the first exit code asked for. */
function exitProbe(): { exit: (code: number) => void; code: Promise<number> } {
  let exit!: (code: number) => void;
  const code = new Promise<number>((resolve) => (exit = resolve));
  return { exit, code };
}

const closed = (s: Socket): Promise<void> => new Promise((resolve) => s.once('close', () => resolve()));

async function healthz(port: number): Promise<{ status: number; body: { checks: Record<string, boolean> } }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, boolean> } };
}

test('a listener reported dead through onFatal closes what was started and exits 1', async () => {
  const opsPort = await freePort();
  const probe = exitProbe();
  let socket: Socket | undefined;
  let bus: EventBus | undefined;
  let redis: Redis | undefined;
  let fatal: ((err: unknown) => void) | undefined;
  await runService({
    svc: 'kit-test',
    logLevel: 'silent',
    ops: { host: '127.0.0.1', port: opsPort },
    nats: { url: nats.url, need: 'required' },
    redis: { url: redisSrv.url },
    exit: probe.exit,
    async start(ctx) {
      const s = await bindUdp({ host: '127.0.0.1', port: 0 });
      s.on('error', ctx.onFatal);
      ctx.lifecycle.add('udp', () => new Promise<void>((resolve) => s.close(() => resolve())));
      [socket, bus, redis, fatal] = [s, ctx.bus, ctx.redis, ctx.onFatal];
      return { checks: { udp: () => s.address().port > 0 } };
    },
  });
  const health = await healthz(opsPort);
  assert.equal(health.status, 200);
  assert.deepEqual(health.body.checks, { redis: true, nats: true, udp: true });

  const socketClosed = closed(socket!);
  fatal!(new Error('listener died'));
  assert.equal(await probe.code, 1);
  await socketClosed;
  assert.equal(bus!.nc.isClosed(), true);
  // QUIT was answered; the connection ends right after
  await waitFor('redis connection ended', () => redis!.status === 'end', 2000, 10);
  await assert.rejects(fetch(`http://127.0.0.1:${opsPort}/healthz`), 'the ops endpoint is closed');
});

test('the NATS connection closing outside shutdown is fatal: exit 1', async () => {
  const probe = exitProbe();
  let bus: EventBus | undefined;
  await runService({
    svc: 'kit-test',
    logLevel: 'silent',
    ops: { host: '127.0.0.1', port: await freePort() },
    nats: { url: nats.url, need: 'required' },
    exit: probe.exit,
    async start(ctx) {
      bus = ctx.bus;
    },
  });
  await bus!.nc.close();
  assert.equal(await probe.code, 1);
});

test('a failing start stops what was started (in reverse) and rethrows; exit is not called', async () => {
  let exited: number | undefined;
  let redis: Redis | undefined;
  let bus: EventBus | undefined;
  let socket: Socket | undefined;
  const boom = new Error('bind refused');
  await assert.rejects(
    runService({
      svc: 'kit-test',
      logLevel: 'silent',
      ops: { host: '127.0.0.1', port: await freePort() },
      nats: { url: nats.url, need: 'required' },
      redis: { url: redisSrv.url },
      exit: (code) => (exited = code),
      async start(ctx) {
        [redis, bus] = [ctx.redis, ctx.bus];
        const s = await bindUdp({ host: '127.0.0.1', port: 0 });
        ctx.lifecycle.add('udp', () => new Promise<void>((resolve) => s.close(() => resolve())));
        socket = s;
        throw boom;
      },
    }),
    (err: unknown) => err === boom,
  );
  // closing an already closed socket throws ERR_SOCKET_DGRAM_NOT_RUNNING: proof the closer ran
  assert.throws(() => socket!.close(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  assert.equal(bus!.nc.isClosed(), true);
  // QUIT was answered; the connection ends right after
  await waitFor('redis connection ended', () => redis!.status === 'end', 2000, 10);
  assert.equal(exited, undefined);
});

test('an unreachable NATS fails start-up with NATS_UNAVAILABLE after quitting Redis; start never runs', async () => {
  let started = false;
  let exited: number | undefined;
  const deadPort = await freePort();
  await assert.rejects(
    runService({
      svc: 'kit-test',
      logLevel: 'silent',
      ops: { host: '127.0.0.1', port: await freePort() },
      nats: { url: `nats://127.0.0.1:${deadPort}`, need: 'required' },
      redis: { url: redisSrv.url },
      exit: (code) => (exited = code),
      async start() {
        started = true;
      },
    }),
    (err: unknown) => isSwarmbootError(err, 'NATS_UNAVAILABLE'),
  );
  assert.equal(started, false);
  assert.equal(exited, undefined);
});

test("standalone: optional NATS with the URL 'none' connects nothing; bus undefined, no nats health check", async () => {
  const opsPort = await freePort();
  const probe = exitProbe();
  let bus: EventBus | undefined | 'unset' = 'unset';
  let fatal: ((err: unknown) => void) | undefined;
  await runService({
    svc: 'kit-test',
    logLevel: 'silent',
    ops: { host: '127.0.0.1', port: opsPort },
    nats: { url: 'none', need: 'optional' },
    exit: probe.exit,
    async start(ctx) {
      [bus, fatal] = [ctx.bus, ctx.onFatal];
    },
  });
  assert.equal(bus, undefined);
  const health = await healthz(opsPort);
  assert.equal(health.status, 200);
  assert.deepEqual(health.body.checks, {});
  fatal!(new Error('done'));
  assert.equal(await probe.code, 1);
});
