import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Events, type JobCompleted, type NodeStateChanged } from '@swarmboot/contracts';
import type { EventBus, Logger, Registry } from '@swarmboot/kit';
import { Counter, Gauge } from 'prom-client';
import { isNodeState, type SchedulerStore } from './store.js';

/** Facts read from the outbox per round (XRANGE COUNT). */
const READ_BATCH = 500;
/** Rounds of one flush at most (READ_BATCH each): a bounded loop; the relay's next tick goes on. */
const MAX_ROUNDS = 100;
/**
 * How often each replica relays what is left in the outbox (ms): facts of a change whose script
 * ran but whose `WAIT` failed (the caller got REDIS_NOT_REPLICATED and flushed nothing), and facts
 * whose publish failed (NATS restarting). 1 s: the agent's first retry of a 503 comes 0.25 s later,
 * its last 15.75 s later (kit api-client), so a fact is published long before a retry gives up.
 */
export const RELAY_EVERY_MS = 1000;
/**
 * The relay's lease (ms): one replica relays at a time, so core-NATS subscribers (the SSE feed,
 * the dhcp inventory cache) see each fact once; JetStream would drop the copy anyway, but only in
 * the stream (CI on cbd1be2: a test's core subscription got one job.completed twice from two
 * replicas relaying at once). Renewed at every read; a relay killed while it holds the lease
 * delays the others' facts by 5 s at most. A round against a healthy NATS takes milliseconds;
 * one that outlives the lease (publishes retrying for up to 15 s while NATS has no stream
 * leader) lets another replica relay too, and a fact both publish is stored once.
 */
export const RELAY_LEASE_MS = 5000;
/**
 * How long a flush waits for another replica's lease (ms), asking again every RELAY_BUSY_POLL_MS:
 * the holder usually ends its round in milliseconds and may have read before the caller's change
 * was written. Past it the caller answers; its facts go out with the holder's next round or the
 * relay tick.
 */
const RELAY_WAIT_MS = 2000;
const RELAY_BUSY_POLL_MS = 10;

/** A fact of the outbox, ready to publish: its CloudEvent id and time, and the node whose facts it goes out in order with. */
type Fact = { id: string; at: string; nodeId: string } & ({ type: 'node.state'; data: NodeStateChanged } | { type: 'job.completed'; data: JobCompleted });

/** A fact from its outbox fields (scripts.ts OUTBOX_FACTS), or undefined when they are not one. */
function factOf(fields: Record<string, string>): Fact | undefined {
  const { type, id, at, nodeId, deploymentId } = fields;
  if (id === undefined || at === undefined || nodeId === undefined) return undefined;
  if (type === 'node.state') {
    const { from, to, reason } = fields;
    if (!isNodeState(from) || !isNodeState(to)) return undefined;
    const data: NodeStateChanged = { nodeId, from, to, ...(deploymentId === undefined ? {} : { deploymentId }), ...(reason === undefined ? {} : { reason }) };
    return { type, id, at, nodeId, data };
  }
  if (type === 'job.completed') {
    const [installed, failed, durationMs] = [Number(fields.installed), Number(fields.failed), Number(fields.durationMs)];
    if (deploymentId === undefined || fields.image === undefined || !Number.isInteger(installed) || !Number.isInteger(failed) || !Number.isFinite(durationMs)) return undefined;
    return { type, id, at, nodeId, data: { deploymentId, image: fields.image, installed, failed, durationMs } };
  }
  return undefined;
}

/** Publishes a fact as its event, with its own id and time. */
function publishFact(bus: EventBus, f: Fact): Promise<void> {
  const envelope = { id: f.id, time: f.at };
  return f.type === 'node.state' ? bus.publish(Events.nodeStateChanged, f.data, f.nodeId, envelope) : bus.publish(Events.jobCompleted, f.data, undefined, envelope);
}

/**
 * The transactional outbox of the scheduler's facts (`Events.nodeStateChanged`, and
 * `Events.jobCompleted` of the change that finished a deployment): every script that changes a
 * node's state writes its facts into `RedisKeys.factOutbox` in the same script (scripts.ts
 * OUTBOX_FACTS), and this relay publishes them to JetStream, oldest first, and deletes the
 * published ones. So a change that Redis kept is announced even when the scheduler could not
 * publish right after it (its `WAIT` failed in a Sentinel failover, NATS was down, the replica
 * died), and a change that a failover lost is never announced: on a `waitReplicas` connection
 * facts are read only once the replicas have them (scripts.ts READ_OUTBOX).
 *
 * One replica relays at a time (a lease in Redis, RELAY_LEASE_MS), so each fact is published
 * once while the relays live. Each goes out with its own CloudEvent id and time (those of the
 * change) as the JetStream message ID, so a fact published again — its delete was lost, or a relay
 * outlived its lease — is stored once (the stream's 2 min duplicate window); core-NATS
 * subscribers see such a copy. A node's facts go out one at a time in order and stop at the first
 * that fails; different nodes' facts go out concurrently.
 */
export class FactOutbox {
  private current: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private readonly metrics;
  /** This relay's token in the lease (RedisKeys.factOutboxRelay). */
  private readonly token = randomUUID();

