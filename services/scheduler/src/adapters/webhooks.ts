import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import type { CloudEvent } from '@swarmboot/contracts';
import type { EventBus, Logger, Registry } from '@swarmboot/kit';
import type { WebhookTarget } from '../config.js';
import { WEBHOOK_EVENTS, attemptVerdict, backoffDelay, parseRetryAfter, wantsEvent, type BackoffPolicy } from '../domain/webhooks.js';
import { webhookRequest } from '../protocol/webhook.js';

/** Durable consumer of the webhook events: replicas share it, so each event goes out from one of them. */
export const WEBHOOK_CONSUMER = 'scheduler-webhooks';

/**
 * How one delivery ended — the label of `swarmboot_scheduler_webhook_deliveries_total`:
 * `delivered` (2xx), `rejected` (another final answer, e.g. 400: not retried), `exhausted` (every
 * attempt failed: dropped), `overflow` (the webhook's queue was full: dropped unsent),
 * `shutdown` (the scheduler stopped while it waited: dropped).
 */
export type WebhookOutcome = 'delivered' | 'rejected' | 'exhausted' | 'overflow' | 'shutdown';

/** Delivery settings shared by every webhook (SWARMBOOT_SCHEDULER_WEBHOOK_* variables). */
export interface WebhookDeliverySettings {
  /** attempts per delivery, the first included */
  attempts: number;
  backoff: BackoffPolicy;
  /** one attempt's limit, ms */
  timeoutMs: number;
  /** deliveries in flight per webhook */
  concurrency: number;
  /** events waiting per webhook */
  queueLength: number;
}

export interface WebhookDispatcherDeps {
  targets: readonly WebhookTarget[];
  settings: WebhookDeliverySettings;
  log: Logger;
  registry: Registry;
  /** jitter source, [0, 1) (default Math.random) */
  random?: () => number;
}

interface Outbox {
  target: WebhookTarget;
  signer: Webhook;
  waiting: CloudEvent<unknown>[];
  inFlight: number;
  /** last overflow warning, ms: one a minute at most, the counter has them all */
  warnedAt: number;
}

/**
 * Delivers events to the configured webhooks as signed CloudEvents (see `webhookRequest`), off
 * the caller's path: `enqueue` only queues (a bounded queue per webhook, so a slow or dead
 * receiver holds up nothing but its own queue), and up to `concurrency` deliveries per webhook
 * run in the background, each retried with backoff as `attemptVerdict` says, then dropped —
 * counted and logged. Nothing is kept across a restart: what is queued or retrying when
 * `close()` runs is dropped (outcome `shutdown`). Secrets and URLs are never logged (a URL may
 * carry a token): logs name the webhook.
 */
export class WebhookDispatcher {
  private readonly outboxes: Outbox[];
  private readonly closing = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private readonly random: () => number;
  private readonly metrics;

  constructor(private readonly deps: WebhookDispatcherDeps) {
    this.random = deps.random ?? Math.random;
    this.outboxes = deps.targets.map((target) => ({ target, signer: new Webhook(target.secret), waiting: [], inFlight: 0, warnedAt: 0 }));
    const registers = [deps.registry];
    this.metrics = {
      deliveries: new Counter({ name: 'swarmboot_scheduler_webhook_deliveries_total', help: 'webhook deliveries by how they ended (WebhookOutcome)', labelNames: ['webhook', 'outcome'], registers }),
      retries: new Counter({ name: 'swarmboot_scheduler_webhook_retries_total', help: 'webhook attempts after the first (network error, timeout, 408, 429, 5xx)', labelNames: ['webhook'], registers }),
    };
    const outboxes = this.outboxes;
    new Gauge({
      name: 'swarmboot_scheduler_webhook_queued',
      help: 'events waiting or in flight per webhook',
      labelNames: ['webhook'],
      registers,
      collect() {
        for (const o of outboxes) this.set({ webhook: o.target.name }, o.waiting.length + o.inFlight);
      },
    });
  }

