import type { NodeInventory } from '@swarmboot/kit';

/**
 * Nodes' `rack` inventory labels by the address they announce from (kit's
 * `NodeInventory.racksOf`), cached for `ttlMs`: announces come every interval from every node and
 * racks do not move during an install.
 */
export class RackResolver {
  private readonly cache = new Map<string, { rack: string | undefined; expires: number }>();

  constructor(
    private readonly inventory: Pick<NodeInventory, 'racksOf'>,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 100_000,
  ) {}

  /** The cached rack of `ip` (undefined: no label, or not resolved yet). */
  cached(ip: string): string | undefined {
    return this.cache.get(ip)?.rack;
  }

  /** Resolves every ip not cached, all of them in one batch. */
  async resolve(ips: readonly string[]): Promise<void> {
    const now = this.now();
    const todo = [...new Set(ips)].filter((ip) => (this.cache.get(ip)?.expires ?? 0) <= now);
    if (todo.length === 0) return;
    const racks = await this.inventory.racksOf(todo);
    if (this.cache.size + todo.length > this.maxEntries) this.cache.clear();
    todo.forEach((ip, i) => this.cache.set(ip, { rack: racks[i], expires: now + this.ttlMs }));
  }
}