  constructor(
    private readonly store: Pick<SchedulerStore, 'readFacts' | 'deleteFacts' | 'releaseFacts' | 'pendingFacts'>,
    private readonly bus: EventBus,
    private readonly log: Logger,
    registry: Registry,
  ) {
    const registers = [registry];
    this.metrics = {
      published: new Counter({ name: 'swarmboot_scheduler_facts_published_total', help: 'facts published from the outbox (a copy another replica published too is counted by both; the stream keeps one)', labelNames: ['type'], registers }),
      failures: new Counter({
        name: 'swarmboot_scheduler_outbox_failures_total',
        help: 'outbox rounds that stopped early, by stage (read: Redis down or the replicas behind; busy: another replica held the relay lease past the wait; publish: NATS; delete: Redis); the facts stay and are published later',
        labelNames: ['stage'],
        registers,
      }),
      malformed: new Counter({ name: 'swarmboot_scheduler_outbox_malformed_total', help: 'outbox entries that were no fact; dropped', registers }),
    };
    const pending = this.store.pendingFacts.bind(this.store);
    new Gauge({
      name: 'swarmboot_scheduler_outbox_facts',
      help: 'facts in the outbox, not yet published',
      registers,
      async collect() {
        this.set(await pending().catch(() => 0));
      },
    });
  }

  /**
   * Publishes the outbox's facts and deletes the published ones. One flush at a time per process:
   * a call made while one runs (which may have read before the caller's change was written) waits
   * for one more, shared by every such caller. Never throws: a failure is logged and counted, and
   * its facts wait for the next flush.
   */
  flush(): Promise<void> {
    if (this.current === undefined) {
      this.current = this.drain().finally(() => {
        this.current = undefined;
      });
      return this.current;
    }
    this.queued ??= this.current.then(() => {
      this.queued = undefined;
      return this.flush();
    });
    return this.queued;
  }

  /** Relays every RELAY_EVERY_MS until the returned stop function is called (it waits for a flush under way). */
  start(): () => Promise<void> {
    const timer = setInterval(() => void this.flush(), RELAY_EVERY_MS);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await this.current;
      await this.queued;
    };
  }

  private async drain(): Promise<void> {
    let leased = false; // an empty read takes no lease
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        let rows: Awaited<ReturnType<SchedulerStore['readFacts']>>;
        try {
          rows = await this.readWhenFree();
        } catch (err) {
          leased = true; // the script may have taken the lease before its WAIT failed
          this.fail('read', err);
          return;
        }
        if (rows === 'busy') {
          this.fail('busy', new Error(`another replica held the outbox relay lease for ${RELAY_WAIT_MS} ms`));
          return;
        }
        if (rows.length === 0) return;
        leased = true;
        const done = await this.publish(rows);
        try {
          await this.store.deleteFacts(done);
        } catch (err) {
          // published and not deleted: published again next time, and dropped by the stream as a duplicate
          this.fail('delete', err);
          return;
        }
        if (done.length < rows.length || rows.length < READ_BATCH) return;
      }
    } finally {
      if (leased) await this.store.releaseFacts(this.token).catch(() => undefined); // else it lapses after RELAY_LEASE_MS
    }
  }

  /** readFacts under this relay's lease, waiting up to RELAY_WAIT_MS while another replica holds it. */
  private async readWhenFree(): Promise<Awaited<ReturnType<SchedulerStore['readFacts']>>> {
    const waitUntil = Date.now() + RELAY_WAIT_MS;
    for (;;) {
      const rows = await this.store.readFacts(READ_BATCH, this.token, RELAY_LEASE_MS);
      if (rows !== 'busy' || Date.now() + RELAY_BUSY_POLL_MS > waitUntil) return rows;
      await delay(RELAY_BUSY_POLL_MS);
    }
  }

  /** Publishes `rows`; returns the stream ids of those published or malformed (both leave the outbox). */
  private async publish(rows: readonly { streamId: string; fields: Record<string, string> }[]): Promise<string[]> {
    const done: string[] = [];
    const byNode = new Map<string, { streamId: string; fact: Fact }[]>();
    for (const r of rows) {
      const fact = factOf(r.fields);
      if (fact === undefined) {
        this.metrics.malformed.inc();
        this.log.error({ streamId: r.streamId, fields: r.fields }, 'outbox entry is no fact; dropped');
        done.push(r.streamId);
        continue;
      }
      const list = byNode.get(fact.nodeId) ?? [];
      list.push({ streamId: r.streamId, fact });
      byNode.set(fact.nodeId, list);
    }
    let failed: unknown;
    await Promise.all(
      [...byNode.values()].map(async (facts) => {
        for (const { streamId, fact } of facts) {
          try {
            await publishFact(this.bus, fact);
          } catch (err) {
            failed ??= err;
            return; // this node's later facts wait, so its facts stay in order
          }
          this.metrics.published.inc({ type: fact.type });
          done.push(streamId);
        }
      }),
    );
    if (failed !== undefined) this.fail('publish', failed);
    return done;
  }

  private fail(stage: 'read' | 'busy' | 'publish' | 'delete', err: unknown): void {
    this.metrics.failures.inc({ stage });
    this.log.warn({ err, stage }, 'outbox round stopped; its facts are published later');
  }
}
