import type { Redis } from 'ioredis';
import { Events, RedisKeys } from '@swarmboot/contracts';
import type { EventBus, Logger } from '@swarmboot/kit';
import type { NodeDirectory, NodeInfo } from '../domain/leases.js';

/**
 * The scheduler's inventory (MAC → node id, hostname) held in memory, so that answering a
 * DHCP request never waits for an inventory read: loaded from Redis at start
 * (`RedisKeys.nodes` → `RedisKeys.node(id)`.mac/hostname), refreshed per node on
 * `Events.nodeStateChanged` (core NATS subscription; subject id = node id), and reloaded in full
 * every `reloadMs` (default 60 s) to catch registrations that changed no state.
 * `lookupByMac` reads Redis for a MAC it does not know and remembers the answer; the server
 * only waits for that read as long as the lease write takes (see app.ts).
 */
const MISS_TTL_MS = 10_000;

export class InventoryCache implements NodeDirectory {
  private byMac = new Map<string, NodeInfo>();
  /** MACs Redis did not know, until when (ms): a storm of unknown clients reads Redis once per MAC and 10 s */
  private misses = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly reloadMs = 60_000,
  ) {}

  /** Number of MACs known. */
  get size(): number {
    return this.byMac.size;
  }

  /** The cached entry of `mac`, without I/O. */
  peek(mac: string): NodeInfo | undefined {
    return this.byMac.get(mac);
  }

  /** Loads every node; subscribes to state changes when `bus` is given. */
  async start(bus?: Pick<EventBus, 'subscribe'>): Promise<void> {
    await this.reload();
    if (bus !== undefined) {
      this.unsubscribe = bus.subscribe(Events.nodeStateChanged, (data) => {
        this.refresh(data.nodeId).catch((err: unknown) => this.log.debug({ err, nodeId: data.nodeId }, 'inventory refresh failed'));
      });
    }
    this.timer = setInterval(() => {
      this.reload().catch((err: unknown) => this.log.warn({ err }, 'inventory reload failed'));
    }, this.reloadMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.unsubscribe?.();
  }

  /** Replaces the whole map from Redis. */
  async reload(): Promise<void> {
    const ids = await this.redis.zrange(RedisKeys.nodes, 0, -1);
    const next = new Map<string, NodeInfo>();
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const pipe = this.redis.pipeline();
      for (const id of chunk) pipe.hmget(RedisKeys.node(id), 'mac', 'hostname');
      const res = (await pipe.exec()) ?? [];
      res.forEach(([err, v], k) => {
        if (err) return;
        const [mac, hostname] = v as [string | null, string | null];
        if (mac) next.set(mac.toLowerCase(), hostname ? { nodeId: chunk[k]!, hostname } : { nodeId: chunk[k]! });
      });
    }
    this.byMac = next;
    this.misses.clear();
  }

  /** Re-reads one node. */
  async refresh(nodeId: string): Promise<void> {
    const [mac, hostname] = await this.redis.hmget(RedisKeys.node(nodeId), 'mac', 'hostname');
    if (mac) {
      this.byMac.set(mac.toLowerCase(), hostname ? { nodeId, hostname } : { nodeId });
      this.misses.delete(mac.toLowerCase());
    }
  }

  async lookupByMac(mac: string): Promise<NodeInfo | undefined> {
    const hit = this.byMac.get(mac);
    if (hit !== undefined) return hit;
    const now = Date.now();
    if ((this.misses.get(mac) ?? 0) > now) return undefined;
    const nodeId = await this.redis.get(RedisKeys.nodeByMac(mac));
    if (nodeId === null || nodeId === '') {
      if (this.misses.size > 100_000) this.misses.clear();
      this.misses.set(mac, now + MISS_TTL_MS);
      return undefined;
    }
    this.misses.delete(mac);
    const hostname = await this.redis.hget(RedisKeys.node(nodeId), 'hostname');
    const info = hostname === null || hostname === '' ? { nodeId } : { nodeId, hostname };
    this.byMac.set(mac, info);
    return info;
  }
}
