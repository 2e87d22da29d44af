import { SwarmbootError, type Node, type NodePatch } from '@swarmboot/contracts';
import type { Logger } from '@swarmboot/kit';
import type { NodeVersions } from './adapters/node-versions.js';
import { CAS_ATTEMPTS, Conflict, retryOnConflict } from './domain/retry-on-conflict.js';
import { formatEtag, parseIfMatch } from './protocol/etag.js';
import { nodeNotFound, toPublicNode } from './inventory.js';

/** A node as the API shows it, with its entity tag (RFC 9110 §8.8.3). */
export interface TaggedNode {
  node: Node;
  etag: string;
}

/**
 * Reads and changes of one node guarded by entity tags: GET /v1/nodes/:id answers an ETag, a
 * PATCH with If-Match changes the node only if it is still the one the client read (RFC 9110
 * §13.1.1), so two operators editing the same node cannot overwrite each other unseen.
 */
export class NodeUpdates {
  constructor(private readonly deps: { versions: NodeVersions; log: Logger }) {}

  /** Throws NODE_NOT_FOUND. */
  async get(id: string): Promise<TaggedNode> {
    const v = await this.deps.versions.read(id);
    if (v === undefined) throw nodeNotFound(id);
    return { node: toPublicNode(v.node), etag: formatEtag(v.version) };
  }

  /**
   * PATCH /v1/nodes/:id: merges `patch.labels` (RFC 7396: null removes a key) into the node's
   * labels. With `ifMatch` (the If-Match field value) the node must still have one of its tags
   * (`*`: exist) — else PRECONDITION_FAILED, nothing changed; the check and the write are one
   * compare-and-set in Redis. Without it the merge is re-applied on fresh state when another write
   * won the race (CONFLICT after CAS_ATTEMPTS). Throws NODE_NOT_FOUND.
   */
  async patch(id: string, patch: NodePatch, ifMatch: string | undefined): Promise<TaggedNode> {
    const pre = ifMatch === undefined ? undefined : parseIfMatch(ifMatch);
    const done = await retryOnConflict(CAS_ATTEMPTS, async () => {
      const cur = await this.deps.versions.read(id);
      if (cur === undefined) throw nodeNotFound(id);
      if (pre !== undefined && !pre.any && !pre.versions.includes(cur.version)) throw stale(id);
      const labels: Record<string, string> = { ...cur.node.labels };
      for (const [k, v] of Object.entries(patch.labels ?? {})) {
        if (v === null) delete labels[k];
        else labels[k] = v;
      }
      const r = await this.deps.versions.setLabels(id, cur.version, labels);
      if (r.kind === 'missing') throw nodeNotFound(id);
      if (r.kind === 'stale') {
        // the client's tag was current when read and is not now: its precondition failed
        if (pre !== undefined && !pre.any) throw stale(id);
        return new Conflict(`node ${id} kept changing; retry`, { nodeId: id });
      }
      return r;
    });
    this.deps.log.info({ nodeId: id, labels: Object.keys(patch.labels ?? {}) }, 'node labels changed');
    return { node: toPublicNode(done.node), etag: formatEtag(done.version) };
  }
}

function stale(id: string): SwarmbootError {
  return new SwarmbootError('PRECONDITION_FAILED', `node ${id} changed since it was read (If-Match names no current ETag); GET it again and redo the change`, { context: { nodeId: id } });
}
