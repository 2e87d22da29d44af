import pRetry from 'p-retry';
import { isSwarmbootError } from '@swarmboot/contracts';
import { RetryableCodes } from '../drivers/driver.js';

/** The retry policy of BMC operations (SWARMBOOT_POWER_RETRIES, _RETRY_BASE_MS, _RETRY_MAX_MS). */
export interface RetryPolicy {
  /** retries after the first attempt */
  retries: number;
  /** first delay, ms; doubled per retry */
  baseMs: number;
  /** delay cap, ms */
  maxMs: number;
}

/** What withRetry ends with: the value, or the error that ended the retries; `attempts` ≥ 1. */
export type RetryResult<T> = { ok: true; value: T; attempts: number } | { ok: false; error: unknown; attempts: number };

/**
 * Runs `attempt` until it resolves, retrying the errors of RetryableCodes with exponential backoff
 * (base, 2·base, 4·base … capped at max; no jitter: the rate limit of the queue already spreads the
 * retries of many BMCs). `onRetry` hears each failure that will be retried.
 * Resolves `{ ok, value | error, attempts }` — never rejects, except with `signal`'s reason when it
 * aborts (shutdown: the request is left unacknowledged for another replica).
 */
export async function withRetry<T>(policy: RetryPolicy, signal: AbortSignal, attempt: (n: number) => Promise<T>, onRetry: (err: unknown, n: number) => void): Promise<RetryResult<T>> {
  let attempts = 0;
  try {
    const value = await pRetry(
      async (n) => {
        attempts = n;
        return attempt(n);
      },
      {
        retries: policy.retries,
        factor: 2,
        minTimeout: policy.baseMs,
        maxTimeout: policy.maxMs,
        randomize: false,
        signal,
        shouldRetry: (err) => isSwarmbootError(err) && RetryableCodes.has(err.code),
        onFailedAttempt: (err) => {
          if (err.retriesLeft > 0 && isSwarmbootError(err) && RetryableCodes.has(err.code)) onRetry(err, err.attemptNumber);
        },
      },
    );
    return { ok: true, value, attempts };
  } catch (error) {
    if (signal.aborted) throw error;
    return { ok: false, error, attempts };
  }
}
