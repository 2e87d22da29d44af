/**
 * A rate meter (bytes/s) for the swarm's hot path: `meter(delta)` records `delta` bytes and
 * returns the rate, `meter()` only reads it. The rate is the bytes of the last `windowMs` over
 * that window, or over the time since the first call while that is shorter (at least one
 * bucket), so a fresh wire's pipeline grows with what it really receives.
 *
 * Replaces bittorrent-protocol's and webtorrent's `throughput` meters (one per wire, direction,
 * torrent and client, each called per 16 KiB block): they read `process.hrtime()` on every call,
 * and with webtorrent's per-request reads that was 9 % of a node's CPU in bench/swarm (256 MB,
 * unshaped, N = 1: hrtime 112 ms + throughput 94 ms of 2.0 CPU-s). Here a call reads a shared
 * coarse clock and does a few additions: `windowMs / BUCKETS` buckets, a running sum. Measured
 * the same way: the node's CPU for 256 MB went from 2.06–2.17 s to 1.78–1.88 s.
 */
export type RateMeter = (delta?: number) => number;

const BUCKETS = 10;

let coarse: number | undefined;
const forget = (): void => {
  coarse = undefined;
};

/**
 * `performance.now()` read once per turn of the event loop, shared by every meter (forgotten in
 * setImmediate). A clock read costs about 1.1 µs on this machine (no TSC clock source): with a
 * read per meter call it was 114 ms of 2.2 CPU-s in the bench/swarm run above. Not a timer: a
 * 10 ms interval woke every idle node 100 times a second, 32 processes on 2 cores at N = 32.
 */
function coarseNow(): number {
  if (coarse === undefined) {
    coarse = performance.now();
    setImmediate(forget);
  }
  return coarse;
}

export function rateMeter(windowMs = 1000, now: () => number = coarseNow): RateMeter {
  const bucketMs = windowMs / BUCKETS;
  const buckets = new Float64Array(BUCKETS);
  const start = now();
  /** index (since `start`, in buckets) of the newest bucket */
  let head = 0;
  let sum = 0;
  return (delta?: number): number => {
    const t = now();
    const at = Math.floor((t - start) / bucketMs);
    if (at > head) {
      // buckets that fell out of the window are emptied (at most all of them)
      for (let k = head + 1; k <= Math.min(at, head + BUCKETS); k++) {
        sum -= buckets[k % BUCKETS]!;
        buckets[k % BUCKETS] = 0;
      }
      head = at;
    }
    if (delta !== undefined && delta > 0) {
      buckets[head % BUCKETS]! += delta;
      sum += delta;
    }
    const spanMs = Math.min(windowMs, Math.max(bucketMs, t - start));
    return (sum * 1000) / spanMs;
  };
}
