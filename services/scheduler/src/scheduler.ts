import { randomBytes } from 'node:crypto';
import {
  Events,
  NodeState,
  SwarmbootError,
  type AgentReport,
  type AgentReportReply,
  type Deployment,
  type DeploymentInput,
  type InstallManifest,
  type LeaseGranted,
  type Node,
  type NodeInput,
  type TftpTransfer,
} from '@swarmboot/contracts';
import { normalizeMac, type EventBus, type ImageCatalog, type Logger, type Registry } from '@swarmboot/kit';
import { Counter } from 'prom-client';
import type { SchedulerStore, StoredNode, DeploymentRecord, CasResult } from './adapters/store.js';
import { normalizeNodes } from './domain/inventory.js';
import { planAdmission, waveOf } from './domain/admission.js';
import { matchesSelector, parseSelector } from './domain/selector.js';
import { admissionSteps, bootDecision, canRetry, canTransition, classifyReport, finishedAs, isActive, mayInstall, stageTarget } from './domain/state-machine.js';
import { environmentScript, installScript, localBootScript, waitScript } from './protocol/ipxe.js';

/** Where a transition request comes from: API callers get 409 for a forbidden one; events (late, duplicated) are ignored. */
export type Origin = 'api' | 'event';

export interface BootSettings {
  publicUrl: string;
  /** emulated nodes: the kernel and initrd the demo's agents fetch over TFTP */
  tftpUrl: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  /** real nodes: swarmboot's install environment */
  bootenv: {
    /** base URL of vmlinuz and initrd.img */
    url: string;
    cmdline: string;
    /** whether the environment can be served (its files exist); a deployment to real nodes is refused otherwise */
    available: () => Promise<boolean>;
  };
  /** netconsole target `ipv4:port`, undefined for none */
  netconsole: string | undefined;
  /** install attempts of a real node per deployment */
  installAttempts: number;
  /** default linger of an installed real node (s) */
  lingerSeconds: number;
}

export interface SchedulerCoreDeps {
  store: SchedulerStore;
  catalog: ImageCatalog;
  bus: EventBus;
  log: Logger;
  registry: Registry;
  boot: BootSettings;
  /** syslog `host:port` handed to agents */
  syslogTarget: string;
}

/** A deployment without its node records (GET /v1/deployments). */
export type DeploymentSummary = Omit<Deployment, 'nodes'>;

/** How often a compare-and-set that lost a race is re-decided on fresh state before giving up. */
const CAS_ATTEMPTS = 5;
/** A queued node's iPXE script asks again after this many seconds. */
const WAIT_RETRY_SECONDS = 10;

/**
 * The scheduler's core: inventory, deployments and the node state machine. HTTP routes and NATS
 * consumers are thin transports over these methods. Every state change is a compare-and-set in
 * Redis (the decision is re-made on fresh state when another replica got there first), recorded in
 * the node's timeline and published as `Events.nodeStateChanged`.
 */
export class SchedulerCore {
  private readonly store: SchedulerStore;
  private readonly catalog: ImageCatalog;
  private readonly bus: EventBus;
  private readonly log: Logger;
  private readonly metrics;

  constructor(private readonly deps: SchedulerCoreDeps) {
    this.store = deps.store;
    this.catalog = deps.catalog;
    this.bus = deps.bus;
    this.log = deps.log;
    const registers = [deps.registry];
    this.metrics = {
      transitions: new Counter({ name: 'swarmboot_scheduler_transitions_total', help: 'node state transitions applied', labelNames: ['to', 'origin'], registers }),
      ignored: new Counter({ name: 'swarmboot_scheduler_transitions_ignored_total', help: 'transitions asked by events that the state machine does not allow (late or duplicated events)', labelNames: ['to'], registers }),
      reports: new Counter({ name: 'swarmboot_scheduler_agent_reports_total', help: 'agent reports received', labelNames: ['stage'], registers }),
      bootScripts: new Counter({ name: 'swarmboot_scheduler_boot_scripts_total', help: 'iPXE scripts served', labelNames: ['decision'], registers }),
      publishFailed: new Counter({ name: 'swarmboot_scheduler_publish_failed_total', help: 'events that could not be published (state is in Redis; the event is lost)', labelNames: ['type'], registers }),
      jobs: new Counter({ name: 'swarmboot_scheduler_deployments_completed_total', help: 'deployments whose every node is installed or failed', registers }),
    };
  }

  // ---- inventory ----

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