  /** Queues `event` for every webhook whose filter takes its type; never waits, never throws. */
  enqueue(event: CloudEvent<unknown>): void {
    if (this.closing.signal.aborted) return;
    for (const o of this.outboxes) {
      if (!wantsEvent(o.target.types, event.type)) continue;
      if (o.waiting.length >= this.deps.settings.queueLength) {
        this.count(o, 'overflow');
        const now = Date.now();
        if (now - o.warnedAt >= 60_000) {
          o.warnedAt = now;
          this.deps.log.warn({ webhook: o.target.name, queueLength: this.deps.settings.queueLength }, 'webhook queue full: events dropped (see swarmboot_scheduler_webhook_deliveries_total{outcome="overflow"})');
        }
        continue;
      }
      o.waiting.push(event);
      this.pump(o);
    }
  }

  /** Stops: aborts attempts and waits in flight, drops the queues (counted `shutdown`) and resolves when every delivery has ended. */
  async close(): Promise<void> {
    this.closing.abort();
    for (const o of this.outboxes) {
      for (const _ of o.waiting) this.count(o, 'shutdown');
      o.waiting.length = 0;
    }
    await Promise.all(this.running);
  }

  private pump(o: Outbox): void {
    while (o.inFlight < this.deps.settings.concurrency && o.waiting.length > 0) {
      const event = o.waiting.shift() as CloudEvent<unknown>;
      o.inFlight++;
      const run = this.deliver(o, event).finally(() => {
        o.inFlight--;
        this.running.delete(run);
        this.pump(o);
      });
      this.running.add(run);
    }
  }

  /** One delivery: attempts until a final answer, the attempts are used up, or close(). */
  private async deliver(o: Outbox, event: CloudEvent<unknown>): Promise<void> {
    const { attempts, backoff, timeoutMs } = this.deps.settings;
    const log = this.deps.log.child({ webhook: o.target.name, eventId: event.id, type: event.type });
    for (let attempt = 1; ; attempt++) {
      const req = webhookRequest(event, o.signer, new Date());
      let status: number | undefined;
      let retryAfterMs: number | undefined;
      let failure: string | undefined;
      try {
        const res = await fetch(o.target.url, {
          method: 'POST',
          headers: req.headers,
          body: req.body,
          // a redirect is an answer (reject): we post only where the operator pointed us
          redirect: 'manual',
          signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(timeoutMs)]),
        });
        status = res.status;
        retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), Date.now());
        await res.body?.cancel();
      } catch (err) {
        if (this.closing.signal.aborted) return this.count(o, 'shutdown');
        failure = (err as Error).name === 'TimeoutError' ? 'timeout' : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
      }
      const verdict = attemptVerdict(status);
      if (verdict === 'delivered') {
        log.debug({ status, attempt }, 'webhook delivered');
        return this.count(o, 'delivered');
      }
      if (verdict === 'reject') {
        log.warn({ status, attempt }, 'webhook refused the event: not retried');
        return this.count(o, 'rejected');
      }
      if (attempt >= attempts) {
        log.warn({ status, failure, attempts }, 'webhook delivery failed every attempt: dropped');
        return this.count(o, 'exhausted');
      }
      const delay = backoffDelay(attempt, backoff, this.random, retryAfterMs);
      log.debug({ status, failure, attempt, delayMs: delay }, 'webhook attempt failed: retrying');
      this.metrics.retries.inc({ webhook: o.target.name });
      try {
        await sleep(delay, undefined, { signal: this.closing.signal });
      } catch {
        return this.count(o, 'shutdown');
      }
    }
  }

  private count(o: Outbox, outcome: WebhookOutcome): void {
    this.metrics.deliveries.inc({ webhook: o.target.name, outcome });
  }
}

/**
 * Feeds the scheduler's webhook events from JetStream into the dispatcher, through the durable
 * consumer `scheduler-webhooks` (one per event type, whatever the filters, so that none is left
 * behind at an old position when the filters change): created at the first start with deliver
 * policy `new` (a new webhook does not get the stream's week of history), it then resumes where
 * it stopped, so events published while no scheduler ran go out after the next start. The
 * handler only queues, so the ack follows at once. Returns a stop function.
 */
export async function startWebhookConsumers(bus: EventBus, dispatcher: WebhookDispatcher, log: Logger): Promise<() => Promise<void>> {
  const stops = await Promise.all(WEBHOOK_EVENTS.map((def) => bus.consume(def, WEBHOOK_CONSUMER, async (_data, event) => dispatcher.enqueue(event), { from: 'new' })));
  log.info({ consumer: WEBHOOK_CONSUMER, types: WEBHOOK_EVENTS.map((e) => e.type) }, 'delivering events to webhooks');
  return async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
}
