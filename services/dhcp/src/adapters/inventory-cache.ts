import type { Redis } from 'ioredis';
import { Events } from '@swarmboot/contracts';
import { NodeInventory, type EventBus, type InventoryNode, type Logger } from '@swarmboot/kit';
import type { NodeDirectory, NodeInfo } from '../domain/leases.js';

/**
 * The scheduler's inventory (MAC → node id, hostname) held in memory, so that answering a
 * DHCP request never waits for an inventory read: loaded from Redis at start (kit's
 * `NodeInventory.list`), refreshed per node on `Events.nodeStateChanged` (core NATS
 * subscription; subject id = node id), and reloaded in full every `reloadMs` (default 60 s) to
 * catch registrations that changed no state.
 * `lookupByMac` reads Redis for a MAC it does not know and remembers the answer; the server
 * only waits for that read as long as the lease write takes (see app.ts). Not started, the
 * cache is a plain read-through directory.
 */
const MISS_TTL_MS = 10_000;

export class InventoryCache implements NodeDirectory {
  private readonly inventory: NodeInventory;
  private byMac = new Map<string, NodeInfo>();
  /** MACs Redis did not know, until when (ms): a storm of unknown clients reads Redis once per MAC and 10 s */
  private misses = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    redis: Redis,
    private readonly log: Logger,
    private readonly reloadMs = 60_000,
  ) {
    this.inventory = new NodeInventory(redis);
  }

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

  /** Replaces the whole map from Redis (nodes without a MAC are skipped). */
  async reload(): Promise<void> {
    const next = new Map<string, NodeInfo>();
    for (const node of await this.inventory.list()) {
      if (node.mac !== undefined) next.set(node.mac, nodeInfo(node));
    }
    this.byMac = next;
    this.misses.clear();
  }

  /** Re-reads one node. */
  async refresh(nodeId: string): Promise<void> {
    const node = await this.inventory.byId(nodeId);
    if (node?.mac !== undefined) {
      this.byMac.set(node.mac, nodeInfo(node));
      this.misses.delete(node.mac);
    }
  }

  async lookupByMac(mac: string): Promise<NodeInfo | undefined> {
    const hit = this.byMac.get(mac);
    if (hit !== undefined) return hit;
    const now = Date.now();
    if ((this.misses.get(mac) ?? 0) > now) return undefined;
    const node = await this.inventory.byMac(mac);
    if (node === undefined) {
      if (this.misses.size > 100_000) this.misses.clear();
      this.misses.set(mac, now + MISS_TTL_MS);
      return undefined;
    }
    this.misses.delete(mac);
    const info = nodeInfo(node);
    this.byMac.set(mac, info);
    return info;
  }
}

function nodeInfo(node: InventoryNode): NodeInfo {
  return node.hostname === undefined ? { nodeId: node.id } : { nodeId: node.id, hostname: node.hostname };
}
