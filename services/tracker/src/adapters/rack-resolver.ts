import type { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';
import { normalizeMac } from '@swarmboot/kit';

/**
 * A node's `rack` inventory label from the address it announces from: the DHCP lease owning
 * the address (RedisKeys.leaseByIp → chaddr), the node with that MAC (nodeByMac), its labels
 * (node hash field `labels`, JSON). Answers are cached for `ttlMs`: announces come every
 * interval from every node and racks do not move during an install.
 */
export class RackResolver {
  private readonly cache = new Map<string, { rack: string | undefined; expires: number }>();

  constructor(
    private readonly redis: Redis,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 100_000,
  ) {}

  /** The cached rack of `ip` (undefined: no label, or not resolved yet). */
  cached(ip: string): string | undefined {
    return this.cache.get(ip)?.rack;
  }

  /** Resolves every ip not cached (three pipelined round trips for all of them together). */
  async resolve(ips: readonly string[]): Promise<void> {
    const now = this.now();
    const todo = [...new Set(ips)].filter((ip) => (this.cache.get(ip)?.expires ?? 0) <= now);
    if (todo.length === 0) return;
    const chaddrs = await this.redis.mget(...todo.map((ip) => RedisKeys.leaseByIp(ip)));
    const macs = chaddrs.map((c) => (c ? normalizeMac(c) : undefined));
    const withMac = macs.flatMap((m, i) => (m ? [{ i, m }] : []));
    const ids = withMac.length ? await this.redis.mget(...withMac.map((x) => RedisKeys.nodeByMac(x.m))) : [];
    const pipe = this.redis.pipeline();
    const asked: number[] = [];
    ids.forEach((id, k) => {
      if (id) {
        pipe.hget(RedisKeys.node(id), 'labels');
        asked.push(withMac[k]?.i ?? -1);
      }
    });
    const racks = new Array<string | undefined>(todo.length).fill(undefined);
    if (asked.length) {
      const res = (await pipe.exec()) ?? [];
      res.forEach(([err, labels], k) => {
        if (err || typeof labels !== 'string') return;
        try {
          const rack = (JSON.parse(labels) as Record<string, unknown>).rack;
          if (typeof rack === 'string' && rack !== '') racks[asked[k] ?? -1] = rack;
        } catch {
          // a malformed labels field is no rack
        }
      });
    }
    if (this.cache.size + todo.length > this.maxEntries) this.cache.clear();
    todo.forEach((ip, i) => this.cache.set(ip, { rack: racks[i], expires: now + this.ttlMs }));
  }
}
