import { Events } from '@swarmboot/contracts';
import type { EventBus, Logger, Registry } from '@swarmboot/kit';
import { Counter } from 'prom-client';
import type { SchedulerStore } from './store.js';
import type { RecordedEntry, TimelineStore } from './timeline-store.js';

/**
 * Durable consumer name of the flight recorder: replicas share it, so each event is recorded by
 * one of them; it is its own consumer (not `scheduler`'s), so recording never holds up or
 * replays the state changes, and a failed recording is redelivered alone.
 */
export const TIMELINE_CONSUMER = 'scheduler-timeline';

export interface TimelineRecorderDeps {
  bus: EventBus;
  /** node lookups by MAC and address (read only) */
  store: Pick<SchedulerStore, 'nodeIdByMac' | 'nodeIdByIp'>;
  timeline: TimelineStore;
  log: Logger;
  registry: Registry;
  /** at most one progress entry per node per this long (ms) */
  progressEveryMs: number;
}

/**
 * Records the events of each node in its flight recorder (`TimelineStore.record`):
 * - `Events.leaseGranted` (the node by the lease's MAC), `Events.tftpTransferCompleted|Failed`
 *   (the node by the client address: its lease, or the address the scheduler recorded for it),
 *   `Events.nodeFailureClassified`, `Events.powerRequested|Completed|Failed` (by their node id),
 *   through the durable consumer {@link TIMELINE_CONSUMER} — a
 *   handler that throws (Redis down) gets its event redelivered, and the entry's id is the
 *   event's, so a redelivered event is not recorded twice;
 * - `Events.nodeProgress` (core NATS: every replica hears it), at most one entry per node per
 *   `progressEveryMs`, gated in Redis so the replicas together keep one; with the download rate
 *   since the previous entry.
 * Events of addresses and MACs that are no registered node's are skipped.
 * Returns a stop function.
 */
/** What became of an event the recorder got: a metric label. */
type RecordOutcome = 'recorded' | 'duplicate' | 'unknown_node';

export async function startTimelineRecorder(deps: TimelineRecorderDeps): Promise<() => Promise<void>> {
  const { bus, store, timeline, log } = deps;
  const events = new Counter({
    name: 'swarmboot_scheduler_timeline_events_total',
    help: 'events the timeline recorder got, by source and outcome (duplicate: delivered again, already recorded; unknown_node: no registered node has its MAC or address)',
    labelNames: ['source', 'outcome'],
    registers: [deps.registry],
  });
  const count = (source: RecordedEntry['source'], outcome: RecordOutcome) => events.inc({ source, outcome });
  const record = async (nodeId: string | undefined, entry: RecordedEntry): Promise<void> => {
    if (nodeId === undefined) return count(entry.source, 'unknown_node');
    count(entry.source, (await timeline.record(nodeId, entry)) ? 'recorded' : 'duplicate');
  };
  const stops = [
    await bus.consume(Events.leaseGranted, TIMELINE_CONSUMER, async (lease, e) => record(await store.nodeIdByMac(lease.chaddr), { id: `dhcp:${e.id}`, at: e.time, source: 'dhcp', lease })),
    await bus.consume(Events.tftpTransferCompleted, TIMELINE_CONSUMER, async (transfer, e) =>
      record(await store.nodeIdByIp(transfer.clientAddress), { id: `tftp:${e.id}`, at: e.time, source: 'tftp', outcome: 'completed', transfer }),
    ),
    await bus.consume(Events.tftpTransferFailed, TIMELINE_CONSUMER, async (transfer, e) =>
      record(await store.nodeIdByIp(transfer.clientAddress), { id: `tftp:${e.id}`, at: e.time, source: 'tftp', outcome: 'failed', transfer }),
    ),
    await bus.consume(Events.nodeFailureClassified, TIMELINE_CONSUMER, async (failure, e) => record(failure.nodeId, { id: `failure:${e.id}`, at: e.time, source: 'failure', failure })),
    await bus.consume(Events.powerRequested, TIMELINE_CONSUMER, async (power, e) => record(power.nodeId, { id: `power:${e.id}`, at: e.time, source: 'power', outcome: 'requested', power })),
    await bus.consume(Events.powerCompleted, TIMELINE_CONSUMER, async (power, e) => record(power.nodeId, { id: `power:${e.id}`, at: e.time, source: 'power', outcome: 'completed', power })),
    await bus.consume(Events.powerFailed, TIMELINE_CONSUMER, async (power, e) => record(power.nodeId, { id: `power:${e.id}`, at: e.time, source: 'power', outcome: 'failed', power })),
  ];
  const pending = new Set<Promise<void>>();
  const unsubscribe = bus.subscribe(Events.nodeProgress, (p, e) => {
    const atMs = Date.parse(e.time);
    if (Number.isNaN(atMs)) return;
    const job = (async () => {
      const gate = await timeline.passProgress(p.nodeId, atMs, p.bytes, deps.progressEveryMs);
      if (gate === undefined) return;
      const { prev } = gate;
      const rate = prev !== null && atMs > prev.ms && p.bytes >= prev.bytes ? Math.round(((p.bytes - prev.bytes) * 1000) / (atMs - prev.ms)) : undefined;
      await record(p.nodeId, { id: `progress:${e.id}`, at: e.time, source: 'progress', deploymentId: p.deploymentId, stage: p.stage, bytes: p.bytes, total: p.total, ...(rate === undefined ? {} : { rate }) });
    })()
      // progress is a sample: one that cannot be recorded is logged, not retried
      .catch((err: unknown) => log.warn({ err, nodeId: p.nodeId }, 'progress entry not recorded'))
      .finally(() => pending.delete(job));
    pending.add(job);
  });
  log.info({ consumer: TIMELINE_CONSUMER }, 'recording node timelines');
  return async () => {
    unsubscribe();
    await Promise.all(stops.map((stop) => stop()));
    await Promise.all(pending);
  };
}
