/**
 * Which swarms the tracker serves: only those of images registered in the catalog
 * (`RedisKeys.imageInfoHashes`), so a stray or mistyped torrent cannot make the tracker
 * a general-purpose one.
 */

/** Looks an infohash (40 lower-case hex digits) up; the image name, or undefined when unknown. */
export type InfoHashLookup = (infoHash: string) => Promise<string | undefined>;

export interface AdmissionOptions {
  /** how long a positive answer is trusted (ms); a replaced image stops being served after this */
  ttlMs?: number;
  /** most infohashes cached; the oldest entry is dropped beyond this */
  maxEntries?: number;
  /** clock (ms), for tests */
  now?: () => number;
}

/**
 * Admission of infohashes with a small in-memory positive cache. Every peer re-announces every
 * interval, so a 1,000-node swarm makes ~17 announces/s at a 60 s interval; the cache answers
 * those without a Redis round trip. Unknown infohashes are not cached: an image registered a
 * moment ago must be accepted at once.
 */
export class InfoHashAdmission {
  private readonly cache = new Map<string, { name: string; expires: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly lookup: InfoHashLookup,
    opts: AdmissionOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.maxEntries = opts.maxEntries ?? 1024;
    this.now = opts.now ?? Date.now;
  }

  /** The image name of a registered infohash, or undefined. Lookup errors propagate. */
  async admit(infoHash: string): Promise<string | undefined> {
    const key = infoHash.toLowerCase();
    const hit = this.cache.get(key);
    const now = this.now();
    if (hit && hit.expires > now) return hit.name;
    if (hit) this.cache.delete(key);
    const name = await this.lookup(key);
    if (name === undefined) return undefined;
    if (this.cache.size >= this.maxEntries) {
      // Map iterates in insertion order: the first key is the oldest entry
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(key, { name, expires: now + this.ttlMs });
    return name;
  }

  /** Number of cached infohashes (for tests and metrics). */
  get size(): number {
    return this.cache.size;
  }
}
