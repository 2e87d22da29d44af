import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Stream, SwarmbootError, subjectOf, type CloudEvent, type EventDef } from '@swarmboot/contracts';
import type { Logger } from './logger.js';

/** How long JetStream waits for a consumer's ack before redelivering (ms). */
const AckWaitMs = 30_000;

/**
 * A durable publish waits PublishAckTimeoutMs for the stream's ack, and while the stream cannot
 * answer (ack timeout, or "no responders": no stream leader) asks again every PublishRetryMs,
 * with the same message ID, until PublishDeadlineMs has passed. After the kill -9 of the stream
 * leader in a three-node cluster the survivors answered "no responders" until they had elected a
 * new leader, 5.4 s after the kill (nats-server 2.9.10, test/integration/nats-cluster;
 * docs/benchmarks.md, issue 15); nats.js' own retries (backoff 0 … 3000, 5000 ms) resumed 4 s
 * after that. The same message ID lets the stream drop a copy it did store (duplicate window,
 * 2 min), so asking again never duplicates an event.
 */
const PublishAckTimeoutMs = 2000;
const PublishRetryMs = 250;
const PublishDeadlineMs = 15_000;

/**
 * Compiled checks, one per event schema: the log sink publishes every log line, and TypeBox's
 * interpreting `Value.Check` was 3 % of its CPU at 40 000 lines/s (docs/benchmarks.md "Log sink").
 */
const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();
function checkOf(schema: TSchema): TypeCheck<TSchema> {
  let check = compiled.get(schema);
  if (check === undefined) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  return check;
}

/** nats.js' errors that mean "the stream did not answer" rather than "the stream said no". */
function streamUnreachable(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'JetStreamNotEnabled');
}

/**
 * How long one pull request of a consumer lasts (ms); nats.js asks the server for an idle
 * heartbeat every half of it and pulls afresh after two missed ones. With its default (30 s) a
 * consumer whose pull was held by a cluster member that died stalled for 30 s; at 5 s it pulls
 * again from the new consumer leader about 5 s after the kill (test/integration/nats-cluster).
 * The price: one pull request per consumer every 5 s while idle.
 */
const PullExpiresMs = 5000;

/**
 * How many handled event ids a consumer or follower remembers, to drop a copy of one (`RecentIds`).
 * JetStream delivers at least once: a consumer leader killed before its delivered or acknowledged
 * state reached the others delivers again, and a stream leader change can store a publish twice
 * under one message ID (nats-cluster test, CI on cbd1be2: one event of 1 204 arrived twice after
 * the kill -9 of the stream leader). Those copies come within seconds; 4096 ids (about 0.3 MB)
 * outlast them at the scheduler's event rates.
 */
const RecentIdsKept = 4096;

/** The CloudEvent ids a consumer has handled or is handling, the newest `RecentIdsKept`. */
class RecentIds {
  private readonly ids = new Set<string>();
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > RecentIdsKept) this.ids.delete(this.ids.values().next().value as string);
  }
  delete(id: string): void {
    this.ids.delete(id);
  }
}

/**
 * Typed publish/subscribe over NATS: every payload is a CloudEvents 1.0 envelope whose `data`
 * is validated against the event's schema before it leaves and after it arrives.
 */
export class EventBus {
  private readonly js;
  constructor(
    readonly nc: NatsConnection,
    private readonly source: string,
    private readonly log: Logger,
  ) {
    this.js = jetstream(nc);
  }

  /**
   * Publishes; durable events wait for the JetStream ack, asking again with the same message ID
   * while the stream cannot answer (no leader after a cluster member died), for up to 15 s.
   * Throws EVENT_INVALID for data that fails its schema; nats.js' TimeoutError or
   * JetStreamNotEnabled (no responders) when the stream never answered; its JetStreamApiError
   * when the stream refused the message.
   * `envelope` sets the CloudEvent's `id` (also the JetStream message ID: the stream drops a second
   * copy within its 2 min duplicate window) and `time` (ISO 8601) of an event recorded earlier, as
   * the scheduler's fact outbox does; by default a new UUID and now.
   */
  async publish<S extends TSchema>(def: EventDef<S>, data: Static<S>, id?: string, envelope: { id?: string; time?: string } = {}): Promise<void> {
    return this.publishSerialized(def, data, JSON.stringify(data), id, envelope);
  }

