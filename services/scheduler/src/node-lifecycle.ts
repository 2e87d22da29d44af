import { randomUUID } from 'node:crypto';
import { Events, SwarmbootError, type AgentReport, type AgentReportReply, type DeploymentTarget, type ErrorCode, type LeaseGranted, type NodeFailureClassified, type NodeState, type PowerFailed, type TftpTransfer } from '@swarmboot/contracts';
import type { EventBus, Logger, Registry } from '@swarmboot/kit';
import { Counter } from 'prom-client';
import type { FactOutbox } from './adapters/fact-outbox.js';
import type { AdmitNode, CasResult, SchedulerStore, StoredNode } from './adapters/store.js';
import { CAS_ATTEMPTS, Conflict, retryOnConflict } from './domain/retry-on-conflict.js';
import { bootOutcome, canRetry, canTransition, classifyReport, finishedAs, inBootPhase, isActive, recoveryAction, stageTarget, timeoutCode, type TimedState } from './domain/state-machine.js';
import { requireNode } from './inventory.js';

/** Where a transition request comes from: API callers get 409 for a forbidden one; events (late, duplicated) are ignored. */
export type Origin = 'api' | 'event';

export interface NodeLifecycleDeps {
  store: SchedulerStore;
  bus: EventBus;
  /** publishes the node-state facts the store's scripts wrote */
  outbox: FactOutbox;
  log: Logger;
  registry: Registry;
  /** install attempts of a real node per deployment */
  installAttempts: number;
  /** times a stuck node is sent back to admitted before it is failed */
  timeoutRetries: number;
}

/** A wave just admitted, as announced: its nodes (with their MACs, for the power requests) and the controller's numbers. */
export interface AdmittedWave {
  deployment: { id: string; target: DeploymentTarget };
  wave: number;
  nodes: readonly { id: string; mac: string }[];
  window: number;
  inFlight: number;
}

/**
 * The node state machine at work: transitions asked by the API, by events (leases, TFTP
 * transfers, boot scripts) and by agent reports, and the install attempts of real nodes. Every
 * state change is a compare-and-set in Redis (re-decided on fresh state when another replica got
 * there first, see {@link retryOnConflict}) that writes, in the same script, the node's timeline
 * entry and its fact, which the {@link FactOutbox} publishes as `Events.nodeStateChanged` (flushed
 * before the call returns); a change that finishes a deployment also publishes `Events.jobCompleted`.
 */
export class NodeLifecycle {
  private readonly store: SchedulerStore;
  private readonly bus: EventBus;
  private readonly outbox: FactOutbox;
  private readonly log: Logger;
  private readonly installAttempts: number;
  private readonly timeoutRetries: number;
  private readonly metrics;
  /** told when a node of a deployment left the boot phase or finished: capacity may have freed */
  private capacityListener: ((deploymentId: string) => void) | undefined;

  constructor(deps: NodeLifecycleDeps) {
    this.store = deps.store;
    this.bus = deps.bus;
    this.outbox = deps.outbox;
    this.log = deps.log;
    this.installAttempts = deps.installAttempts;
    this.timeoutRetries = deps.timeoutRetries;
    const registers = [deps.registry];
    this.metrics = {
      transitions: new Counter({ name: 'swarmboot_scheduler_transitions_total', help: 'node state transitions applied', labelNames: ['to', 'origin'], registers }),
      ignored: new Counter({ name: 'swarmboot_scheduler_transitions_ignored_total', help: 'transitions asked by events that the state machine does not allow (late or duplicated events)', labelNames: ['to'], registers }),
      reports: new Counter({ name: 'swarmboot_scheduler_agent_reports_total', help: 'agent reports received', labelNames: ['stage'], registers }),
      publishFailed: new Counter({ name: 'swarmboot_scheduler_publish_failed_total', help: 'events that could not be published and are lost (node-state facts are not: the outbox keeps them)', labelNames: ['type'], registers }),
      jobs: new Counter({ name: 'swarmboot_scheduler_deployments_completed_total', help: 'deployments whose every node is installed or failed', registers }),
      timeouts: new Counter({ name: 'swarmboot_scheduler_node_timeouts_total', help: 'nodes found stuck in a state past its timeout, by what was done', labelNames: ['state', 'action'], registers }),
      waves: new Counter({ name: 'swarmboot_scheduler_waves_admitted_total', help: 'admission waves announced (the canary included)', registers }),
      waveNodes: new Counter({ name: 'swarmboot_scheduler_wave_nodes_admitted_total', help: 'nodes admitted into the boot phase by waves (the canary included)', registers }),
      classified: new Counter({ name: 'swarmboot_scheduler_classified_failures_total', help: 'failure classifications of the log sink, by whether they failed the node', labelNames: ['outcome'], registers }),
    };
  }

