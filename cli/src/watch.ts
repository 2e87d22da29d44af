import { setTimeout as sleep } from 'node:timers/promises';
import { MultiBar, Presets } from 'cli-progress';
import type { Deployment } from '@swarmboot/contracts';
import type { SwarmbootClient } from '@swarmboot/kit';
import { deploymentOutcome, type ExitCode } from './exit-codes.js';
import { formatBytes, printable } from './timeline.js';

/** Where a deployment stands: nodes per phase, and the image bytes its nodes have (of all they need). */
export interface Snapshot {
  total: number;
  /** nodes past their boot: installing, verifying, installed, released */
  booted: number;
  /** nodes that are done: installed, released or failed */
  finished: number;
  failed: number;
  bytes: number;
  bytesTotal: number;
}

const BOOTED = new Set(['installing', 'verifying', 'installed', 'released']);
const HAVE_IMAGE = new Set(['verifying', 'installed', 'released']);

/**
 * A deployment's snapshot. The image size is the largest `progress.total` a node reported; a node
 * that verifies, installed or failed counts as having all of it (it wants no more bytes).
 */
export function snapshot(d: Deployment): Snapshot {
  const size = Math.max(0, ...d.nodes.map((n) => n.progress?.total ?? 0));
  let bytes = 0;
  for (const n of d.nodes) bytes += HAVE_IMAGE.has(n.state) || n.state === 'failed' ? size : Math.min(size, n.progress?.bytes ?? 0);
  return {
    total: d.nodes.length,
    booted: d.nodes.filter((n) => BOOTED.has(n.state)).length,
    finished: d.nodes.filter((n) => n.state === 'installed' || n.state === 'released' || n.state === 'failed').length,
    failed: d.nodes.filter((n) => n.state === 'failed').length,
    bytes,
    bytesTotal: size * d.nodes.length,
  };
}

/**
 * Rates measured over a sliding window of samples (the last `windowMs`, plus the one sample just
 * before it so a slow phase still has two points): nodes finished per second, bytes per second.
 * 30 s by default: a node's download of a 1 GB image over a 1 Gbit/s link takes about 10 s, so
 * the window spans several finishes at fleet scale while still following a phase change.
 */
export class RateWindow {
  private readonly samples: { ms: number; finished: number; bytes: number }[] = [];
  constructor(private readonly windowMs = 30_000) {}

  add(ms: number, s: Pick<Snapshot, 'finished' | 'bytes'>): void {
    this.samples.push({ ms, finished: s.finished, bytes: s.bytes });
    while (this.samples.length > 2 && ms - this.samples[1]!.ms >= this.windowMs) this.samples.shift();
  }

  /** per second over the window; undefined before two samples */
  rate(of: 'finished' | 'bytes'): number | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (first === undefined || last === undefined || last.ms <= first.ms) return undefined;
    return ((last[of] - first[of]) * 1000) / (last.ms - first.ms);
  }

  /**
   * Seconds until `s` is finished at the measured rates: the longer of the nodes still to finish
   * at the finish rate and the bytes still to come at the byte rate; undefined while nothing moves.
   */
  eta(s: Snapshot): number | undefined {
    const left = [
      [s.total - s.finished, this.rate('finished')],
      [s.bytesTotal - s.bytes, this.rate('bytes')],
    ] as const;
    const etas = left.filter(([rest, rate]) => rest > 0 && rate !== undefined && rate > 0).map(([rest, rate]) => rest / rate!);
    return etas.length === 0 ? undefined : Math.max(...etas);
  }
}

/** `1h02m`, `3m07s`, `12s`. */
export function formatDuration(s: number): string {
  const t = Math.round(s);
  if (t >= 3600) return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
  if (t >= 60) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${t}s`;
}

/** `installing=3 installed=5 failed=1` (states with nodes only). */
export function formatCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

export interface WatchOptions {
  out: NodeJS.WritableStream;
  /** progress bars (a terminal), else one line per change */
  tty: boolean;
  /** poll period (ms) */
  intervalMs: number;
  signal?: AbortSignal;
}

/**
 * `swarmboot status JOB --watch`: polls the deployment until it is no longer running, showing
 * bars for the boot, download and finish phases with an ETA from the measured rates (a terminal),
 * or one line each time the node counts or the downloaded percentage change (a pipe, a log).
 * Ends with the failed nodes and their reasons; resolves with the deployment's exit code
 * (`deploymentOutcome`). API errors are thrown.
 */
export async function watchDeployment(client: SwarmbootClient, id: string, o: WatchOptions): Promise<ExitCode> {
  const window = new RateWindow();
  const bars = o.tty ? new MultiBar({ stream: o.out as NodeJS.WriteStream, format: ' {phase} |{bar}| {percentage}% {text}', hideCursor: true, clearOnComplete: false, forceRedraw: true }, Presets.shades_classic) : undefined;
  const [boot, download, done] = bars ? [bars.create(1, 0, { phase: 'boot    ', text: '' }), bars.create(1, 0, { phase: 'download', text: '' }), bars.create(1, 0, { phase: 'finish  ', text: '' })] : [];
  let last = '';
  let final: { d: Deployment; outcome: ExitCode } | undefined;
  try {
    while (final === undefined) {
      const d = await client.deployment(id);
      const s = snapshot(d);
      window.add(Date.now(), s);
      const eta = window.eta(s);
      const etaText = eta === undefined ? '' : ` ETA ${formatDuration(eta)}`;
      const bytesRate = window.rate('bytes');
      const pct = s.bytesTotal > 0 ? Math.floor((100 * s.bytes) / s.bytesTotal) : 0;
      if (boot && download && done) {
        boot.setTotal(Math.max(1, s.total));
        boot.update(s.booted, { text: `${s.booted}/${s.total} nodes booted` });
        download.setTotal(Math.max(1, s.bytesTotal));
        download.update(s.bytes, { text: `${formatBytes(s.bytes)} of ${formatBytes(s.bytesTotal)}${bytesRate ? `, ${formatBytes(bytesRate)}/s` : ''}` });
        done.setTotal(Math.max(1, s.total));
        done.update(s.finished, { text: `${s.finished}/${s.total} (${formatCounts(d.counts)})${etaText}` });
      } else {
        const line = `${d.id} ${d.state} ${formatCounts(d.counts)} download ${pct}%`;
        if (line !== last) o.out.write(`${new Date().toISOString()} ${line}${etaText}\n`);
        last = line;
      }
      const outcome = deploymentOutcome(d);
      if (outcome !== undefined) final = { d, outcome };
      else await sleep(o.intervalMs, undefined, { signal: o.signal });
    }
  } finally {
    bars?.stop();
  }
  o.out.write(summary(final.d));
  return final.outcome;
}

function summary(d: Deployment): string {
  const failed = d.nodes.filter((n) => n.state === 'failed');
  return `${d.id} ${d.state}: ${formatCounts(d.counts)}\n` + failed.map((n) => `  ${n.id} failed: ${printable(n.reason ?? 'no reason given')}\n`).join('');
}
