import type { DropReason } from './outcome.js';

/** Why the receive queue dropped a request. */
export type QueueDropReason = Extract<DropReason, 'queue_full' | 'duplicate' | 'stale'>;

/** Bounds, clock and callbacks of a {@link ReceiveQueue}. */
export interface ReceiveQueueOptions<J> {
  /** jobs waiting; beyond it `push` drops (`queue_full`) */
  max: number;
  /** a job that waited longer (ms) is dropped when its turn comes (`stale`) */
  maxAgeMs: number;
  /** bound on jobs in work, and separately on tracked operations still running (see {@link ReceiveQueue.track}) */
  concurrency: number;
  /** clock in ms; default Date.now */
  now?: () => number;
  /** handles one job; the queue waits for it before freeing its key and its slot */
  work: (job: J) => Promise<void>;
  /** a job dropped: `detail` says why, for a log line */
  onDrop: (reason: QueueDropReason, job: J, detail: string) => void;
  /** `work` rejected (a bug: work should settle its own failures) */
  onError: (err: unknown, job: J) => void;
  /** the number of waiting jobs changed; for a gauge */
  onDepth?: (depth: number) => void;
}

interface Entry<J> {
  job: J;
  key: string;
  at: number;
}

/**
 * The receive queue of the DHCP server. The kernel's socket buffer is the first queue; this one
 * decides what is worth an answer: a retransmission of a request already waiting or in work is
 * dropped (its answer is coming), a request older than `maxAgeMs` is dropped (its client has given
 * up on that xid or retransmitted), and beyond `max` new requests are dropped.
 *
 * Two gates bound the work started: jobs in work (`concurrency`), and operations handed to
 * {@link track} still running (`concurrency` too) — those are counted until they settle, not until
 * their job gave up on them, so an overloaded server does not pile timed-out Redis scripts onto
 * Redis until every request times out.
 */
export class ReceiveQueue<J> {
  private readonly jobs: (Entry<J> | undefined)[] = [];
  private head = 0;
  /** keys of jobs waiting or in work */
  private readonly pending = new Set<string>();
  private inflight = 0;
  private tracked = 0;
  private readonly now: () => number;

  constructor(private readonly opts: ReceiveQueueOptions<J>) {
    this.now = opts.now ?? Date.now;
  }

  /** Jobs waiting (not yet in work). */
  get depth(): number {
    return this.jobs.length - this.head;
  }

  /**
   * Queues `job` under `key` (e.g. chaddr/xid/message type) and starts work when the gates allow.
   * Drops it (`onDrop`, returns false) when a job of the same key waits or is in work, or when
   * `max` jobs wait.
   */
  push(key: string, job: J): boolean {
    if (this.pending.has(key)) {
      this.opts.onDrop('duplicate', job, 'a retransmission of a request in work');
      return false;
    }
    if (this.depth >= this.opts.max) {
      this.opts.onDrop('queue_full', job, `${this.opts.max} requests waiting`);
      return false;
    }
    this.pending.add(key);
    this.jobs.push({ job, key, at: this.now() });
    this.pump();
    return true;
  }

  /**
   * Counts `op` against the second gate until it settles; resolves or rejects as `op` does.
   * For the lease store operations of a job, which may outlive the job's own timeout.
   */
  track<T>(op: Promise<T>): Promise<T> {
    this.tracked++;
    const settled = op.finally(() => {
      this.tracked--;
      this.pump();
    });
    settled.catch(() => undefined);
    return settled;
  }

  private pump(): void {
    const { concurrency, maxAgeMs } = this.opts;
    while (this.inflight < concurrency && this.tracked < concurrency && this.head < this.jobs.length) {
      const entry = this.jobs[this.head]!;
      this.jobs[this.head++] = undefined;
      // compact now and then rather than shift() per job (O(n) each)
      if (this.head > 1024 && this.head * 2 > this.jobs.length) {
        this.jobs.splice(0, this.head);
        this.head = 0;
      }
      if (this.now() - entry.at > maxAgeMs) {
        this.pending.delete(entry.key);
        this.opts.onDrop('stale', entry.job, `waited more than ${maxAgeMs} ms`);
        continue;
      }
      this.inflight++;
      this.run(entry.job)
        .catch((err: unknown) => this.opts.onError(err, entry.job))
        .finally(() => {
          this.inflight--;
          this.pending.delete(entry.key);
          this.opts.onDepth?.(this.depth);
          this.pump();
        });
    }
    this.opts.onDepth?.(this.depth);
  }

  /** `work`, with a synchronous throw turned into a rejection so the job's slot and key are freed all the same. */
  private run(job: J): Promise<void> {
    try {
      return this.opts.work(job);
    } catch (err) {
      return Promise.reject(err);
    }
  }
}
