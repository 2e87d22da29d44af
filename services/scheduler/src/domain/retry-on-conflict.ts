import { SwarmbootError } from '@swarmboot/contracts';

/**
 * How often a compare-and-set that lost a race is re-decided on fresh state before giving up.
 * Not measured: each loss means another replica (or a concurrent request) changed the same node
 * between our read and our write, which settles within a round or two; five is ample.
 */
export const CAS_ATTEMPTS = 5;

/**
 * What an attempt returns when its compare-and-set found the state changed since it was read
 * (the store's `stale` result). `message` and `context` become the CONFLICT error if this was
 * the last attempt.
 */
export class Conflict {
  constructor(
    readonly message: string,
    readonly context?: Record<string, unknown>,
  ) {}
}

/**
 * Runs `attempt(n)` (n = 1, 2, …) until it returns something other than a {@link Conflict}, at
 * most `attempts` times, and resolves with that value. Each attempt must re-read the state it
 * decides on: a conflict means what it read is out of date.
 *
 * Only a returned `Conflict` is retried; an error thrown by an attempt propagates at once.
 * Throws SwarmbootError `CONFLICT` (message and context of the last conflict) once every attempt
 * conflicted.
 */
export async function retryOnConflict<T>(attempts: number, attempt: (n: number) => Promise<T | Conflict>): Promise<T> {
  let last: Conflict | undefined;
  for (let n = 1; n <= attempts; n++) {
    const r = await attempt(n);
    if (!(r instanceof Conflict)) return r;
    last = r;
  }
  throw new SwarmbootError('CONFLICT', last?.message ?? `no attempt made (attempts ${attempts})`, { context: last?.context });
}
