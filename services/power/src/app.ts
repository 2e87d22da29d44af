import PQueue from 'p-queue';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { Events, isSwarmbootError, type BmcDriver, type PowerCompleted, type PowerFailed, type PowerRequested } from '@swarmboot/contracts';
import type { EventBus, Logger } from '@swarmboot/kit';
import type { BmcInventory, BmcTarget } from './domain/inventory.js';
import { withRetry, type RetryPolicy } from './domain/retry.js';
import type { DriverResult, PowerDriver } from './drivers/driver.js';

/** The durable consumer name power replicas share (JetStream hands each request to one of them). */
export const PowerConsumer = 'power';

/** Limits of the power service. */
export interface PowerLimits {
  /** BMC operations (one attempt each) running at once (SWARMBOOT_POWER_MAX_IN_FLIGHT) */
  maxInFlight: number;
  /** BMC operations started per second, at most (SWARMBOOT_POWER_RATE_PER_SECOND) */
  ratePerSecond: number;
  retry: RetryPolicy;
  /**
   * request coalescing window, ms (SWARMBOOT_POWER_COALESCE_MS; 0: off): a request for a node and
   * action already in flight shares its BMC operation, and a `pxe-boot`, `on` or `off` that arrives
   * within this time of the same one completing is answered from it without a BMC operation
   */
  coalesceMs: number;
}

/**
 * Actions a second request shortly after a completed one must not repeat: `on`/`off` would find
 * the node so already; a second `pxe-boot` would restart a node in the middle of the boot the
 * first one started (a wave's request and a recovery retry of the same node). `cycle` and
 * `status` are repeated when asked again: each asks for something new.
 */
const Idempotent: ReadonlySet<PowerRequested['action']> = new Set(['pxe-boot', 'on', 'off']);

export interface PowerDeps {
  log: Logger;
  /** undefined: `handle` only (tests of the core); `start` needs it */
  bus?: EventBus | undefined;
  registry: Registry;
  inventory: BmcInventory;
  drivers: Readonly<Record<BmcDriver, PowerDriver>>;
  limits: PowerLimits;
}

/** What a request ends in; the edge (`start`) publishes it. */
export type PowerOutcome = { kind: 'completed'; data: PowerCompleted } | { kind: 'failed'; data: PowerFailed };

/** The same outcome for a request that shared another's BMC operation (pure). */
export function coalescedOutcome(o: PowerOutcome, req: PowerRequested, durationMs: number): PowerOutcome {
  const own = { requestId: req.requestId, coalescedWith: o.data.coalescedWith ?? o.data.requestId, durationMs };
  return o.kind === 'completed' ? { kind: 'completed', data: { ...o.data, ...own } } : { kind: 'failed', data: { ...o.data, ...own } };
}

export interface Power {
  /** The core: carries out one request (BMC lookup, rate-limited attempts, retries) and says how it ended. */
  handle(req: PowerRequested): Promise<PowerOutcome>;
  /** Consumes swarmboot.power.requested (durable consumer `power`) and publishes each outcome. */
  start(): Promise<void>;
  /** Stops consuming, aborts the retries' waits (unfinished requests are redelivered), drains the queue. */
  close(): Promise<void>;
  /** operations waiting for a slot + running (health, tests) */
  readonly load: { queued: number; running: number };
}

/**
 * The power service: power requests in, BMC operations through a queue that bounds concurrency
 * (maxInFlight) and start rate (ratePerSecond) — 500 nodes of one deployment reach their BMCs
 * spread out, not in one second — and completed/failed events out.
 */
