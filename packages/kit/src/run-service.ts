import type { Server } from 'node:http';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import type { LevelWithSilent } from 'pino';
import { EventBus } from './bus.js';
import { connectNats, connectRedis } from './connections.js';
import { Lifecycle } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { Registry, startOpsServer, type HealthCheck } from './ops.js';

/**
 * How a service uses NATS. `required`: start-up fails with NATS_UNAVAILABLE without it.
 * `optional`: the URL `none` runs the service standalone — no connection, `bus` undefined.
 */
export interface NatsNeed {
  /** SWARMBOOT_NATS_URL */
  url: string;
  need: 'required' | 'optional';
  /** SWARMBOOT_NATS_REPLICAS: JetStream replicas of the stream (connectNats); undefined keeps what exists */
  replicas?: number | undefined;
}

export interface RedisNeed {
  /** SWARMBOOT_REDIS_URL: one server or `redis+sentinel://…` (connectRedis) */
  url: string;
}

/** `bus` as the service sees it: always there for `required`, maybe for `optional`, never without NATS. */
export type BusFor<N extends NatsNeed | undefined> = N extends { need: 'required' } ? EventBus : N extends { need: 'optional' } ? EventBus | undefined : undefined;
export type RedisFor<R extends RedisNeed | undefined> = R extends RedisNeed ? Redis : undefined;

/** What `runService` hands the service's `start`. */
export interface ServiceContext<N extends NatsNeed | undefined, R extends RedisNeed | undefined> {
  /** the root logger (`svc` bound); components take `log.child({ component })` */
  log: Logger;
  /** register each listener's closer here as soon as it listens; closers run in reverse order */
  lifecycle: Lifecycle;
  /** the ops endpoint's metrics registry */
  registry: Registry;
  /** events, CloudEvents source `swarmboot/<svc>`; undefined when standalone */
  bus: BusFor<N>;
  redis: RedisFor<R>;
  /**
   * The one fatal path: a listener that died after start-up calls this; the process stops every
   * closer and exits 1.
   */
  onFatal: (err: unknown) => void;
}

/** What `start` may hand back: health checks of its own, next to `redis` and `nats`. */
export interface ServiceStarted {
  checks?: Record<string, HealthCheck>;
}

export interface ServiceSpec<N extends NatsNeed | undefined, R extends RedisNeed | undefined> {
  /** short name: the logger's `svc`, the NATS connection `swarmboot-<svc>`, the CloudEvents source `swarmboot/<svc>` */
  svc: string;
  /** SWARMBOOT_LOG_LEVEL; default info */
  logLevel?: LevelWithSilent | undefined;
  /** pino redaction paths of the root logger (createLogger): the service's secrets */
  redact?: readonly string[];
  /** where /healthz and /metrics listen (SWARMBOOT_OPS_LISTEN) */
  ops: { host: string; port: number };
  /** absent: the service does not use NATS */
  nats?: N;
  /** absent: the service does not use Redis */
  redis?: R;
  /** builds the service and starts its listeners; resolves once they listen */
  start(ctx: ServiceContext<N, R>): Promise<ServiceStarted | void>;
  /** ends the process after a signal (0) or a fatal error (1); default `process.exit`, injected by tests */
  exit?: (code: number) => void;
}

/**
 * The skeleton every service starts through. In order: the root logger and the Lifecycle
 * (SIGTERM/SIGINT handled from here on), Redis, NATS and the EventBus as the spec asks, the
 * service's `start`, then the ops endpoint (`/healthz` with `redis` ping, `nats` not closed and the
 * service's own checks; `/metrics`). Closers run in reverse: ops, the service's listeners, NATS
 * drain, Redis quit.
 *
 * One fatal path, exit 1: `onFatal` (a listener died), the NATS connection closing outside
 * shutdown, the ops server's `error` event.
 *
 * Resolves once everything listens; the process then lives on its sockets. Throws (after stopping
 * what it started) REDIS_UNAVAILABLE, NATS_UNAVAILABLE, or whatever `start` or the ops bind threw.
 */
export async function runService<const N extends NatsNeed | undefined = undefined, const R extends RedisNeed | undefined = undefined>(spec: ServiceSpec<N, R>): Promise<void> {
  const log = createLogger(spec.svc, spec.logLevel, spec.redact);
  const lifecycle = new Lifecycle(log, spec.exit);
  const onFatal = (err: unknown): void => lifecycle.fail(err);
  lifecycle.handleSignals();
  try {
    let redis: Redis | undefined;
    if (spec.redis !== undefined) {
      const r = await connectRedis(spec.redis.url, log);
      lifecycle.add('redis', async () => void (await r.quit()));
      redis = r;
    }
    let nc: NatsConnection | undefined;
    const standalone = spec.nats === undefined || (spec.nats.need === 'optional' && spec.nats.url === 'none');
    if (spec.nats !== undefined && !standalone) {
      const c = await connectNats(spec.nats.url, `swarmboot-${spec.svc}`, log, { replicas: spec.nats.replicas });
      lifecycle.add('nats', () => c.drain());
      // with unlimited reconnects the connection only closes for good on a fatal error (auth, …)
      void c.closed().then((err) => {
        if (!lifecycle.stopped) onFatal(err ?? new Error('NATS connection closed'));
      });
      nc = c;
    }
    const registry = new Registry();
    const started = await spec.start({
      log,
      lifecycle,
      registry,
      bus: (nc === undefined ? undefined : new EventBus(nc, `swarmboot/${spec.svc}`, log.child({ component: 'bus' }))) as BusFor<N>,
      redis: redis as RedisFor<R>,
      onFatal,
    });

    const checks: Record<string, HealthCheck> = {};
    if (redis !== undefined) {
      const r = redis;
      checks['redis'] = async () => (await r.ping()) === 'PONG';
    }
    if (nc !== undefined) {
      const c = nc;
      checks['nats'] = () => !c.isClosed();
    }
    const ops: Server = await startOpsServer({ ...spec.ops, registry, log, checks: { ...checks, ...started?.checks } });
    ops.on('error', onFatal);
    lifecycle.add('ops', () => {
      const closed = new Promise<void>((resolve) => ops.close(() => resolve()));
      // a monitoring client's keep-alive connection must not hold shutdown for its idle timeout
      ops.closeAllConnections();
      return closed;
    });
  } catch (err) {
    await lifecycle.stop();
    throw err;
  }
}
