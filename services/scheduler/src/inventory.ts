import { SwarmbootError, TimelineSource, type Node, type NodeInput, type NodeTimeline, type TimelineEntry } from '@swarmboot/contracts';
import type { Logger } from '@swarmboot/kit';
import type { SchedulerStore, StoredNode } from './adapters/store.js';
import type { TimelineStore } from './adapters/timeline-store.js';
import { normalizeNodes } from './domain/inventory.js';
import { decodeCursor, encodeCursor } from './protocol/cursor.js';

export interface InventoryDeps {
  store: SchedulerStore;
  timeline: TimelineStore;
  log: Logger;
}

/** What GET /v1/nodes/:id/timeline asks: the newest `limit` entries of `sources` (default all) at or after `since` (ms). */
export interface TimelineQuery {
  limit: number;
  sinceMs?: number | undefined;
  sources?: readonly TimelineSource[] | undefined;
}

/** Sources in the order entries of the same millisecond are listed (the order they happen in on a boot). */
const SOURCE_ORDER: readonly TimelineSource[] = Object.values(TimelineSource);

/** The registered nodes: registration and import, and what is known of each (record, timeline, log lines). */
export class Inventory {
  private readonly store: SchedulerStore;
  private readonly timelines: TimelineStore;
  private readonly log: Logger;

  constructor(deps: InventoryDeps) {
    this.store = deps.store;
    this.timelines = deps.timeline;
    this.log = deps.log;
  }

  /** POST /v1/nodes. Throws VALIDATION, NODE_EXISTS, MAC_IN_USE, HOSTNAME_IN_USE. */
  async registerNode(input: NodeInput): Promise<{ created: boolean; node: Node }> {
    const [reg] = normalizeNodes([input], 'VALIDATION', () => `node ${input.id}`);
    const r = await this.store.upsertNodes([reg!]);
    if (r.kind === 'conflict') throw conflictError(r.code, reg!.id, r.owner, `node ${reg!.id}`);
    const node = await this.store.getNode(reg!.id);
    if (!node) throw new SwarmbootError('NODE_NOT_FOUND', `node ${reg!.id} vanished after registration`);
    return { created: r.imported === 1, node: toPublicNode(node) };
  }

  /**
   * POST /v1/nodes/import: all or nothing. `where(i)` names entry i in errors (`line 7`).
   * Throws IMPORT_INVALID (400), or NODE_EXISTS / MAC_IN_USE / HOSTNAME_IN_USE (409) for conflicts with stored nodes.
   */
  async importNodes(inputs: readonly NodeInput[], where: (i: number) => string): Promise<{ imported: number; updated: number }> {
    const regs = normalizeNodes(inputs, 'IMPORT_INVALID', where);
    if (regs.length === 0) return { imported: 0, updated: 0 };
    const r = await this.store.upsertNodes(regs);
    if (r.kind === 'conflict') throw conflictError(r.code, regs[r.index]?.id ?? '?', r.owner, where(r.index));
    this.log.info({ imported: r.imported, updated: r.updated }, 'nodes imported');
    return { imported: r.imported, updated: r.updated };
  }

  /** GET /v1/nodes: a page of at most `limit` nodes in registration order, after `cursor`. Throws CURSOR_INVALID. */
  async listNodes(limit: number, cursor: string | undefined): Promise<{ nodes: Node[]; nextCursor?: string }> {
    const { nodes, next } = await this.store.pageNodes(limit, cursor === undefined ? undefined : decodeCursor('nodes', cursor));
    const page = nodes.map(toPublicNode);
    return next === undefined ? { nodes: page } : { nodes: page, nextCursor: encodeCursor('nodes', next) };
  }

  /** Throws NODE_NOT_FOUND. */
  async getNode(id: string): Promise<Node> {
    return toPublicNode(await requireNode(this.store, id));
  }

  /**
   * The node's flight recorder: its leases, boot-file transfers, state changes, swarm progress,
   * failure classifications, power actions and log lines merged in time order, oldest first — the newest
   * `q.limit` of those at or after `q.sinceMs`, `truncated` when older ones were left out.
   * Throws NODE_NOT_FOUND.
   */
  async timeline(nodeId: string, q: TimelineQuery): Promise<NodeTimeline> {
    await requireNode(this.store, nodeId);
    const sources = new Set(q.sources ?? SOURCE_ORDER);
    const all = await this.timelines.read(nodeId, sources, q.sinceMs ?? 0, q.limit);
    return { nodeId, ...newest(all, q.limit) };
  }

  /** The node's log lines after stream id `after`, oldest first. Throws NODE_NOT_FOUND. */
  async logs(nodeId: string, limit: number, after: string | undefined): Promise<{ lines: { id: string; line: unknown }[] }> {
    await requireNode(this.store, nodeId);
    return { lines: await this.store.readLogs(nodeId, limit, after) };
  }
}

/** The newest `limit` of `entries` (several sources, each in time order) in time order; ties by source, then id. */
export function newest(entries: readonly TimelineEntry[], limit: number): { entries: TimelineEntry[]; truncated: boolean } {
  const keyed = entries.map((e) => ({ e, ms: Date.parse(e.at), rank: SOURCE_ORDER.indexOf(e.source) }));
  keyed.sort((a, b) => a.ms - b.ms || a.rank - b.rank || (a.e.id < b.e.id ? -1 : a.e.id > b.e.id ? 1 : 0));
  return { entries: keyed.slice(-limit).map((k) => k.e), truncated: keyed.length > limit };
}

/** The stored record of node `id`. Throws NODE_NOT_FOUND. */
export async function requireNode(store: SchedulerStore, id: string): Promise<StoredNode> {
  const node = await store.getNode(id);
  if (!node) throw nodeNotFound(id);
  return node;
}

/** NODE_NOT_FOUND for node `id`. */
export function nodeNotFound(id: string): SwarmbootError {
  return new SwarmbootError('NODE_NOT_FOUND', `no node ${id}`, { context: { nodeId: id } });
}

/** A node as the API shows it (without the fields only the scheduler uses). */
export function toPublicNode(n: StoredNode): Node {
  const { createdAt: _c, wave: _w, ...pub } = n;
  return pub;
}

function conflictError(code: 'NODE_EXISTS' | 'MAC_IN_USE' | 'HOSTNAME_IN_USE', id: string, owner: string, where: string): SwarmbootError {
  const msg = code === 'NODE_EXISTS' ? `node ${id} exists with another MAC` : code === 'MAC_IN_USE' ? `the MAC is already used by node ${owner}` : `the hostname is already used by node ${owner}`;
  return new SwarmbootError(code, where.startsWith('node ') ? msg : `${where}: ${msg}`, { context: { nodeId: id, owner } });
}
