import { randomBytes } from 'node:crypto';
import { NodeState, SwarmbootError, type Deployment, type DeploymentInput, type DeploymentSummary } from '@swarmboot/contracts';
import type { ImageCatalog, Logger } from '@swarmboot/kit';
import type { DeploymentRecord, SchedulerStore, StoredNode } from './adapters/store.js';
import { planAdmission, waveOf } from './domain/admission.js';
import { CAS_ATTEMPTS, Conflict, retryOnConflict } from './domain/retry-on-conflict.js';
import { matchesSelector, parseSelector } from './domain/selector.js';
import { decodeCursor, encodeCursor } from './protocol/cursor.js';
import { admissionSteps, isActive } from './domain/state-machine.js';
import { toPublicNode } from './inventory.js';
import type { NodeLifecycle } from './node-lifecycle.js';

export interface DeploymentsDeps {
  store: SchedulerStore;
  catalog: ImageCatalog;
  log: Logger;
  /** announces admissions and releases installed nodes */
  lifecycle: Pick<NodeLifecycle, 'admitted' | 'transition'>;
  /** whether the install environment can be served; a deployment to real nodes is refused otherwise */
  bootenvAvailable: () => Promise<boolean>;
}

/** Deployments: an image onto a set of nodes, admitted in one compare-and-set, later released. */
export class Deployments {
  constructor(private readonly deps: DeploymentsDeps) {}