  /**
   * `publish` for a caller that already holds `data` as JSON (`dataJson`, exactly
   * `JSON.stringify(data)`): the envelope is written around that string instead of serialising
   * the data a second time — the log sink stores each line's JSON in Redis and sends the same
   * string on NATS (docs/benchmarks.md "Log sink", issue 14). `data` is still checked against the
   * event's schema. Same errors and `envelope` as `publish`.
   */
  async publishSerialized<S extends TSchema>(def: EventDef<S>, data: Static<S>, dataJson: string, id?: string, envelope: { id?: string; time?: string } = {}): Promise<void> {
    if (!checkOf(def.schema).Check(data)) {
      const first = Value.Errors(def.schema, data).First();
      throw new SwarmbootError('EVENT_INVALID', `${def.type}: ${first?.path ?? ''} ${first?.message ?? 'invalid'}`);
    }
    const subject = subjectOf(def, id);
    const eventId = envelope.id ?? randomUUID();
    const time = envelope.time ?? new Date().toISOString();
    // the key order of CloudEvent<T> as JSON.stringify wrote it before: specversion … data, subject
    const payload =
      `{"specversion":"1.0","id":${JSON.stringify(eventId)},"source":${JSON.stringify(this.source)},"type":${JSON.stringify(def.type)},` +
      `"time":${JSON.stringify(time)},"datacontenttype":"application/json","data":${dataJson}` +
      (id === undefined ? '}' : `,"subject":${JSON.stringify(id)}}`);
    if (!def.durable) {
      this.nc.publish(subject, payload);
      return;
    }
    const deadline = Date.now() + PublishDeadlineMs;
    for (;;) {
      try {
        await this.js.publish(subject, payload, { msgID: eventId, timeout: PublishAckTimeoutMs });
        return;
      } catch (err) {
        if (!streamUnreachable(err) || Date.now() + PublishRetryMs > deadline || this.nc.isClosed()) throw err;
        await delay(PublishRetryMs);
      }
    }
  }

  /**
   * Consumes a durable event with a durable consumer named `durable` (replicas sharing the name
   * share the work). Handler errors are logged and the message is redelivered (nak, 1 s later).
   * A copy of an event this call handled or is handling (same CloudEvent id, among the last
   * RecentIdsKept) is acknowledged without running the handler: JetStream delivers at least once,
   * and so a handler sees each event once per process (a copy may still reach another replica).
   * A consumer created with `from: 'new'` starts at the events published after its creation
   * rather than at the stream's first (a week back); once it exists it resumes where it stopped.
   * `concurrency` (default 1: one message at a time, in order) lets that many handlers run at once;
   * a handler that runs longer than half the ack wait (30 s) tells JetStream it is still working
   * (`+WPI`), so a slow handler is not redelivered to another replica while it runs.
   * Returns a stop function (it waits for the running handlers).
   */
  async consume<S extends TSchema>(
    def: EventDef<S>,
    durable: string,
    handler: (data: Static<S>, event: CloudEvent<Static<S>>) => Promise<void>,
    opts: { from?: 'all' | 'new'; concurrency?: number } = {},
  ): Promise<() => Promise<void>> {
    if (!def.durable) throw new SwarmbootError('EVENT_NOT_DURABLE', `${def.type} is not a JetStream event; use subscribe`);
    const jsm = await jetstreamManager(this.nc);
    const name = `${durable}-${def.type.replace(/\./g, '_')}`;
    const filter_subject = filterOf(def);
    try {
      await jsm.consumers.info(Stream.name, name);
    } catch {
      await jsm.consumers.add(Stream.name, { durable_name: name, filter_subject, ack_policy: AckPolicy.Explicit, deliver_policy: opts.from === 'new' ? DeliverPolicy.New : DeliverPolicy.All, ack_wait: AckWaitMs * 1_000_000, max_deliver: 10 });
    }
    const consumer = await this.js.consumers.get(Stream.name, name);
    const messages = await consumer.consume({ max_messages: 256, expires: PullExpiresMs });
    const concurrency = Math.max(1, opts.concurrency ?? 1);
    const running = new Set<Promise<void>>();
    const handled = new RecentIds();
    const handle = async (m: JsMsg, event: CloudEvent<Static<S>>): Promise<void> => {
      const working = setInterval(() => m.working(), AckWaitMs / 2);
      handled.add(event.id);
      try {
        await handler(event.data, event);
        m.ack();
      } catch (err) {
        handled.delete(event.id); // its redelivery runs the handler again
        this.log.error({ err, type: def.type }, 'event handler failed; redelivering');
        m.nak(1000);
      } finally {
        clearInterval(working);
      }
    };
    const done = (async () => {
      for await (const m of messages) {
        const event = this.decode(def, m.data);
        if (!event) {
          m.term();
          continue;
        }
        if (handled.has(event.id)) {
          this.dropCopy(def, event, m);
          m.ack();
          continue;
        }
        const p = handle(m, event);
        running.add(p);
        void p.finally(() => running.delete(p));
        if (running.size >= concurrency) await Promise.race(running);
      }
      await Promise.all(running);
    })();
    return async () => {
      await messages.close();
      await done;
    };
  }

