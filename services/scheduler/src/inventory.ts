import { SwarmbootError, type Node, type NodeInput } from '@swarmboot/contracts';
import type { Logger } from '@swarmboot/kit';
import type { SchedulerStore, StoredNode, TimelineEntry } from './adapters/store.js';
import { normalizeNodes } from './domain/inventory.js';
import { decodeCursor, encodeCursor } from './protocol/cursor.js';

export interface InventoryDeps {
  store: SchedulerStore;
  log: Logger;
}

/** The registered nodes: registration and import, and what is known of each (record, timeline, log lines). */
export class Inventory {
  private readonly store: SchedulerStore;
  private readonly log: Logger;

  constructor(deps: InventoryDeps) {
    this.store = deps.store;
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

  /** The node's state changes, oldest first. Throws NODE_NOT_FOUND. */
  async timeline(nodeId: string, limit: number): Promise<{ nodeId: string; entries: TimelineEntry[] }> {
    await requireNode(this.store, nodeId);
    return { nodeId, entries: await this.store.readTimeline(nodeId, limit) };
  }

  /** The node's log lines after stream id `after`, oldest first. Throws NODE_NOT_FOUND. */
  async logs(nodeId: string, limit: number, after: string | undefined): Promise<{ lines: { id: string; line: unknown }[] }> {
    await requireNode(this.store, nodeId);
    return { lines: await this.store.readLogs(nodeId, limit, after) };
  }
}

/** The stored record of node `id`. Throws NODE_NOT_FOUND. */
export async function requireNode(store: SchedulerStore, id: string): Promise<StoredNode> {
  const node = await store.getNode(id);
  if (!node) throw new SwarmbootError('NODE_NOT_FOUND', `no node ${id}`, { context: { nodeId: id } });
  return node;
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