  async listNodes(): Promise<Node[]> {
    return (await this.store.listNodes()).map(toPublicNode);
  }

  /** Throws NODE_NOT_FOUND. */
  async getNode(id: string): Promise<Node> {
    return toPublicNode(await this.requireNode(id));
  }

  // ---- deployments ----

  /**
   * POST /v1/deployments. Throws IMAGE_NOT_FOUND, NODE_NOT_FOUND, NO_NODES, NODE_BUSY, VALIDATION;
   * for real nodes (target `node`, the default) also IMAGE_NOT_BOOTABLE (the image cannot boot
   * a machine on its own) and BOOTENV_MISSING (no install environment to serve).
   */
  async createDeployment(input: DeploymentInput): Promise<Deployment> {
    const image = await this.catalog.get(input.image);
    if (!image) throw new SwarmbootError('IMAGE_NOT_FOUND', `no image named ${input.image}`, { context: { image: input.image } });
    const target = input.target ?? 'node';
    if (target === 'node') {
      if (!image.bootable) {
        throw new SwarmbootError('IMAGE_NOT_BOOTABLE', `image ${image.name} is not marked bootable (no kernel and boot loader of its own): real nodes could not start it; add it with bootable=true, or deploy with target "emulated"`, { context: { image: image.name } });
      }
      if (!(await this.deps.boot.bootenv.available())) {
        throw new SwarmbootError('BOOTENV_MISSING', 'the install environment is not available (build it with scripts/build-bootenv.sh and set SWARMBOOT_BOOTENV_DIR, or SWARMBOOT_BOOTENV_URL)');
      }
    }
    const options = { target, afterInstall: input.afterInstall ?? 'reboot', lingerSeconds: input.lingerSeconds };
    if (input.nodes !== undefined && input.selector !== undefined) throw new SwarmbootError('VALIDATION', 'give nodes or selector, not both');
    const selector = input.selector === undefined ? undefined : parseSelector(input.selector);
    const id = `dep-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    for (let attempt = 1; ; attempt++) {
      let nodes: StoredNode[];
      if (input.nodes !== undefined) {
        const ids = [...new Set(input.nodes)];
        const found = await this.store.getNodes(ids);
        const missing = ids.filter((_, i) => found[i] === undefined);
        if (missing.length > 0) throw new SwarmbootError('NODE_NOT_FOUND', `no such node: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`, { context: { nodes: missing } });
        nodes = found as StoredNode[];
      } else if (selector !== undefined) {
        nodes = (await this.store.listNodes()).filter((n) => matchesSelector(n.labels, selector));
      } else {
        nodes = [];
      }
      if (nodes.length === 0) throw new SwarmbootError('NO_NODES', input.selector === undefined ? 'no nodes given (nodes or selector)' : `selector ${JSON.stringify(input.selector)} matches no node`);
      const busy = nodes.filter((n) => isActive(n.state));
      if (busy.length > 0) {
        throw new SwarmbootError('NODE_BUSY', `in an active deployment: ${busy.slice(0, 10).map((n) => `${n.id} (${n.state}, ${n.deploymentId ?? '-'})`).join(', ')}${busy.length > 10 ? ', …' : ''}`, { context: { nodes: busy.map((n) => n.id) } });
      }
      const waves = waveOf(planAdmission(nodes.map((n) => n.id)));
      const plan = nodes.map((n) => {
        const wave = waves.get(n.id);
        return { id: n.id, expectedState: n.state, expectedDeploymentId: n.deploymentId, steps: admissionSteps(wave !== undefined), wave };
      });
      const r = await this.store.admit(id, image.name, options, plan);
      if (r.kind === 'exists') throw new SwarmbootError('CONFLICT', `deployment id ${id} exists`);
      if (r.kind === 'stale') {
        if (attempt >= CAS_ATTEMPTS) throw new SwarmbootError('CONFLICT', `node ${r.nodeId} changed while the deployment was created; retry`);
        continue;
      }
      this.log.info({ deploymentId: id, image: image.name, nodes: nodes.length }, 'deployment created');
      this.metrics.transitions.inc({ to: 'queued', origin: 'api' }, plan.length);
      this.metrics.transitions.inc({ to: 'admitted', origin: 'api' }, plan.filter((p) => p.wave !== undefined).length);
      await Promise.all(
        plan.map(async (p) => {
          let from: NodeState = p.expectedState;
          for (const to of p.steps) {
            await this.publishStateChanged({ nodeId: p.id, deploymentId: id, from, to });
            from = to;
          }
        }),
      );
      return this.getDeployment(id);
    }
  }

  /** Throws DEPLOYMENT_NOT_FOUND. */
  async getDeployment(id: string): Promise<Deployment> {
    const rec = await this.store.getDeployment(id);
    if (!rec) throw new SwarmbootError('DEPLOYMENT_NOT_FOUND', `no deployment ${id}`, { context: { deploymentId: id } });
    return this.deploymentView(rec);
  }

  /** Newest first, without node records. */
  async listDeployments(limit: number): Promise<DeploymentSummary[]> {
    const recs = await this.store.listDeployments(limit);
    return Promise.all(
      recs.map(async (rec) => {
        const { nodes: _nodes, ...summary } = await this.deploymentView(rec);
        return summary;
      }),
    );
  }

  /**
   * POST /v1/deployments/:id/release: the deployment becomes `released` and its installed nodes
   * `released` (nodes still installing are released as they finish). Idempotent. Throws DEPLOYMENT_NOT_FOUND.
   */
  async releaseDeployment(id: string): Promise<Deployment> {
    if (!(await this.store.markReleased(id))) throw new SwarmbootError('DEPLOYMENT_NOT_FOUND', `no deployment ${id}`, { context: { deploymentId: id } });
    const rec = await this.store.getDeployment(id);
    const nodes = await this.store.getNodes(rec?.nodeIds ?? []);
    for (const n of nodes) {
      if (n && n.deploymentId === id && n.state === 'installed') await this.transition(n.id, 'released', { origin: 'event', cause: 'deployment released' });
    }
    this.log.info({ deploymentId: id }, 'deployment released');
    return this.getDeployment(id);
  }

  // ---- node-facing ----

  /**
   * GET /v1/boot/:mac — the iPXE script for the node with this MAC; moves an admitted node to
   * `booting`. Real nodes (target `node`) get the install environment over HTTP, each such boot
   * counting one install attempt; past SWARMBOOT_INSTALL_ATTEMPTS the node is failed
   * (ATTEMPTS_EXHAUSTED) and boots its local disk. Installed, released and failed nodes boot their
   * local disk. Throws VALIDATION (not a MAC), NODE_NOT_FOUND.
   */
  async bootScript(macText: string): Promise<{ nodeId: string; script: string }> {
    const mac = normalizeMac(macText);
    if (mac === undefined) throw new SwarmbootError('VALIDATION', `not a MAC address: ${JSON.stringify(macText.slice(0, 40))}`);
    const nodeId = await this.store.nodeIdByMac(mac);
    const node = nodeId === undefined ? undefined : await this.store.getNode(nodeId);
    if (!node) throw new SwarmbootError('NODE_NOT_FOUND', `no node has MAC ${mac}`, { context: { chaddr: mac } });
    const decision = bootDecision(node.state);
    this.metrics.bootScripts.inc({ decision });
    const api = this.deps.boot.publicUrl.replace(/\/+$/, '');
    if (decision === 'wait') {
      return { nodeId: node.id, script: waitScript(`swarmboot: node ${node.id} is queued in deployment ${node.deploymentId ?? '-'}; waiting for admission`, `${api}/v1/boot/${mac}`, WAIT_RETRY_SECONDS) };
    }
    if (decision === 'local' || node.deploymentId === undefined) {
      const why =
        node.state === 'installed' || node.state === 'released'
          ? `installed by deployment ${node.deploymentId ?? '-'}`
          : node.state === 'failed'
            ? `failed in deployment ${node.deploymentId ?? '-'}: ${node.reason ?? 'no reason recorded'}`
            : `no deployment (state ${node.state})`;
      return { nodeId: node.id, script: localBootScript(`swarmboot: node ${node.id}: ${why}; booting from local disk`) };
    }
    const b = this.deps.boot;
    const dep = await this.store.getDeployment(node.deploymentId);
    if (dep?.target !== 'node') {
      await this.transition(node.id, 'booting', { origin: 'event', cause: 'boot script fetched' });
      return { nodeId: node.id, script: installScript({ tftpUrl: b.tftpUrl, kernel: b.kernel, initrd: b.initrd, cmdline: b.cmdline, publicUrl: b.publicUrl, nodeId: node.id, deploymentId: node.deploymentId }) };
    }
    // A real node: every boot of the environment is an attempt (one that died without reporting included).
    const attempt = await this.store.incrAttempts(node.id);
    if (attempt > b.installAttempts) {
      const reason = `ATTEMPTS_EXHAUSTED: ${b.installAttempts} install attempts${node.reason ? `; last: ${node.reason}` : ''}`;
      await this.transition(node.id, 'failed', { origin: 'event', cause: 'install attempts exhausted', reason });
      this.metrics.bootScripts.inc({ decision: 'local' });
      return { nodeId: node.id, script: localBootScript(`swarmboot: node ${node.id} failed: ${reason}; booting from local disk`) };
    }
    await this.transition(node.id, 'booting', { origin: 'event', cause: 'boot script fetched' });
    return {
      nodeId: node.id,
      script: environmentScript({
        bootenvUrl: b.bootenv.url, cmdline: b.bootenv.cmdline, publicUrl: b.publicUrl, nodeId: node.id, deploymentId: node.deploymentId,
        mac, syslog: this.deps.syslogTarget, netconsole: b.netconsole, attempt, attempts: b.installAttempts,
      }),
    };
  }

  /** GET /v1/nodes/:id/install. Throws NODE_NOT_FOUND, NOT_ADMITTED, IMAGE_NOT_FOUND. */
  async installManifest(nodeId: string): Promise<InstallManifest> {
    const node = await this.requireNode(nodeId);
    const dep = node.deploymentId === undefined ? undefined : await this.store.getDeployment(node.deploymentId);
    if (!mayInstall(node.state) || !dep) throw new SwarmbootError('NOT_ADMITTED', `node ${nodeId} is ${node.state}, not admitted in an active deployment`, { context: { nodeId, state: node.state } });
    const image = await this.catalog.get(dep.image);
    if (!image) throw new SwarmbootError('IMAGE_NOT_FOUND', `image ${dep.image} of deployment ${dep.id} is no longer in the catalog`, { context: { image: dep.image } });
    const m: InstallManifest = {
      nodeId, deploymentId: dep.id, image, syslog: this.deps.syslogTarget, target: dep.target, afterInstall: dep.afterInstall,
      lingerMs: 1000 * (dep.lingerSeconds ?? this.deps.boot.lingerSeconds),
    };
    if (node.rootDisk !== undefined) m.rootDisk = node.rootDisk;
    return m;
  }

  /**
   * POST /v1/nodes/:id/report. `release` is true once the node is released (the agent keeps
   * seeding until then). Throws NODE_NOT_FOUND, WRONG_DEPLOYMENT, INVALID_TRANSITION.
   */
  async report(nodeId: string, r: AgentReport): Promise<AgentReportReply> {
    this.metrics.reports.inc({ stage: r.stage });
    const target = stageTarget(r.stage);
    const fields: Record<string, string> = {};
    if (r.bytes !== undefined || r.total !== undefined) fields.progress = JSON.stringify({ bytes: r.bytes ?? 0, total: r.total ?? 0 });
    if (r.stage === 'installed' && r.stats !== undefined) fields.stats = JSON.stringify(r.stats);
    const reason = r.stage === 'failed' ? (r.reason ?? 'agent reported failure') : undefined;
    if (reason !== undefined) fields.reason = reason;
    for (let attempt = 1; attempt <= CAS_ATTEMPTS; attempt++) {
      const node = await this.requireNode(nodeId);
      if (node.deploymentId !== r.deploymentId) {
        throw new SwarmbootError('WRONG_DEPLOYMENT', `node ${nodeId} is in deployment ${node.deploymentId ?? '(none)'}, not ${r.deploymentId}`, { context: { nodeId, deploymentId: node.deploymentId } });
      }
      if (reason !== undefined && canRetry(node.state)) {
        const dep = await this.store.getDeployment(r.deploymentId);
        if (dep?.target === 'node' && (node.attempts ?? 0) < this.deps.boot.installAttempts) {
          // A real node that failed with attempts left boots the environment again (the agent reboots it).
          const res = await this.store.casTransition(node, 'admitted', { reason: `attempt ${node.attempts ?? 0} failed: ${reason}`, fields: { reason } });
          if (res.kind === 'stale') continue;
          if (res.kind === 'missing') throw new SwarmbootError('NODE_NOT_FOUND', `no node ${nodeId}`);
          await this.afterTransition(node, 'admitted', 'api', reason, res);
          return { state: 'admitted', release: false, retry: true };
        }
      }
      const decision = classifyReport(node.state, target);
      if (decision === 'invalid') {
        throw new SwarmbootError('INVALID_TRANSITION', `node ${nodeId} is ${node.state}; a ${r.stage} report cannot move it to ${target}`, { context: { nodeId, from: node.state, to: target } });
      }
      if (decision === 'behind' || (decision === 'same' && Object.keys(fields).length === 0)) return reply(node.state);
      const to = decision === 'same' ? node.state : target;
      const res = await this.store.casTransition(node, to, { reason, fields, counter: decision === 'apply' ? finishedAs(to) : undefined });
      if (res.kind === 'stale') continue;
      if (res.kind === 'missing') throw new SwarmbootError('NODE_NOT_FOUND', `no node ${nodeId}`);
      if (r.stage === 'downloading' || r.stage === 'booted') this.publishProgress(node, r);
      if (decision === 'same') return reply(node.state);
      await this.afterTransition(node, to, 'api', reason, res);
      if (to === 'installed') {
        const dep = await this.store.getDeployment(r.deploymentId);
        if (dep?.state === 'released') {
          const out = await this.transition(nodeId, 'released', { origin: 'event', cause: 'deployment already released' });
          return reply(out?.state ?? to);
        }
      }
      return reply(to);
    }
    throw new SwarmbootError('CONFLICT', `node ${nodeId} changed concurrently; retry the report`);
  }

  async timeline(nodeId: string, limit: number) {
    await this.requireNode(nodeId);
    return { nodeId, entries: await this.store.readTimeline(nodeId, limit) };
  }

  async logs(nodeId: string, limit: number, after: string | undefined) {
    await this.requireNode(nodeId);
    return { lines: await this.store.readLogs(nodeId, limit, after) };
  }

  // ---- events ----

  /** `Events.leaseGranted`: remember the node's address; admitted → dhcp. Unknown MACs are not ours. */
  async onLeaseGranted(lease: LeaseGranted): Promise<void> {
    const nodeId = await this.store.nodeIdByMac(lease.chaddr);
    if (nodeId === undefined) {
      this.log.debug({ chaddr: lease.chaddr, xid: lease.xid }, 'lease for an unregistered MAC; ignored');
      return;
    }
    await this.store.setNodeIp(nodeId, lease.yiaddr);
    await this.transition(nodeId, 'dhcp', { origin: 'event', cause: 'lease granted' });
  }

  /** `Events.tftpTransferCompleted`: the node behind clientAddress loaded its boot file; dhcp → booting. */
  async onTftpTransferCompleted(t: TftpTransfer): Promise<void> {
    const nodeId = await this.store.nodeIdByIp(t.clientAddress);
    if (nodeId === undefined) {
      this.log.debug({ clientAddress: t.clientAddress, transferId: t.transferId }, 'tftp transfer by an unknown address; ignored');
      return;
    }
    await this.transition(nodeId, 'booting', { origin: 'event', cause: 'tftp transfer completed' });
  }

  // ---- the state machine ----

  /**
   * Moves node `nodeId` to `to` when the state machine allows it from its current state.
   * Not allowed: origin `event` → ignored (debug log, counted), `api` → INVALID_TRANSITION.
   * Already in `to`: nothing happens. Returns the node's state afterwards and whether this call
   * changed it; undefined for an event about a node that does not exist (api: NODE_NOT_FOUND).
   */
  async transition(nodeId: string, to: NodeState, opts: { origin: Origin; cause: string; reason?: string }): Promise<{ applied: boolean; state: NodeState } | undefined> {
    for (let attempt = 1; attempt <= CAS_ATTEMPTS; attempt++) {
      const node = await this.store.getNode(nodeId);
      if (!node) {
        if (opts.origin === 'api') throw new SwarmbootError('NODE_NOT_FOUND', `no node ${nodeId}`, { context: { nodeId } });
        this.log.debug({ nodeId, to, cause: opts.cause }, 'transition for a node that does not exist; ignored');
        return undefined;
      }
      if (node.state === to) return { applied: false, state: to };
      if (!canTransition(node.state, to)) {
        if (opts.origin === 'api') throw new SwarmbootError('INVALID_TRANSITION', `node ${nodeId} cannot go from ${node.state} to ${to}`, { context: { nodeId, from: node.state, to } });
        this.metrics.ignored.inc({ to });
        this.log.debug({ nodeId, from: node.state, to, cause: opts.cause }, 'transition not allowed from the current state (late or duplicated event); ignored');
        return { applied: false, state: node.state };
      }
      const res = await this.store.casTransition(node, to, { reason: opts.reason, counter: finishedAs(to), ...(opts.reason === undefined ? {} : { fields: { reason: opts.reason } }) });
      if (res.kind === 'stale') continue;
      if (res.kind === 'missing') return undefined;
      await this.afterTransition(node, to, opts.origin, opts.reason, res);
      return { applied: true, state: to };
    }
    throw new SwarmbootError('CONFLICT', `node ${nodeId} changed concurrently ${CAS_ATTEMPTS} times; giving up`, { context: { nodeId, to } });
  }

  private async afterTransition(node: StoredNode, to: NodeState, origin: Origin, reason: string | undefined, res: CasResult): Promise<void> {
    this.metrics.transitions.inc({ to, origin });
    this.log.info({ nodeId: node.id, deploymentId: node.deploymentId, from: node.state, to, ...(reason === undefined ? {} : { reason }) }, 'node state changed');
    await this.publishStateChanged({ nodeId: node.id, deploymentId: node.deploymentId, from: node.state, to, reason });
    if (res.kind === 'completed' && node.deploymentId !== undefined) {
      this.metrics.jobs.inc();
      const data = { deploymentId: node.deploymentId, image: res.image, installed: res.installed, failed: res.failed, durationMs: Math.max(0, Date.now() - res.createdAtMs) };
      this.log.info(data, 'deployment completed');
      await this.publishSafe('jobCompleted', () => this.bus.publish(Events.jobCompleted, data));
    }
  }

  private async publishStateChanged(e: { nodeId: string; deploymentId: string | undefined; from: NodeState; to: NodeState; reason?: string | undefined }): Promise<void> {
    const data = { nodeId: e.nodeId, from: e.from, to: e.to, ...(e.deploymentId === undefined ? {} : { deploymentId: e.deploymentId }), ...(e.reason === undefined ? {} : { reason: e.reason }) };
    await this.publishSafe('nodeStateChanged', () => this.bus.publish(Events.nodeStateChanged, data, e.nodeId));
  }

  private publishProgress(node: StoredNode, r: AgentReport): void {
    if (r.bytes === undefined && r.total === undefined) return;
    void this.publishSafe('nodeProgress', () => this.bus.publish(Events.nodeProgress, { nodeId: node.id, deploymentId: r.deploymentId, stage: r.stage, bytes: r.bytes ?? 0, total: r.total ?? 0 }, node.id));
  }

  /** Redis holds the truth; an event that cannot be published is logged and counted, the request still succeeds. */
  private async publishSafe(type: string, publish: () => Promise<void>): Promise<void> {
    try {
      await publish();
    } catch (err) {
      this.metrics.publishFailed.inc({ type });
      this.log.error({ err, type }, 'event publish failed');
    }
  }

  private async requireNode(id: string): Promise<StoredNode> {
    const node = await this.store.getNode(id);
    if (!node) throw new SwarmbootError('NODE_NOT_FOUND', `no node ${id}`, { context: { nodeId: id } });
    return node;
  }

  private async deploymentView(rec: DeploymentRecord): Promise<Deployment> {
    const nodes = (await this.store.getNodes(rec.nodeIds)).filter((n): n is StoredNode => n !== undefined).map(toPublicNode);
    const counts: Record<string, number> = Object.fromEntries(Object.values(NodeState).map((s) => [s, 0]));
    for (const n of nodes) counts[n.state] = (counts[n.state] ?? 0) + 1;
    const d: Deployment = { id: rec.id, image: rec.image, state: rec.state, target: rec.target, createdAt: rec.createdAt, counts, nodes };
    if (rec.completedAt !== undefined) d.completedAt = rec.completedAt;
    return d;
  }
}

function reply(state: NodeState): AgentReportReply {
  return { state, release: state === 'released' };
}

function conflictError(code: 'NODE_EXISTS' | 'MAC_IN_USE' | 'HOSTNAME_IN_USE', id: string, owner: string, where: string): SwarmbootError {
  const msg = code === 'NODE_EXISTS' ? `node ${id} exists with another MAC` : code === 'MAC_IN_USE' ? `the MAC is already used by node ${owner}` : `the hostname is already used by node ${owner}`;
  return new SwarmbootError(code, where.startsWith('node ') ? msg : `${where}: ${msg}`, { context: { nodeId: id, owner } });
}

function toPublicNode(n: StoredNode): Node {
  const { createdAt: _c, wave: _w, ...pub } = n;
  return pub;
}