  /** `fn` is called (not awaited) with the deployment of every node that leaves the boot phase or finishes. */
  onCapacity(fn: (deploymentId: string) => void): void {
    this.capacityListener = fn;
  }

  /**
   * Moves node `nodeId` to `to` when the state machine allows it from its current state.
   * Not allowed: origin `event` → ignored (debug log, counted), `api` → INVALID_TRANSITION.
   * Already in `to`: nothing happens. Returns the node's state afterwards and whether this call
   * changed it; undefined for an event about a node that does not exist (api: NODE_NOT_FOUND).
   * Throws CONFLICT when the node changed under every attempt.
   */
  async transition(nodeId: string, to: NodeState, opts: { origin: Origin; cause: string; reason?: string }): Promise<{ applied: boolean; state: NodeState } | undefined> {
    return retryOnConflict<{ applied: boolean; state: NodeState } | undefined>(CAS_ATTEMPTS, async () => {
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
      if (res.kind === 'stale') return new Conflict(`node ${nodeId} changed concurrently ${CAS_ATTEMPTS} times; giving up`, { nodeId, to });
      if (res.kind === 'missing') return undefined;
      await this.afterTransition(node, to, opts.origin, opts.reason, res);
      return { applied: true, state: to };
    });
  }

  /**
   * Counts and announces the admission of a deployment's nodes, which the store applied in one
   * script with one fact per step of each node (queued, then admitted for the nodes of a wave).
   */
  async admitted(plan: readonly AdmitNode[]): Promise<void> {
    this.metrics.transitions.inc({ to: 'queued', origin: 'api' }, plan.length);
    this.metrics.transitions.inc({ to: 'admitted', origin: 'api' }, plan.filter((p) => p.wave !== undefined).length);
    await this.outbox.flush();
  }

  /**
   * Announces a wave admitted by the store: `Events.deploymentWaveAdmitted`, with `stateChanges`
   * the facts queued → admitted the store wrote (creation announces its own steps), and for
   * real nodes (target `node`) a `pxe-boot` power request each (DESIGN.md, "Real machines" step 1;
   * emulated nodes are processes without a BMC).
   */
  async announceWave(w: AdmittedWave, opts: { stateChanges: boolean }): Promise<void> {
    const deploymentId = w.deployment.id;
    if (opts.stateChanges) {
      this.metrics.transitions.inc({ to: 'admitted', origin: 'event' }, w.nodes.length);
      await this.outbox.flush();
    }
    this.metrics.waves.inc();
    this.metrics.waveNodes.inc(w.nodes.length);
    this.log.info({ deploymentId, wave: w.wave, nodes: w.nodes.length, window: w.window, inFlight: w.inFlight }, 'wave admitted');
    await this.publishSafe('deploymentWaveAdmitted', () => this.bus.publish(Events.deploymentWaveAdmitted, { deploymentId, wave: w.wave, nodes: w.nodes.map((n) => n.id), window: w.window, inFlight: w.inFlight }));
    if (w.deployment.target === 'node') await Promise.all(w.nodes.map((n) => this.requestPxeBoot(n, `admitted in wave ${w.wave} of ${deploymentId}`)));
  }

  /**
   * A node found in timed state `node.state` for longer than its timeout (`stuckMs` since its last
   * change or report): back to `admitted` with a `pxe-boot` power request while it has retries
   * left (SWARMBOOT_SCHEDULER_TIMEOUT_RETRIES), else `failed` with BOOT_TIMEOUT (boot phase) or
   * INSTALL_TIMEOUT. Compare-and-set on the node's state and `updatedAt`, so a node that moved or
   * reported since it was read, or that another replica recovered, is left alone. Returns what was
   * done, or undefined for nothing.
   */
  async recover(node: StoredNode & { state: TimedState }, stuckMs: number, target: DeploymentTarget): Promise<'retry' | 'fail' | undefined> {
    const timeouts = node.timeouts ?? 0;
    const action = recoveryAction(timeouts, this.timeoutRetries);
    const reason = `${timeoutCode(node.state)}: ${node.state} for ${Math.round(stuckMs / 1000)} s without a change (timeout ${timeouts + 1} of ${this.timeoutRetries + 1})`;
    const to: NodeState = action === 'retry' ? 'admitted' : 'failed';
    const res = await this.store.casTransition(node, to, { reason, counter: finishedAs(to), expectUpdatedAt: node.updatedAt, fields: { reason, timeouts: String(timeouts + 1) } });
    if (res.kind === 'stale' || res.kind === 'missing') return undefined;
    this.metrics.timeouts.inc({ state: node.state, action });
    if (node.state !== to) await this.afterTransition(node, to, 'event', reason, res);
    else this.log.warn({ nodeId: node.id, deploymentId: node.deploymentId, state: node.state, reason }, 'node stuck; power-cycling it into PXE again');
    if (action === 'retry' && target === 'node') await this.requestPxeBoot(node, reason);
    return action;
  }

