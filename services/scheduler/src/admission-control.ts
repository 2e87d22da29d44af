import { Events, type ErrorCode } from '@swarmboot/contracts';
import type { EventBus, Logger, Registry } from '@swarmboot/kit';
import { Counter, Gauge } from 'prom-client';
import type { DeploymentRecord, SchedulerStore, StoredNode } from './adapters/store.js';
import { overBudget, stepController, type AdmissionLimits } from './domain/admission.js';
import { inBootPhase, isTimedState, type TimedState } from './domain/state-machine.js';
import type { NodeLifecycle } from './node-lifecycle.js';

export interface AdmissionControlSettings {
  /** how often each active deployment is stepped (ms) */
  tickMs: number;
  /** how long a node may stay in each timed state without a change or a report (ms) */
  timeoutsMs: Readonly<Record<TimedState, number>>;
}

export interface AdmissionControlDeps {
  store: SchedulerStore;
  bus: EventBus;
  log: Logger;
  lifecycle: Pick<NodeLifecycle, 'recover' | 'announceWave' | 'publishSafe'>;
  settings: AdmissionControlSettings;
  registry: Registry;
}

/** What this replica saw of a deployment at its last step (the admission gauges). */
interface Observed {
  window: number;
  inFlight: number;
  queued: number;
}

/**
 * Drives the admission of every active deployment and the recovery of its stuck nodes: a periodic
 * tick (any replica; a short Redis claim per deployment keeps replicas from ticking it at once)
 * and a step whenever a node leaves the boot phase or finishes (`kick`). A step
 * 1. sends nodes stuck past their state's timeout back to admitted, or fails them (NodeLifecycle.recover),
 * 2. pauses the deployment when its failures since the start or the last resume are over its budget
 *    (`Events.deploymentPaused`),
 * 3. steps the deployment's admission controller (domain/admission.ts) and admits the wave it
 *    allows, compare-and-set on the controller's version, so of two replicas one admits.
 */
export class AdmissionControl {
  /** per deployment: the step running in this process, and whether another was asked meanwhile */
  private readonly running = new Map<string, { again: boolean }>();
  /** per active deployment: what the last step in this process saw */
  private readonly observed = new Map<string, Observed>();
  private readonly metrics;

  constructor(private readonly deps: AdmissionControlDeps) {
    const registers = [deps.registry];
    const observed = this.observed;
    /** prom-client `collect`: one sample per deployment this replica stepped, from `pick` */
    const from = (pick: (o: Observed) => number) =>
      function (this: Gauge): void {
        this.reset();
        for (const [deployment, o] of observed) this.set({ deployment }, pick(o));
      };
    const labelNames = ['deployment'] as const;
    new Gauge({ name: 'swarmboot_scheduler_admission_window', help: "nodes a running deployment may have in the boot phase at once (its admission controller's window), at this replica's last step", labelNames, registers, collect: from((o) => o.window) });
    new Gauge({ name: 'swarmboot_scheduler_admission_in_flight', help: "a running deployment's nodes in the boot phase (admitted, dhcp, booting), at this replica's last step", labelNames, registers, collect: from((o) => o.inFlight) });
    new Gauge({ name: 'swarmboot_scheduler_admission_queued', help: "a running deployment's nodes waiting to be admitted, at this replica's last step", labelNames, registers, collect: from((o) => o.queued) });
    this.metrics = {
      pauses: new Counter({ name: 'swarmboot_scheduler_deployment_pauses_total', help: 'deployments paused by this replica, by reason code', labelNames: ['reason'] as const, registers }),
    };
  }

