import type { NodeInventory } from '@swarmboot/kit';

/** Where nodes are looked up: kit's `NodeInventory` (DHCP leases and the scheduler's indexes). */
export type NodeDirectory = Pick<NodeInventory, 'byIp' | 'byHostname'>;

/** The node id lines from unmapped senders are filed under (kept, not lost). */
export const UNKNOWN_NODE = 'unknown';

/** How a sender was mapped: the `result` label of `swarmboot_logsink_lines_mapped_total`. */
export type MappingResult = 'lease' | 'hostname' | 'unknown';

export interface NodeMapping {
  nodeId: string;
  by: MappingResult;
}

export interface NodeMapperOptions {
  /** how long a lookup (also a miss) is reused (ms); default 5000 */
  ttlMs?: number;
  /** cache entries per kind (ip, hostname) before the oldest are evicted; default 10000 */
  maxEntries?: number;
  /** clock (ms), for tests */
  now?: () => number;
  /** called when a lookup fails (the line is then filed under `unknown`, nothing cached) */
  onLookupError?: (err: unknown) => void;
}

interface Entry {
  value: Promise<string | undefined>;
  expires: number;
  /** the lookup has answered (`result` holds its node id, undefined for a miss) */
  settled: boolean;
  result: string | undefined;
}

/**
 * Maps a syslog sender to a node: by source IP through its DHCP lease first (the address is what
 * the network vouches for), else by the HOSTNAME the message claims, else `unknown`.
 *
 * Lookups are cached for `ttlMs`, misses included, and concurrent lookups of one key share one
 * promise: a boot storm of N lines from one node costs at most one lookup per key per TTL
 * instead of 2 Redis round trips per line, and lines awaiting the same lookup keep their order.
 */
export class NodeMapper {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly byIp = new Map<string, Entry>();
  private readonly byHost = new Map<string, Entry>();

  constructor(
    private readonly directory: NodeDirectory,
    private readonly opts: NodeMapperOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 5000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  async map(ip: string, hostname: string | undefined): Promise<NodeMapping> {
    const byLease = await this.cached(this.byIp, ip, async () => (await this.directory.byIp(ip))?.id);
    if (byLease !== undefined) return { nodeId: byLease, by: 'lease' };
    if (hostname !== undefined && hostname !== '') {
      const byName = await this.cached(this.byHost, hostname, async () => (await this.directory.byHostname(hostname))?.id);
      if (byName !== undefined) return { nodeId: byName, by: 'hostname' };
    }
    return { nodeId: UNKNOWN_NODE, by: 'unknown' };
  }

  /**
   * `map` without waiting: the mapping when every lookup it needs is cached, unexpired and
   * answered, else undefined (then call `map`). The log sink's path for all but a sender's first
   * lines: no promise per line. A line that gets an answer here never overtakes an earlier line
   * of the same sender, which would still be waiting on the same (unanswered) lookups.
   */
  mapNow(ip: string, hostname: string | undefined): NodeMapping | undefined {
    const t = this.now();
    const byIp = this.byIp.get(ip);
    if (byIp === undefined || !byIp.settled || byIp.expires <= t) return undefined;
    if (byIp.result !== undefined) return { nodeId: byIp.result, by: 'lease' };
    if (hostname !== undefined && hostname !== '') {
      const byHost = this.byHost.get(hostname);
      if (byHost === undefined || !byHost.settled || byHost.expires <= t) return undefined;
      if (byHost.result !== undefined) return { nodeId: byHost.result, by: 'hostname' };
    }
    return { nodeId: UNKNOWN_NODE, by: 'unknown' };
  }

  /** Forgets every cached mapping. */
  clear(): void {
    this.byIp.clear();
    this.byHost.clear();
  }

  private cached(cache: Map<string, Entry>, key: string, lookup: () => Promise<string | undefined>): Promise<string | undefined> {
    const t = this.now();
    const hit = cache.get(key);
    if (hit && hit.expires > t) return hit.value;
    if (hit) cache.delete(key);
    if (cache.size >= this.maxEntries) {
      // Map iterates in insertion order: drop the oldest tenth rather than one per insert.
      let drop = Math.max(1, Math.floor(this.maxEntries / 10));
      for (const k of cache.keys()) {
        if (drop-- <= 0) break;
        cache.delete(k);
      }
    }
    const entry: Entry = { value: Promise.resolve(undefined), expires: t + this.ttlMs, settled: false, result: undefined };
    entry.value = lookup().then(
      (result) => {
        entry.result = result;
        entry.settled = true;
        return result;
      },
      (err: unknown) => {
        // Do not remember a failure: the next line retries (unless a newer lookup replaced us).
        if (cache.get(key) === entry) cache.delete(key);
        this.opts.onLookupError?.(err);
        return undefined;
      },
    );
    cache.set(key, entry);
    return entry.value;
  }
}