  /**
   * `Events.nodeFailureClassified`: the log sink named the failure in a node's lines. A failure
   * (not a warning) of the node's current deployment and install attempt fails the node with the
   * rule's code while it is admitted or later and not finished; the first classification wins
   * (after it the node is failed, and later ones find it so). An installed node is never failed.
   */
  async onFailureClassified(e: NodeFailureClassified): Promise<void> {
    const node = e.severity === 'warning' ? undefined : await this.store.getNode(e.nodeId);
    const current = node !== undefined && node.deploymentId === e.deploymentId && e.attempt >= (node.attempts ?? 0) && isActive(node.state) && node.state !== 'queued';
    if (!node || !current) {
      this.metrics.classified.inc({ outcome: 'ignored' });
      return;
    }
    const out = await this.transition(node.id, 'failed', { origin: 'event', cause: `log line classified (${e.ruleId})`, reason: `${e.code}: ${e.description}` });
    this.metrics.classified.inc({ outcome: out?.applied === true ? 'failed' : 'ignored' });
  }

  /** `Events.tftpTransferFailed`: a boot-phase node's transfer failed — the admission controller counts it as a failure. */
  async onTftpTransferFailed(t: TftpTransfer): Promise<void> {
    const nodeId = await this.store.nodeIdByIp(t.clientAddress);
    const node = nodeId === undefined ? undefined : await this.store.getNode(nodeId);
    if (node?.deploymentId === undefined || !inBootPhase(node.state)) return;
    await this.store.countBootFailure(node.deploymentId);
    this.capacityListener?.(node.deploymentId);
  }

  /**
   * `Events.powerFailed`: the power service gave up on a node's `pxe-boot` after its retries (the
   * BMC timed out, refused or answered garbage). A node still waiting in `admitted` for that
   * power-on will not boot: it is failed with the BMC's error (`BMC_TIMEOUT: …`), which the
   * admission controller counts as a boot-phase failure. Left alone: other actions (an operator's
   * `swarmboot power`), nodes past `admitted`, and a node with no BMC at all (`BMC_UNKNOWN`, no
   * attempt made: it is powered by hand, and its state timeout still applies).
   */
  async onPowerFailed(p: PowerFailed): Promise<void> {
    if (p.action !== 'pxe-boot' || p.attempts === 0 || p.code === ('BMC_UNKNOWN' satisfies ErrorCode)) return;
    const node = await this.store.getNode(p.nodeId);
    if (node?.deploymentId === undefined || node.state !== 'admitted') return;
    await this.transition(node.id, 'failed', { origin: 'event', cause: 'power request failed', reason: `${p.code}: ${p.message}` });
  }

  /**
   * A real node boots the install environment: every such boot is one install attempt (one that
   * died without reporting included), and the node moves to `booting`. Past `installAttempts` the
   * node is failed instead (ATTEMPTS_EXHAUSTED). Returns the attempt's number (1-based), or the
   * failure reason.
   */
  async startInstallAttempt(node: StoredNode): Promise<{ attempt: number } | { failed: string }> {
    const attempt = await this.store.incrAttempts(node.id);
    if (attempt > this.installAttempts) {
      const reason = `${'ATTEMPTS_EXHAUSTED' satisfies ErrorCode}: ${this.installAttempts} install attempts${node.reason ? `; last: ${node.reason}` : ''}`;
      await this.transition(node.id, 'failed', { origin: 'event', cause: 'install attempts exhausted', reason });
      return { failed: reason };
    }
    await this.transition(node.id, 'booting', { origin: 'event', cause: 'boot script fetched' });
    return { attempt };
  }

