/**
 * Admission: how many of a deployment's queued nodes may enter the boot phase (admitted → dhcp →
 * booting) now. Pure: no Redis, no clock of its own (times come in as `nowMs`).
 *
 * The boot phase (DHCP, TFTP/HTTP of the boot files) is the narrow part of an install, the swarm
 * phase after it scales with the nodes (DESIGN.md, "Admission"). Its capacity is not known ahead
 * (link speed, loss, boot-file size, the servers' load) and changes while a deployment runs, so it
 * is measured the way TCP measures a path (RFC 5681 §3.1, AIMD, Chiu & Jain 1989): a window of
 * nodes allowed in the boot phase at once, which
 * - grows by one for every node that finishes the boot phase while below `ssthresh` (slow start:
 *   the window doubles per window of completions), then by 1/window per completion (additive
 *   increase, one node per window of completions),
 * - halves on a boot-phase failure (a timeout, a retry, a failed TFTP transfer, a failed node) and
 *   sets `ssthresh` there (multiplicative decrease), at most once per `holdMs` — the failures of
 *   one overload arrive together, as TCP reduces once per round trip (RFC 5681 §3.2, RFC 6582),
 * - never leaves [1, maxInFlight].
 * A node that finishes frees its place, so admissions follow completions, not a timer (Kraken and
 * TCP are ack-clocked the same way). Wave 0, the canary, is admitted at creation; later waves wait
 * until no canary node is left in the boot phase (each finished or failed), so a broken image or
 * boot path costs the canary, not the whole deployment. `ratePerSecond` (a token bucket of one
 * second's admissions) and `maxInFlight` are operator overrides on top of what is measured.
 */

export interface AdmissionLimits {
  /** nodes in the boot phase at once, at most (≥ 1) */
  maxInFlight: number;
  /** admissions per second, at most; 0: no limit */
  ratePerSecond: number;
  /** one multiplicative decrease per this many ms (the failures of one overload arrive together) */
  holdMs: number;
}

/** The controller's memory between steps (stored as JSON with the deployment, so any replica can step it). */
export interface ControllerState {
  /** nodes allowed in the boot phase at once (fractional during additive increase) */
  window: number;
  /** slow-start threshold: below it the window grows by one per completion */
  ssthresh: number;
  /** the deployment's cumulative boot-phase completions and failures at the last step */
  doneSeen: number;
  failedSeen: number;
  /** admissions the rate limit still allows (token bucket, at most one second's worth) */
  tokens: number;
  /** time of the last step (ms) */
  atMs: number;
  /** no multiplicative decrease before this time (ms) */
  holdUntilMs: number;
}

/** What the scheduler observes of a deployment at a step. Counts are nodes; `bootDone`/`bootFailed` are cumulative. */
export interface Observation {
  nowMs: number;
  /** nodes that finished the boot phase (reached installing) so far */
  bootDone: number;
  /** boot-phase failures so far: timeouts and retries, failed nodes, failed TFTP transfers */
  bootFailed: number;
  /** nodes in the boot phase now (admitted, dhcp, booting) */
  inFlight: number;
  /** queued nodes of the deployment */
  waiting: number;
  /** canary (wave 0) nodes still in the boot phase */
  canaryPending: number;
}

/** The controller of a new deployment whose canary of `canary` nodes is admitted at `nowMs`. */
export function initialController(canary: number, limits: AdmissionLimits, nowMs: number): ControllerState {
  const window = clamp(canary, 1, limits.maxInFlight);
  return { window, ssthresh: limits.maxInFlight, doneSeen: 0, failedSeen: 0, tokens: 0, atMs: nowMs, holdUntilMs: 0 };
}

/** The size of the canary wave: `canary` nodes, at most all of them and at most `maxInFlight`. */
export function canarySize(canary: number, nodes: number, maxInFlight: number): number {
  return Math.max(0, Math.min(canary, nodes, maxInFlight));
}

/**
 * One step: folds what happened since the last step into the window and says how many queued
 * nodes to admit now (0 while the canary is in the boot phase or the window is full). Counters
 * that went backwards (a restore) count as nothing new.
 */
export function stepController(s: ControllerState, o: Observation, limits: AdmissionLimits): { state: ControllerState; admit: number } {
  const done = Math.max(0, o.bootDone - s.doneSeen);
  const failed = Math.max(0, o.bootFailed - s.failedSeen);
  let { window, ssthresh, holdUntilMs } = s;
  if (failed > 0) {
    if (o.nowMs >= holdUntilMs) {
      ssthresh = Math.max(1, window / 2);
      window = ssthresh;
      holdUntilMs = o.nowMs + limits.holdMs;
    }
  } else if (o.canaryPending === 0) {
    // a step with a failure does not grow: the completions of an overloaded round are not head-room
    for (let i = 0; i < done; i++) window += window < ssthresh ? 1 : 1 / window;
  }
  window = clamp(window, 1, limits.maxInFlight);
  ssthresh = clamp(ssthresh, 1, limits.maxInFlight);
  const elapsed = Math.max(0, o.nowMs - s.atMs);
  const tokens = limits.ratePerSecond > 0 ? Math.min(Math.max(1, limits.ratePerSecond), s.tokens + (elapsed / 1000) * limits.ratePerSecond) : 0;
  let admit = o.canaryPending > 0 ? 0 : Math.max(0, Math.min(o.waiting, Math.floor(window) - o.inFlight));
  if (limits.ratePerSecond > 0) admit = Math.min(admit, Math.floor(tokens));
  return {
    // completions during the canary are kept for when it is through: they are head-room measured
    state: { window, ssthresh, doneSeen: o.canaryPending > 0 && failed === 0 ? s.doneSeen : Math.max(s.doneSeen, o.bootDone), failedSeen: Math.max(s.failedSeen, o.bootFailed), tokens: tokens - (limits.ratePerSecond > 0 ? admit : 0), atMs: o.nowMs, holdUntilMs },
    admit,
  };
}

/**
 * The failures a deployment of `nodes` nodes may have before it pauses: `budget` below 1 is a
 * fraction of its nodes (rounded down), from 1 a count (rounded down).
 */
export function failureBudget(budget: number, nodes: number): number {
  return Math.floor(budget < 1 ? budget * nodes : budget);
}

/** Whether `failed` failures (since the start or the last resume) are over the budget. */
export function overBudget(failed: number, budget: number): boolean {
  return failed > budget;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), Math.max(lo, hi));
}
