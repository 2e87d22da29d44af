import type { TSchema } from '@sinclair/typebox';
import { Events, type EventDef } from '@swarmboot/contracts';

/**
 * Webhooks, the decisions without I/O: which events go out, to whom, and when a delivery is
 * retried and after how long.
 */

/**
 * The scheduler's durable events, delivered to webhooks: a deployment's creation, node state
 * transitions (every one, with the deployment and the failure reason) and a deployment's completion. Progress is left out: it
 * is chatty core-NATS data, and a ticketing system wants outcomes.
 */
export const WEBHOOK_EVENTS: readonly EventDef<TSchema>[] = [Events.deploymentCreated, Events.nodeStateChanged, Events.jobCompleted];

/** Their CloudEvents `type`s (`swarmboot.node.state`, `swarmboot.job.completed`), what a webhook's `types` filter names. */
export const WEBHOOK_EVENT_TYPES: readonly string[] = WEBHOOK_EVENTS.map((e) => e.type);

/** Does a webhook with this filter get an event of `type`? No filter: every webhook event. */
export function wantsEvent(types: readonly string[] | undefined, type: string): boolean {
  return types === undefined || types.includes(type);
}

/** What one attempt's result means for the delivery. */
export type AttemptVerdict = 'delivered' | 'retry' | 'reject';

/**
 * An HTTP answer (`status`) or a failure without one (`undefined`: network error, timeout) →
 * verdict. 2xx is delivered. 429 (RFC 6585 §4), 408 and 5xx are the receiver's passing trouble,
 * as is a network error or timeout: retried. Any other answer (3xx: we do not follow redirects to
 * a URL the operator did not configure; 4xx: the receiver refuses this event) is final — sending
 * the same bytes again would get the same answer (Standard Webhooks, "Retry schedule").
 */
export function attemptVerdict(status: number | undefined): AttemptVerdict {
  if (status === undefined) return 'retry';
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'reject';
}

/** Backoff of the retries: the first retry waits up to `baseMs`, each next up to twice as long, never more than `capMs`. */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/**
 * Delay before retry number `retry` (1 = the first retry), ms: "full jitter", uniformly random in
 * [0, min(cap, base · 2^(retry−1))] (AWS Architecture Blog, "Exponential Backoff And Jitter",
 * 2015) — many events failing at once against one receiver do not come back in lockstep.
 * A `Retry-After` the receiver sent (RFC 9110 §10.2.3, in ms here) is honoured, up to `capMs`.
 * `random` returns [0, 1) (Math.random; tests pass their own).
 */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: () => number = Math.random, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, retry - 1));
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs === undefined ? jittered : Math.min(policy.capMs, Math.max(jittered, retryAfterMs));
}

/**
 * A `Retry-After` header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) → ms from `now`;
 * undefined when absent or unparseable (then the backoff alone decides).
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
