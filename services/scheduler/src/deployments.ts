import { randomBytes } from 'node:crypto';
import { Events, NodeState, SwarmbootError, type Deployment, type DeploymentInput, type DeploymentSummary, type ErrorCode } from '@swarmboot/contracts';
import { checkManifestMatches, keyIdOf, parsePublicKey, verifyImageManifest, type EventBus, type ImageCatalog, type Logger, type TrustedKey } from '@swarmboot/kit';
import type { DeploymentRecord, SchedulerStore, StoredNode } from './adapters/store.js';
import { canarySize, failureBudget, initialController } from './domain/admission.js';
import { CAS_ATTEMPTS, Conflict, retryOnConflict } from './domain/retry-on-conflict.js';
import { matchesSelector, parseSelector } from './domain/selector.js';
import { decodeCursor, encodeCursor } from './protocol/cursor.js';
import { TIMED_STATES, admissionSteps, isActive } from './domain/state-machine.js';
import { toPublicNode } from './inventory.js';
import type { NodeLifecycle } from './node-lifecycle.js';

export interface DeploymentsDeps {
  store: SchedulerStore;
  catalog: ImageCatalog;
  log: Logger;
  /** announces admissions, cancels and resumes, releases installed nodes */
  lifecycle: Pick<NodeLifecycle, 'admitted' | 'announceWave' | 'announce' | 'transition' | 'publishSafe'>;
  /** whether the install environment can be served; a deployment to real nodes is refused otherwise */
  bootenvAvailable: () => Promise<boolean>;
  /** the admission settings of a deployment that does not give its own */
  admission: AdmissionDefaults;
  /** told when a deployment may admit more (resumed) */
  kick: (deploymentId: string) => void;
  bus: EventBus;
  /** the keys a deployment trusts when it names none (SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE); empty: signatures not checked */
  trustedKeys?: readonly TrustedKey[];
}

/** The scheduler's admission defaults (SWARMBOOT_SCHEDULER_CANARY_SIZE, …_FAILURE_BUDGET, …_MAX_IN_FLIGHT, …_RATE_PER_SECOND). */
export interface AdmissionDefaults {
  canary: number;
  /** below 1 a fraction of the nodes, from 1 a count */
  failureBudget: number;
  maxInFlight: number;
  ratePerSecond: number;
}

/**
 * Deployments: an image onto a set of nodes, created with its canary wave admitted in one
 * compare-and-set (later waves: AdmissionControl), paused over its failure budget and resumed,
 * cancelled, released.
 */
export class Deployments {
  constructor(private readonly deps: DeploymentsDeps) {}