export function buildPower(deps: PowerDeps): Power {
  const { log, registry, inventory, drivers, limits } = deps;
  // one start every 1000/rate ms rather than `rate` at once each second: no burst at the window edge
  const queue = new PQueue({ concurrency: limits.maxInFlight, intervalCap: 1, interval: Math.max(1, Math.round(1000 / limits.ratePerSecond)) });
  const shutdown = new AbortController();
  let stopConsumer: (() => Promise<void>) | undefined;

  const operations = new Counter({
    name: 'swarmboot_power_operations_total',
    help: 'power requests by driver, action and outcome (completed, or the failure code)',
    labelNames: ['driver', 'action', 'outcome'] as const,
    registers: [registry],
  });
  const coalesced = new Counter({
    name: 'swarmboot_power_coalesced_total',
    help: 'power requests answered from another request of the same node and action (in flight, or completed within SWARMBOOT_POWER_COALESCE_MS) without a BMC operation of their own',
    labelNames: ['action', 'with'] as const,
    registers: [registry],
  });
  /** node id + action → the request whose BMC operation is running */
  const inFlight = new Map<string, Promise<PowerOutcome>>();
  /** node id + action → the last completed one, while it is within the window */
  const recent = new Map<string, { at: number; outcome: PowerOutcome }>();
  const retries = new Counter({ name: 'swarmboot_power_retries_total', help: 'BMC attempts that failed and were retried, by driver and code', labelNames: ['driver', 'code'] as const, registers: [registry] });
  const duration = new Histogram({
    name: 'swarmboot_power_operation_duration_seconds',
    help: 'from a power request’s arrival to its result (queueing and retries included), by driver and action',
    labelNames: ['driver', 'action'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  new Gauge({
    name: 'swarmboot_power_queue',
    help: 'BMC operations waiting for a slot (state=queued) or running (state=running)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.set({ state: 'queued' }, queue.size);
      this.set({ state: 'running' }, queue.pending);
    },
  });

  /**
   * The core with coalescing in front of it: a request whose node and action are in flight waits
   * for that operation's outcome; an idempotent one within `coalesceMs` of the same completed
   * operation gets its outcome at once. Per replica: requests that JetStream hands to two replicas
   * are not coalesced.
   */
  function handle(req: PowerRequested): Promise<PowerOutcome> {
    if (limits.coalesceMs <= 0) return operate(req);
    const started = performance.now();
    const key = `${req.nodeId}\u0000${req.action}`;
    const running = inFlight.get(key);
    if (running !== undefined) {
      coalesced.inc({ action: req.action, with: 'in-flight' });
      return running.then((o) => {
        log.info({ requestId: req.requestId, nodeId: req.nodeId, action: req.action, coalescedWith: o.data.requestId }, 'power request shares the BMC operation in flight');
        return coalescedOutcome(o, req, performance.now() - started);
      });
    }
    const last = recent.get(key);
    if (last !== undefined && Idempotent.has(req.action) && performance.now() - last.at < limits.coalesceMs) {
      coalesced.inc({ action: req.action, with: 'recent' });
      log.info({ requestId: req.requestId, nodeId: req.nodeId, action: req.action, coalescedWith: last.outcome.data.requestId, agoMs: Math.round(performance.now() - last.at) }, 'power request answered by the same one just completed');
      return Promise.resolve(coalescedOutcome(last.outcome, req, performance.now() - started));
    }
    const op = operate(req).then((o) => {
      const now = performance.now();
      for (const [k, v] of recent) if (now - v.at >= limits.coalesceMs) recent.delete(k);
      if (o.kind === 'completed') recent.set(key, { at: now, outcome: o });
      return o;
    });
    inFlight.set(key, op);
    const forget = (): void => void inFlight.delete(key);
    op.then(forget, forget);
    return op;
  }

  async function operate(req: PowerRequested): Promise<PowerOutcome> {
    const started = performance.now();
    const base = { requestId: req.requestId, nodeId: req.nodeId, action: req.action };
    const rlog = log.child({ requestId: req.requestId, nodeId: req.nodeId, action: req.action });
    let target: BmcTarget;
    try {
      target = inventory.resolve(req);
    } catch (err) {
      const code = isSwarmbootError(err) ? err.code : 'INTERNAL';
      rlog.warn({ code }, (err as Error).message);
      operations.inc({ driver: 'none', action: req.action, outcome: code });
      return { kind: 'failed', data: { ...base, attempts: 0, durationMs: performance.now() - started, code, message: (err as Error).message } };
    }
    const driver = drivers[target.ref.driver];
    const blog = rlog.child({ driver: driver.name, bmc: target.ref.address });
    const result = await withRetry<DriverResult>(
      limits.retry,
      shutdown.signal,
      () => queue.add(() => driver.run(req.action, target, shutdown.signal), { signal: shutdown.signal, throwOnTimeout: true }),
      (err, n) => {
        const code = isSwarmbootError(err) ? err.code : 'INTERNAL';
        retries.inc({ driver: driver.name, code });
        blog.warn({ code, attempt: n }, `BMC attempt failed, retrying: ${(err as Error).message}`);
      },
    );
    const durationMs = performance.now() - started;
    duration.observe({ driver: driver.name, action: req.action }, durationMs / 1000);
    if (result.ok) {
      operations.inc({ driver: driver.name, action: req.action, outcome: 'completed' });
      blog.info({ attempts: result.attempts, durationMs: Math.round(durationMs), powerState: result.value.powerState }, 'power request completed');
      return { kind: 'completed', data: { ...base, driver: driver.name, attempts: result.attempts, durationMs, powerState: result.value.powerState } };
    }
    const err = result.error;
    const code = isSwarmbootError(err) ? err.code : 'INTERNAL';
    const message = err instanceof Error ? err.message : String(err);
    operations.inc({ driver: driver.name, action: req.action, outcome: code });
    blog.error({ code, attempts: result.attempts, durationMs: Math.round(durationMs) }, `power request failed: ${message}`);
    return { kind: 'failed', data: { ...base, driver: driver.name, attempts: result.attempts, durationMs, code, message } };
  }

  return {
    handle,
    async start() {
      const bus = deps.bus;
      if (bus === undefined) throw new Error('buildPower: start() needs a bus');
      stopConsumer = await bus.consume(
        Events.powerRequested,
        PowerConsumer,
        async (req) => {
          const outcome = await handle(req);
          if (outcome.kind === 'completed') await bus.publish(Events.powerCompleted, outcome.data, req.nodeId);
          else await bus.publish(Events.powerFailed, outcome.data, req.nodeId);
        },
        // every request waits in the queue, not in JetStream: the queue applies the limits; the
        // consumer only needs to keep it fed (a request's retries hold no slot while they wait)
        { from: 'new', concurrency: Math.max(limits.maxInFlight * 4, 64) },
      );
    },
    async close() {
      shutdown.abort(new Error('power service stopping'));
      await stopConsumer?.();
      queue.clear();
      await queue.onIdle();
    },
    get load() {
      return { queued: queue.size, running: queue.pending };
    },
  };
}