  /**
   * POST /v1/nodes/:id/report. `release` is true once the node is released (the agent keeps
   * seeding until then); `retry` when a failed real node with attempts left was admitted again.
   * A failure report for a node already failed leaves its reason as it is (the first is the cause).
   * Throws NODE_NOT_FOUND, WRONG_DEPLOYMENT, INVALID_TRANSITION, CONFLICT.
   */
  async report(nodeId: string, r: AgentReport): Promise<AgentReportReply> {
    this.metrics.reports.inc({ stage: r.stage });
    const target = stageTarget(r.stage);
    const fields: Record<string, string> = {};
    if (r.bytes !== undefined || r.total !== undefined) fields.progress = JSON.stringify({ bytes: r.bytes ?? 0, total: r.total ?? 0 });
    if (r.stage === 'installed' && r.stats !== undefined) fields.stats = JSON.stringify(r.stats);
    const reason = r.stage === 'failed' ? (r.reason ?? 'agent reported failure') : undefined;
    if (reason !== undefined) fields.reason = reason;
    const lost = new Conflict(`node ${nodeId} changed concurrently; retry the report`);
    return retryOnConflict<AgentReportReply>(CAS_ATTEMPTS, async () => {
      const node = await requireNode(this.store, nodeId);
      if (node.deploymentId !== r.deploymentId) {
        throw new SwarmbootError('WRONG_DEPLOYMENT', `node ${nodeId} is in deployment ${node.deploymentId ?? '(none)'}, not ${r.deploymentId}`, { context: { nodeId, deploymentId: node.deploymentId } });
      }
      if (reason !== undefined && canRetry(node.state)) {
        const dep = await this.store.getDeployment(r.deploymentId);
        if (dep?.target === 'node' && (node.attempts ?? 0) < this.installAttempts) {
          // A real node that failed with attempts left boots the environment again (the agent reboots it).
          const res = await this.store.casTransition(node, 'admitted', { reason: `attempt ${node.attempts ?? 0} failed: ${reason}`, fields: { reason } });
          if (res.kind === 'stale') return lost;
          if (res.kind === 'missing') throw new SwarmbootError('NODE_NOT_FOUND', `no node ${nodeId}`);
          await this.afterTransition(node, 'admitted', 'api', reason, res);
          return { state: 'admitted', release: false, retry: true };
        }
      }
      const decision = classifyReport(node.state, target);
      if (decision === 'invalid') {
        throw new SwarmbootError('INVALID_TRANSITION', `node ${nodeId} is ${node.state}; a ${r.stage} report cannot move it to ${target}`, { context: { nodeId, from: node.state, to: target } });
      }
      // A failed node keeps its first reason: a later failure report is a consequence of it (the
      // agent's after the log sink classified its line, /init's AGENT_EXITED after the agent's own).
      if (decision === 'behind' || (decision === 'same' && (Object.keys(fields).length === 0 || node.state === 'failed'))) return reply(node.state);
      const to = decision === 'same' ? node.state : target;
      const res = await this.store.casTransition(node, to, { reason, fields, counter: decision === 'apply' ? finishedAs(to) : undefined });
      if (res.kind === 'stale') return lost;
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
    });
  }

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

  private async afterTransition(node: StoredNode, to: NodeState, origin: Origin, reason: string | undefined, res: CasResult): Promise<void> {
    this.metrics.transitions.inc({ to, origin });
    if (node.deploymentId !== undefined && (bootOutcome(node.state, to) !== undefined || finishedAs(to) !== undefined)) this.capacityListener?.(node.deploymentId);
    this.log.info({ nodeId: node.id, deploymentId: node.deploymentId, from: node.state, to, ...(reason === undefined ? {} : { reason }) }, 'node state changed');
    await this.outbox.flush();
    if (res.kind === 'completed' && node.deploymentId !== undefined) {
      this.metrics.jobs.inc();
      const data = { deploymentId: node.deploymentId, image: res.image, installed: res.installed, failed: res.failed, durationMs: Math.max(0, Date.now() - res.createdAtMs) };
      this.log.info(data, 'deployment completed');
      await this.publishSafe('jobCompleted', () => this.bus.publish(Events.jobCompleted, data));
    }
  }

  /** Counts and announces the state changes (their new states) the store applied in one script with their facts (a cancel). */
  async announce(states: readonly NodeState[]): Promise<void> {
    for (const to of states) this.metrics.transitions.inc({ to, origin: 'api' });
    await this.outbox.flush();
  }

  /** Asks the power service to PXE-boot the node (`Events.powerRequested`). */
  private async requestPxeBoot(node: { id: string; mac: string }, reason: string): Promise<void> {
    await this.publishSafe('powerRequested', () => this.bus.publish(Events.powerRequested, { requestId: randomUUID(), nodeId: node.id, mac: node.mac, action: 'pxe-boot', reason }, undefined));
  }

  private publishProgress(node: StoredNode, r: AgentReport): void {
    if (r.bytes === undefined && r.total === undefined) return;
    void this.publishSafe('nodeProgress', () => this.bus.publish(Events.nodeProgress, { nodeId: node.id, deploymentId: r.deploymentId, stage: r.stage, bytes: r.bytes ?? 0, total: r.total ?? 0 }, node.id));
  }

  /** Redis holds the truth; an event that cannot be published is logged and counted, the request still succeeds. */
  async publishSafe(type: string, publish: () => Promise<void>): Promise<void> {
    try {
      await publish();
    } catch (err) {
      this.metrics.publishFailed.inc({ type });
      this.log.error({ err, type }, 'event publish failed');
    }
  }
}

function reply(state: NodeState): AgentReportReply {
  return { state, release: state === 'released' };
}