  /**
   * POST /v1/deployments. Throws IMAGE_NOT_FOUND, NODE_NOT_FOUND, NO_NODES, NODE_BUSY, VALIDATION,
   * CONFLICT (the nodes kept changing while the deployment was created); for real nodes (target
   * `node`, the default) also IMAGE_NOT_BOOTABLE (the image cannot boot a machine on its own) and
   * BOOTENV_MISSING (no install environment to serve). With trusted keys (the deployment's
   * `trustedKeys`, else the scheduler's default): SIGNING_KEY_INVALID (400, a key does not parse),
   * IMAGE_NOT_SIGNED, IMAGE_KEY_UNTRUSTED, IMAGE_SIGNATURE_INVALID, IMAGE_MANIFEST_MISMATCH (422):
   * refused here rather than by every node's agent.
   */
  async createDeployment(input: DeploymentInput): Promise<Deployment> {
    const trusted = input.trustedKeys === undefined ? (this.deps.trustedKeys ?? []) : input.trustedKeys.map((k, i) => parsePublicKey(k, `trustedKeys[${i}]`));
    const image = await this.deps.catalog.get(input.image);
    if (!image) throw new SwarmbootError('IMAGE_NOT_FOUND', `no image named ${input.image}`, { context: { image: input.image } });
    if (trusted.length > 0) {
      if (!image.signedManifest) throw new SwarmbootError('IMAGE_NOT_SIGNED', `image ${image.name} has no signed manifest and the deployment trusts keys ${trusted.map((k) => k.keyId).join(', ')}: sign it (swarmboot image sign)`, { context: { image: image.name } });
      verifyImageManifest(image.signedManifest, trusted);
      checkManifestMatches(image.signedManifest, image, 'catalog record');
    }
    const target = input.target ?? 'node';
    if (target === 'node') {
      if (!image.bootable) {
        throw new SwarmbootError('IMAGE_NOT_BOOTABLE', `image ${image.name} is not marked bootable (no kernel and boot loader of its own): real nodes could not start it; add it with bootable=true, or deploy with target "emulated"`, { context: { image: image.name } });
      }
      if (!(await this.deps.bootenvAvailable())) {
        throw new SwarmbootError('BOOTENV_MISSING', 'the install environment is not available (build it with scripts/build-bootenv.sh and set SWARMBOOT_BOOTENV_DIR, or SWARMBOOT_BOOTENV_URL)');
      }
    }
    const defaults = this.deps.admission;
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
      const options = {
        target,
        afterInstall: input.afterInstall ?? 'reboot',
        lingerSeconds: input.lingerSeconds,
        canary: input.canary ?? defaults.canary,
        failureBudget: failureBudget(input.failureBudget ?? defaults.failureBudget, nodes.length),
        maxInFlight: input.maxInFlight ?? defaults.maxInFlight,
        ratePerSecond: input.ratePerSecond ?? defaults.ratePerSecond,
        ...(trusted.length > 0 ? { trustedKeys: [...new Set(trusted.map((k) => k.raw))] } : {}),
      };
      // wave 0, the canary, boots at once; the rest wait for the admission controller
      const canary = canarySize(options.canary, nodes.length, options.maxInFlight);
      const planned = nodes.map((n, i) => {
        const wave = i < canary ? 0 : undefined;
        return { id: n.id, mac: n.mac, expectedState: n.state, expectedDeploymentId: n.deploymentId, steps: admissionSteps(wave !== undefined), wave };
      });
      const controller = initialController(canary, { maxInFlight: options.maxInFlight, ratePerSecond: options.ratePerSecond, holdMs: 0 }, Date.now());
      const r = await this.deps.store.admit(id, image.name, options, controller, planned);
      if (r.kind === 'exists') throw new SwarmbootError('CONFLICT', `deployment id ${id} exists`);
      if (r.kind === 'stale') return new Conflict(`node ${r.nodeId} changed while the deployment was created; retry`);
      return { planned, canary: planned.slice(0, canary), window: controller.window };
    });
    this.deps.log.info({ deploymentId: id, image: image.name, nodes: plan.planned.length, canary: plan.canary.length }, 'deployment created');
    await this.deps.lifecycle.admitted(plan.planned);
    await this.deps.lifecycle.announceWave({ deployment: { id, target }, wave: 0, nodes: plan.canary, window: plan.window, inFlight: plan.canary.length }, { stateChanges: false });
    return this.getDeployment(id);
  }

  /**
   * POST /v1/deployments/:id/resume: a paused deployment admits again, its failure budget counting
   * afresh. Resuming a running one changes nothing. Throws DEPLOYMENT_NOT_FOUND, DEPLOYMENT_FINISHED.
   */
  async resumeDeployment(id: string): Promise<Deployment> {
    const r = await this.deps.store.resume(id);
    if (r === 'missing') throw notFound(id);
    if (r === 'resumed') {
      this.deps.log.info({ deploymentId: id }, 'deployment resumed');
      await this.deps.lifecycle.publishSafe('deploymentResumed', () => this.deps.bus.publish(Events.deploymentResumed, { deploymentId: id }));
      this.deps.kick(id);
    } else if (r !== 'running') {
      throw new SwarmbootError('DEPLOYMENT_FINISHED', `deployment ${id} is ${r}; only a paused deployment resumes`, { context: { deploymentId: id, state: r } });
    }
    return this.getDeployment(id);
  }

  /**
   * POST /v1/deployments/:id/cancel, in one script: queued nodes go back to `registered` (never
   * touched, they keep their disks), nodes admitted or later and not finished to `failed` with
   * CANCELLED (their next boot script sends them to the local disk, their agents' reports are
   * refused), the deployment to `cancelled`. Installed nodes stay installed. Cancelling a
   * cancelled deployment answers it again (idempotent). Throws DEPLOYMENT_NOT_FOUND,
   * DEPLOYMENT_FINISHED (every node was already done).
   */
  async cancelDeployment(id: string): Promise<Deployment> {
    const rec = await this.deps.store.getDeployment(id);
    if (!rec) throw notFound(id);
    const reason = `${'CANCELLED' satisfies ErrorCode}: deployment ${id} cancelled`;
    const r = await this.deps.store.cancel(id, rec.nodeIds, reason, TIMED_STATES);
    if (r.kind === 'missing') throw notFound(id);
    if (r.kind === 'finished') {
      if (r.state === 'cancelled') return this.getDeployment(id);
      throw new SwarmbootError('DEPLOYMENT_FINISHED', `deployment ${id} is finished (${r.state}): nothing to cancel`, { context: { deploymentId: id, state: r.state } });
    }
    this.deps.log.info({ deploymentId: id, dequeued: r.dequeued.length, failed: r.failed.length }, 'deployment cancelled');
    await this.deps.lifecycle.announce([...r.dequeued.map(() => 'registered' as const), ...r.failed.map(() => 'failed' as const)]);
    await this.deps.lifecycle.publishSafe('deploymentCancelled', () => this.deps.bus.publish(Events.deploymentCancelled, { deploymentId: id, dequeued: r.dequeued.length, failed: r.failed.length }));
    return this.getDeployment(id);
  }

  /** Throws DEPLOYMENT_NOT_FOUND. */
  async getDeployment(id: string): Promise<Deployment> {
    const rec = await this.deps.store.getDeployment(id);
    if (!rec) throw notFound(id);
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
    if (!(await this.deps.store.markReleased(id))) throw notFound(id);
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
    if (rec.reason !== undefined) d.reason = rec.reason;
    if (rec.trustedKeys !== undefined && rec.trustedKeys.length > 0) d.trustedKeyIds = rec.trustedKeys.map((raw) => keyIdOf(Buffer.from(raw, 'base64')));
    if (rec.controller !== undefined) {
      d.admission = {
        window: Math.max(1, Math.floor(rec.controller.window)),
        waves: rec.waves,
        canary: rec.canary,
        maxInFlight: rec.maxInFlight,
        ratePerSecond: rec.ratePerSecond,
        failureBudget: rec.failureBudget,
      };
    }
    return d;
  }
}

function notFound(id: string): SwarmbootError {
  return new SwarmbootError('DEPLOYMENT_NOT_FOUND', `no deployment ${id}`, { context: { deploymentId: id } });
}
