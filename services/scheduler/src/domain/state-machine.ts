import { NodeState, type AgentStage } from '@swarmboot/contracts';

/**
 * The node life cycle (DESIGN.md, "Node life cycle"):
 *
 *   registered → queued → admitted (wave k) → dhcp → booting → installing → verifying → installed → released
 *
 * with `failed(reason)` reachable from every active state, and back to `admitted` from every state
 * after it (a real node's failed install attempt when attempts are left: it boots the install
 * environment again). Idle nodes (registered, installed,
 * released, failed) may be queued again by a new deployment; a queued node goes back to
 * `registered` when its deployment is cancelled. Two shortcuts exist because the
 * events that drive them arrive on independent streams and may be late: `admitted → booting`
 * (the node fetched its iPXE script before the scheduler saw its DHCP lease) and nothing else.
 *
 * Pure: no Redis, no NATS. The Redis adapter applies a transition only when the node is still in
 * the `from` state the decision was made on (compare-and-set), so replicas never double-apply.
 */
export const NODE_TRANSITIONS: Readonly<Record<NodeState, readonly NodeState[]>> = Object.freeze({
  registered: ['queued'],
  queued: ['admitted', 'failed', 'registered'],
  admitted: ['dhcp', 'booting', 'failed'],
  dhcp: ['booting', 'failed', 'admitted'],
  booting: ['installing', 'failed', 'admitted'],
  installing: ['verifying', 'failed', 'admitted'],
  verifying: ['installed', 'failed', 'admitted'],
  installed: ['released', 'queued'],
  released: ['queued'],
  failed: ['queued'],
});

/** Whether `from → to` is an edge of the state machine (a state to itself is not a transition). */
export function canTransition(from: NodeState, to: NodeState): boolean {
  return NODE_TRANSITIONS[from].includes(to);
}

const ACTIVE: ReadonlySet<NodeState> = new Set<NodeState>(['queued', 'admitted', 'dhcp', 'booting', 'installing', 'verifying']);

/** A node in this state may retry its install (→ admitted) instead of failing: it has booted and not finished. */
export function canRetry(state: NodeState): boolean {
  return state === 'dhcp' || state === 'booting' || state === 'installing' || state === 'verifying';
}

/** A node in an active deployment (not registered, installed, released or failed): it cannot join another. */
export function isActive(state: NodeState): boolean {
  return ACTIVE.has(state);
}

/** States in which a node may get the install manifest: admitted and later, until it is released. */
const MANIFEST: ReadonlySet<NodeState> = new Set<NodeState>(['admitted', 'dhcp', 'booting', 'installing', 'verifying', 'installed']);
export function mayInstall(state: NodeState): boolean {
  return MANIFEST.has(state);
}

/**
 * What the iPXE script of a node says (`GET /v1/boot/:mac`):
 * - `install`: boot the installer (admitted; also dhcp…verifying so a node that reboots mid-install
 *   is not sent to a half-written disk),
 * - `wait`: queued but not admitted yet (a later wave): sleep and ask again,
 * - `local`: no deployment for this node, or it is done: exit to the local disk.
 */
export type BootDecision = 'install' | 'wait' | 'local';
export function bootDecision(state: NodeState): BootDecision {
  if (state === 'queued') return 'wait';
  if (state === 'admitted' || state === 'dhcp' || state === 'booting' || state === 'installing' || state === 'verifying') return 'install';
  return 'local';
}

/** The state an agent report moves its node to (`downloading` keeps it `installing`). */
export function stageTarget(stage: AgentStage): NodeState {
  switch (stage) {
    case 'booted':
    case 'downloading':
      return NodeState.installing;
    case 'verifying':
      return NodeState.verifying;
    case 'installed':
      return NodeState.installed;
    case 'failed':
      return NodeState.failed;
  }
}

/** Order along the happy path; `failed` and `registered` are off it. */
const RANK: Readonly<Record<NodeState, number>> = Object.freeze({
  registered: 0,
  queued: 1,
  admitted: 2,
  dhcp: 3,
  booting: 4,
  installing: 5,
  verifying: 6,
  installed: 7,
  released: 8,
  failed: -1,
});

/**
 * How the API treats an agent report that targets `target` while the node is in `current`:
 * - `same`: already there (a retried report, or a progress tick) — update data, no transition,
 * - `behind`: the node is already past it (a late retry, or an agent that keeps reporting while it
 *   seeds and waits for `release`) — acknowledge with the current state, change nothing,
 * - `apply`: an edge of the state machine,
 * - `invalid`: anything else (a skipped stage, a report after `failed`) → 409 INVALID_TRANSITION.
 */
export type ReportDecision = 'same' | 'behind' | 'apply' | 'invalid';
export function classifyReport(current: NodeState, target: NodeState): ReportDecision {
  if (current === target) return 'same';
  if (canTransition(current, target)) return 'apply';
  if (current !== 'failed' && target !== 'failed' && RANK[target] < RANK[current]) return 'behind';
  return 'invalid';
}

/** The deployment counter a transition into `to` finishes (installed and failed end a node's part in a deployment). */
export function finishedAs(to: NodeState): 'installed' | 'failed' | undefined {
  return to === 'installed' || to === 'failed' ? to : undefined;
}

/** The states a node passes through when a deployment takes it: queued, then admitted when its wave is open. */
export function admissionSteps(admitted: boolean): NodeState[] {
  return admitted ? ['queued', 'admitted'] : ['queued'];
}

/** The boot phase: admitted (powering on, PXE), dhcp (boot loader over TFTP), booting (kernel, initrd or the install environment). */
const BOOT_PHASE: ReadonlySet<NodeState> = new Set<NodeState>(['admitted', 'dhcp', 'booting']);
export function inBootPhase(state: NodeState): boolean {
  return BOOT_PHASE.has(state);
}

/**
 * What a transition means to the admission controller: `done` when a node leaves the boot phase
 * forward (its boot files are in, the narrow part is behind it), `failed` when it leaves it
 * backward or fails (a timeout's retry, a failed boot), undefined otherwise.
 */
export function bootOutcome(from: NodeState, to: NodeState): 'bootDone' | 'bootFailed' | undefined {
  if (!inBootPhase(from)) return undefined;
  if (to === 'failed' || to === 'admitted') return 'bootFailed';
  return to === 'installing' || to === 'verifying' || to === 'installed' ? 'bootDone' : undefined;
}

/** The states a node can be stuck in: each has a timeout (SWARMBOOT_SCHEDULER_STATE_TIMEOUTS). */
export const TIMED_STATES = ['admitted', 'dhcp', 'booting', 'installing', 'verifying'] as const;
export type TimedState = (typeof TIMED_STATES)[number];
export function isTimedState(state: NodeState): state is TimedState {
  return (TIMED_STATES as readonly NodeState[]).includes(state);
}

/** The failure reason code of a node stuck in `state`: the boot phase times out as BOOT_TIMEOUT, the install as INSTALL_TIMEOUT. */
export function timeoutCode(state: TimedState): 'BOOT_TIMEOUT' | 'INSTALL_TIMEOUT' {
  return inBootPhase(state) ? 'BOOT_TIMEOUT' : 'INSTALL_TIMEOUT';
}

/**
 * What to do with a node stuck in a timed state: back to `admitted` (power-cycled into PXE) while
 * it has had fewer than `retries` timeouts in this deployment, else `failed`.
 */
export function recoveryAction(timeoutsSoFar: number, retries: number): 'retry' | 'fail' {
  return timeoutsSoFar < retries ? 'retry' : 'fail';
}