  /**
   * Follows a durable event with an ordered consumer: ephemeral, unacknowledged, one per call,
   * so every caller (every replica) sees every event, in stream order, from `from` on (`new`:
   * published after this call, the default; `all`: the stream's first, up to a week back).
   * nats.js recreates the consumer from the last delivered sequence after a gap or a reconnect,
   * so no event is skipped while the process lives; a process that starts later must read the
   * state the events describe (e.g. the catalog) after this call to catch up. Handlers run one at
   * a time; an error is logged and the event is not delivered again. A copy the stream stored
   * twice (same CloudEvent id, among the last RecentIdsKept) is dropped. Returns a stop function
   * (it waits for the running handler).
   */
  async follow<S extends TSchema>(def: EventDef<S>, handler: (data: Static<S>, event: CloudEvent<Static<S>>) => Promise<void>, opts: { from?: 'all' | 'new' } = {}): Promise<() => Promise<void>> {
    if (!def.durable) throw new SwarmbootError('EVENT_NOT_DURABLE', `${def.type} is not a JetStream event; use subscribe`);
    const consumer = await this.js.consumers.get(Stream.name, { filter_subjects: filterOf(def), deliver_policy: opts.from === 'all' ? DeliverPolicy.All : DeliverPolicy.New });
    const messages = await consumer.consume();
    const handled = new RecentIds();
    const done = (async () => {
      for await (const m of messages) {
        const event = this.decode(def, m.data);
        if (!event) continue;
        if (handled.has(event.id)) {
          this.dropCopy(def, event, m);
          continue;
        }
        handled.add(event.id);
        try {
          await handler(event.data, event);
        } catch (err) {
          this.log.error({ err, type: def.type }, 'event handler failed');
        }
      }
    })();
    return async () => {
      await messages.close();
      await done;
    };
  }

  /** Core NATS subscription (chatty events, or live tails of durable ones); `id` `*` for all ids. */
  subscribe<S extends TSchema>(def: EventDef<S>, handler: (data: Static<S>, event: CloudEvent<Static<S>>) => void, id = '*'): () => void {
    const subject = def.subject.endsWith('.*') ? def.subject.slice(0, -1) + id : def.subject;
    const sub = this.nc.subscribe(subject, {
      callback: (err, m) => {
        if (err) return;
        const event = this.decode(def, m.data);
        if (event) handler(event.data, event);
      },
    });
    return () => sub.unsubscribe();
  }

  private dropCopy(def: EventDef<TSchema>, event: CloudEvent<unknown>, m: JsMsg): void {
    this.log.info({ type: def.type, id: event.id, streamSeq: m.seq, redelivered: m.redelivered }, 'dropped a copy of an event already handled (JetStream delivers at least once)');
  }

  private decode<S extends TSchema>(def: EventDef<S>, bytes: Uint8Array): CloudEvent<Static<S>> | undefined {
    try {
      const event = JSON.parse(Buffer.from(bytes).toString('utf8')) as CloudEvent<unknown>;
      if (event.specversion === '1.0' && checkOf(def.schema).Check(event.data)) return event as CloudEvent<Static<S>>;
    } catch {
      /* fall through */
    }
    this.log.warn({ type: def.type }, 'dropped an event that fails its schema');
    return undefined;
  }
}

/** The stream filter of an event: a trailing `.*` (the id) becomes `.>`. */
function filterOf(def: EventDef<TSchema>): string {
  return def.subject.endsWith('.*') ? def.subject.slice(0, -1) + '>' : def.subject;
}