  /**
   * POST /v1/deployments. Throws IMAGE_NOT_FOUND, NODE_NOT_FOUND, NO_NODES, NODE_BUSY, VALIDATION,
   * CONFLICT (the nodes kept changing while the deployment was created); for real nodes (target
   * `node`, the default) also IMAGE_NOT_BOOTABLE (the image cannot boot a machine on its own) and
   * BOOTENV_MISSING (no install environment to serve).
   */
  async createDeployment(input: DeploymentInput): Promise<Deployment> {
    const image = await this.deps.catalog.get(input.image);
    if (!image) throw new SwarmbootError('IMAGE_NOT_FOUND', `no image named ${input.image}`, { context: { image: input.image } });
    const target = input.target ?? 'node';
    if (target === 'node') {
      if (!image.bootable) {
        throw new SwarmbootError('IMAGE_NOT_BOOTABLE', `image ${image.name} is not marked bootable (no kernel and boot loader of its own): real nodes could not start it; add it with bootable=true, or deploy with target "emulated"`, { context: { image: image.name } });
      }
      if (!(await this.deps.bootenvAvailable())) {
        throw new SwarmbootError('BOOTENV_MISSING', 'the install environment is not available (build it with scripts/build-bootenv.sh and set SWARMBOOT_BOOTENV_DIR, or SWARMBOOT_BOOTENV_URL)');
      }
    }
    const options = { target, afterInstall: input.afterInstall ?? 'reboot', lingerSeconds: input.lingerSeconds };
    if (input.nodes !== undefined && input.selector !== undefined) throw new SwarmbootError('VALIDATION', 'give nodes or selector, not both');
    const selector = input.selector === undefined ? undefined : parseSelector(input.selector);
    const id = `dep-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const plan = await retryOnConflict(CAS_ATTEMPTS, async () => {
      let nodes: StoredNode[];
      if (input.nodes !== undefined) {
        const ids = [...new Set(input.nodes)];
        const found = await this.deps.store.getNodes(ids);
        const missing = ids.filter((_, i) => found[i] === undefined);
        if (missing.length > 0) throw new SwarmbootError('NODE_NOT_FOUND', `no such node: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`, { context: { nodes: missing } });
        nodes = found as StoredNode[];
      } else if (selector !== undefined) {
        nodes = (await this.deps.store.listNodes()).filter((n) => matchesSelector(n.labels, selector));
      } else {
        nodes = [];
      }
      if (nodes.length === 0) throw new SwarmbootError('NO_NODES', input.selector === undefined ? 'no nodes given (nodes or selector)' : `selector ${JSON.stringify(input.selector)} matches no node`);
      const busy = nodes.filter((n) => isActive(n.state));
      if (busy.length > 0) {
        throw new SwarmbootError('NODE_BUSY', `in an active deployment: ${busy.slice(0, 10).map((n) => `${n.id} (${n.state}, ${n.deploymentId ?? '-'})`).join(', ')}${busy.length > 10 ? ', …' : ''}`, { context: { nodes: busy.map((n) => n.id) } });
      }
      const waves = waveOf(planAdmission(nodes.map((n) => n.id)));
      const planned = nodes.map((n) => {
        const wave = waves.get(n.id);
        return { id: n.id, expectedState: n.state, expectedDeploymentId: n.deploymentId, steps: admissionSteps(wave !== undefined), wave };
      });
      const r = await this.deps.store.admit(id, image.name, options, planned);
      if (r.kind === 'exists') throw new SwarmbootError('CONFLICT', `deployment id ${id} exists`);
      if (r.kind === 'stale') return new Conflict(`node ${r.nodeId} changed while the deployment was created; retry`);
      return planned;
    });
    this.deps.log.info({ deploymentId: id, image: image.name, nodes: plan.length }, 'deployment created');
    await this.deps.lifecycle.admitted(id, plan);
    return this.getDeployment(id);
  }

  /** Throws DEPLOYMENT_NOT_FOUND. */
  async getDeployment(id: string): Promise<Deployment> {
    const rec = await this.deps.store.getDeployment(id);
    if (!rec) throw new SwarmbootError('DEPLOYMENT_NOT_FOUND', `no deployment ${id}`, { context: { deploymentId: id } });
    return this.deploymentView(rec);
  }

  /** GET /v1/deployments: a page of at most `limit` deployments, newest first, without node records, after `cursor`. Throws CURSOR_INVALID. */
  async listDeployments(limit: number, cursor: string | undefined): Promise<{ deployments: DeploymentSummary[]; nextCursor?: string }> {
    const { deployments, next } = await this.deps.store.pageDeployments(limit, cursor === undefined ? undefined : decodeCursor('deployments', cursor));
    const page = await Promise.all(
      deployments.map(async (rec) => {
        const { nodes: _nodes, ...summary } = await this.deploymentView(rec);
        return summary;
      }),
    );
    return next === undefined ? { deployments: page } : { deployments: page, nextCursor: encodeCursor('deployments', next) };
  }

  /**
   * POST /v1/deployments/:id/release: the deployment becomes `released` and its installed nodes
   * `released` (nodes still installing are released as they finish). Idempotent. Throws DEPLOYMENT_NOT_FOUND.
   */
  async releaseDeployment(id: string): Promise<Deployment> {
    if (!(await this.deps.store.markReleased(id))) throw new SwarmbootError('DEPLOYMENT_NOT_FOUND', `no deployment ${id}`, { context: { deploymentId: id } });
    const rec = await this.deps.store.getDeployment(id);
    const nodes = await this.deps.store.getNodes(rec?.nodeIds ?? []);
    for (const n of nodes) {
      if (n && n.deploymentId === id && n.state === 'installed') await this.deps.lifecycle.transition(n.id, 'released', { origin: 'event', cause: 'deployment released' });
    }
    this.deps.log.info({ deploymentId: id }, 'deployment released');
    return this.getDeployment(id);
  }

  private async deploymentView(rec: DeploymentRecord): Promise<Deployment> {
    const nodes = (await this.deps.store.getNodes(rec.nodeIds)).filter((n): n is StoredNode => n !== undefined).map(toPublicNode);
    const counts: Record<string, number> = Object.fromEntries(Object.values(NodeState).map((s) => [s, 0]));
    for (const n of nodes) counts[n.state] = (counts[n.state] ?? 0) + 1;
    const d: Deployment = { id: rec.id, image: rec.image, state: rec.state, target: rec.target, createdAt: rec.createdAt, counts, nodes };
    if (rec.completedAt !== undefined) d.completedAt = rec.completedAt;
    return d;
  }
}
