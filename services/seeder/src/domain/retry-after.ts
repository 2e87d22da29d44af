/**
 * Retry-After (RFC 9110 §10.2.3, delay-seconds) of a request for an image this seeder replica is
 * still fetching from the swarm: about the time its download still needs at its mean rate so far,
 * within [RETRY_AFTER_MIN_S, RETRY_AFTER_MAX_S]. Without a rate yet (no peer so far, or the
 * torrent just added) RETRY_AFTER_UNKNOWN_S.
 *
 * Not measured: the bounds are choices. A client asked to wait comes back within a minute even
 * for a large image, since another replica behind the same Service may serve it by then; and one
 * second is the header's resolution.
 */
export const RETRY_AFTER_MIN_S = 1;
export const RETRY_AFTER_MAX_S = 60;
/** a tracker round trip and the first pieces on a cluster network take well under this; a guess, not a measurement */
export const RETRY_AFTER_UNKNOWN_S = 5;

/** `remaining` bytes at `bytesPerSecond` → whole seconds to wait. */
export function retryAfterSeconds(remaining: number, bytesPerSecond: number): number {
  if (!(bytesPerSecond > 0) || !Number.isFinite(remaining)) return RETRY_AFTER_UNKNOWN_S;
  return Math.min(RETRY_AFTER_MAX_S, Math.max(RETRY_AFTER_MIN_S, Math.ceil(Math.max(0, remaining) / bytesPerSecond)));
}