  /** Ticks every `tickMs` until the returned function is called (it waits for the tick in progress). */
  start(): () => Promise<void> {
    let current: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      current = this.tick().catch((err: unknown) => this.deps.log.error({ err }, 'admission tick failed'));
    }, this.deps.settings.tickMs);
    return async () => {
      clearInterval(timer);
      await current;
    };
  }

  /** Steps each active deployment that no other replica is ticking now. */
  async tick(nowMs = Date.now()): Promise<void> {
    for (const id of await this.deps.store.activeDeploymentIds()) {
      // the claim lasts most of a period: one replica steps a deployment per tick, kicks aside
      if (await this.deps.store.claimTick(id, Math.max(1, Math.floor(this.deps.settings.tickMs * 0.8)))) await this.run(id, nowMs);
    }
  }

  /** Steps deployment `id` soon (capacity may have freed); errors are logged. */
  kick(id: string): void {
    void this.run(id).catch((err: unknown) => this.deps.log.error({ err, deploymentId: id }, 'admission step failed'));
  }

  /** One step at a time per deployment in this process; a step asked during one runs once after it. */
  private async run(id: string, nowMs?: number): Promise<void> {
    const busy = this.running.get(id);
    if (busy) {
      busy.again = true;
      return;
    }
    const state = { again: false };
    this.running.set(id, state);
    try {
      do {
        state.again = false;
        await this.step(id, nowMs ?? Date.now());
      } while (state.again);
    } finally {
      this.running.delete(id);
    }
  }

  /** One step of deployment `id` (see the class). */
  async step(id: string, nowMs: number): Promise<void> {
    const { store, log } = this.deps;
    const first = await store.getDeployment(id);
    if (!first || first.completedAt !== undefined || first.state === 'cancelled') {
      this.observed.delete(id);
      await store.forgetActive(id);
      return;
    }
    const nodes = (await store.getNodes(first.nodeIds)).filter((n): n is StoredNode => n?.deploymentId === id);
    // the counters read after the node states are at least as new as they are (a transition moves
    // both in one script): a completion is never seen in a node's state but missing from bootDone
    const rec = await store.getDeployment(id);
    if (!rec) return;
    await this.recoverStuck(rec, nodes, nowMs);
    if (rec.state === 'paused') return;

    const failedSince = rec.failed - rec.budgetBase;
    if (rec.state === 'running' && overBudget(failedSince, rec.failureBudget)) {
      const reason = `${'FAILURE_BUDGET_EXCEEDED' satisfies ErrorCode}: ${failedSince} nodes failed, the budget is ${rec.failureBudget}`;
      if (await store.pause(id, reason)) {
        this.metrics.pauses.inc({ reason: 'FAILURE_BUDGET_EXCEEDED' satisfies ErrorCode });
        log.warn({ deploymentId: id, failed: failedSince, budget: rec.failureBudget }, 'deployment paused: over its failure budget');
        await this.deps.lifecycle.publishSafe('deploymentPaused', () => this.deps.bus.publish(Events.deploymentPaused, { deploymentId: id, reason, failed: failedSince, budget: rec.failureBudget }));
      }
      return;
    }
    if (rec.controller === undefined) return;
    const queued = nodes.filter((n) => n.state === 'queued');
    const inFlight = nodes.filter((n) => inBootPhase(n.state)).length;
    const limits: AdmissionLimits = { maxInFlight: rec.maxInFlight, ratePerSecond: rec.ratePerSecond, holdMs: this.holdMs() };
    const { state, admit } = stepController(
      rec.controller,
      { nowMs, bootDone: rec.bootDone, bootFailed: rec.bootFailed, inFlight, waiting: queued.length, canaryPending: nodes.filter((n) => n.wave === 0 && inBootPhase(n.state)).length },
      limits,
    );
    const wave = queued.slice(0, admit);
    const applied = await store.admitWave(id, rec.controllerV, state, wave.length === 0 ? undefined : { number: rec.waves, nodeIds: wave.map((n) => n.id) });
    this.observed.set(id, applied ? { window: Math.floor(state.window), inFlight: inFlight + wave.length, queued: queued.length - wave.length } : { window: Math.floor(rec.controller.window), inFlight, queued: queued.length });
    if (!applied || wave.length === 0) return;
    await this.deps.lifecycle.announceWave(
      { deployment: rec, wave: rec.waves, nodes: wave, window: Math.floor(state.window), inFlight: inFlight + wave.length },
      { stateChanges: true },
    );
  }

  /** Recovers the nodes of `rec` that stayed in a timed state past its timeout. */
  private async recoverStuck(rec: DeploymentRecord, nodes: readonly StoredNode[], nowMs: number): Promise<void> {
    for (const n of nodes) {
      if (!isTimedState(n.state)) continue;
      const since = Date.parse(n.updatedAt);
      const stuckMs = nowMs - since;
      if (Number.isNaN(since) || stuckMs <= this.deps.settings.timeoutsMs[n.state]) continue;
      await this.deps.lifecycle.recover({ ...n, state: n.state }, stuckMs, rec.target);
    }
  }

  /**
   * The controller decreases its window at most once per this long: the failures of one overload
   * arrive within about one boot phase (the dhcp timeout: the shortest timed state a node of an
   * overloaded boot path sits in).
   */
  private holdMs(): number {
    return this.deps.settings.timeoutsMs.dhcp;
  }
}
