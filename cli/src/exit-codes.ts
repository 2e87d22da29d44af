import { isSwarmbootError, type Deployment } from '@swarmboot/contracts';

/**
 * Exit codes of the commands, for scripts to branch on (README, "Exit codes"). The commands that
 * wait for an outcome (`status --watch`) end with `deploymentOutcome`; every command ends with
 * `errorExitCode` when it fails.
 */
export const ExitCode = {
  /** done: every node of the deployment installed (or released) */
  ok: 0,
  /** usage error (commander), an unreachable API, any other error */
  error: 1,
  /** the deployment finished and at least one node failed */
  nodesFailed: 2,
  /** the deployment was cancelled, or released before every node finished */
  stopped: 3,
  /** the node or deployment named does not exist (HTTP 404) */
  notFound: 4,
  /** the API refused the caller (HTTP 401, 403) */
  denied: 5,
  /** the deployment is paused (over its failure budget): it admits no more nodes until `swarmboot resume` */
  paused: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The exit code of a deployment that is no longer running (undefined while it runs). A paused one
 * ends the watch at once: it waits for an operator, and its nodes in flight go on without one.
 */
export function deploymentOutcome(d: Pick<Deployment, 'state' | 'counts'>): ExitCode | undefined {
  if (d.state === 'running') return undefined;
  if (d.state === 'paused') return ExitCode.paused;
  if (d.state === 'cancelled') return ExitCode.stopped;
  const n = (s: string) => d.counts[s] ?? 0;
  if (n('failed') > 0) return ExitCode.nodesFailed;
  const total = Object.values(d.counts).reduce((a, b) => a + b, 0);
  return n('installed') + n('released') === total ? ExitCode.ok : ExitCode.stopped;
}

/** The exit code of a failed command: the HTTP status the API answered with decides, else 1. */
export function errorExitCode(err: unknown): ExitCode {
  const status = isSwarmbootError(err) ? err.context['status'] : undefined;
  if (status === 404) return ExitCode.notFound;
  if (status === 401 || status === 403) return ExitCode.denied;
  return ExitCode.error;
}
