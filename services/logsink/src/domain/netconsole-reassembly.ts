/**
 * Reassembly of netconsole's fragmented extended messages, and the per-sender sequence-gap count
 * (Linux Documentation/networking/netconsole.rst, "Extended console": `ncfrag=<byte-offset>/
 * <total-bytes>`; the sequence number "is useful in environments where messages may be lost or
 * reordered in transit", netconsole commit "implement extended console support"). No I/O; the
 * clock is passed in.
 */

export interface ReassemblerOptions {
  /** an incomplete message is given up this long (ms) after its first fragment; default 2000 (the kernel sends a record's fragments back to back) */
  timeoutMs?: number;
  /** incomplete messages kept per sender; one more evicts the sender's oldest; default 8 */
  maxPerSender?: number;
  /** bytes held for incomplete messages in all (2 × total-bytes each); one more evicts the oldest anywhere; default 4 MiB */
  maxBytes?: number;
}

/** What one fragment did: completed its message (the whole body), is waiting for more, or was refused. */
export type FragmentOutcome =
  | { kind: 'complete'; body: Buffer }
  | { kind: 'pending' }
  /** its total differs from the first fragment's, or it covers no byte not already received (duplicate, overlap) */
  | { kind: 'refused' };

interface Partial {
  sender: string;
  total: number;
  body: Buffer;
  /** one byte per body byte: 1 once received (a bitmap would save memory the bound already caps) */
  have: Uint8Array;
  covered: number;
  started: number;
}

/**
 * Puts the fragments of extended netconsole messages back together, keyed by sender and sequence
 * number, in any order. Memory is bounded per sender (`maxPerSender`) and in all (`maxBytes`);
 * what an incoming message pushes out is reported as `evicted`, what times out by `expire`, so the
 * caller can count both as dropped.
 */
export class NetconsoleReassembler {
  private readonly timeoutMs: number;
  private readonly maxPerSender: number;
  private readonly maxBytes: number;
  /** insertion order = age order, which `expire` and the global eviction rely on */
  private readonly partials = new Map<string, Partial>();
  private readonly perSender = new Map<string, number>();
  private heldBytes = 0;

  constructor(opts: ReassemblerOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxPerSender = opts.maxPerSender ?? 8;
    this.maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  }

  /** Incomplete messages held. */
  get size(): number {
    return this.partials.size;
  }

  /** Bytes held for them. */
  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * Adds the body of one fragment (`offset`/`total` from its ncfrag, already checked against the
   * body's length by the codec) of record `seq` from `sender` at time `now` (ms). `evicted`:
   * incomplete messages pushed out to make room.
   */
  add(sender: string, seq: number, fragment: { offset: number; total: number }, body: Buffer, now: number): { outcome: FragmentOutcome; evicted: number } {
    const key = `${sender} ${seq}`;
    let evicted = 0;
    let p = this.partials.get(key);
    if (p && p.total !== fragment.total) return { outcome: { kind: 'refused' }, evicted };
    if (!p) {
      if ((this.perSender.get(sender) ?? 0) >= this.maxPerSender) evicted += this.evictOldest((q) => q.sender === sender);
      while (this.heldBytes + 2 * fragment.total > this.maxBytes && this.partials.size > 0) evicted += this.evictOldest(() => true);
      p = { sender, total: fragment.total, body: Buffer.alloc(fragment.total), have: new Uint8Array(fragment.total), covered: 0, started: now };
      this.partials.set(key, p);
      this.perSender.set(sender, (this.perSender.get(sender) ?? 0) + 1);
      this.heldBytes += 2 * fragment.total;
    }
    let fresh = 0;
    for (let i = 0; i < body.length; i++) {
      if (p.have[fragment.offset + i] === 1) continue;
      p.have[fragment.offset + i] = 1;
      p.body[fragment.offset + i] = body[i]!;
      fresh++;
    }
    if (fresh === 0) return { outcome: { kind: 'refused' }, evicted };
    p.covered += fresh;
    if (p.covered < p.total) return { outcome: { kind: 'pending' }, evicted };
    this.remove(key, p);
    return { outcome: { kind: 'complete', body: p.body }, evicted };
  }

  /** Gives up the messages whose first fragment is `timeoutMs` old at `now`; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const [key, p] of this.partials) {
      if (now - p.started < this.timeoutMs) break;
      this.remove(key, p);
      n++;
    }
    return n;
  }

  private evictOldest(match: (p: Partial) => boolean): number {
    for (const [key, p] of this.partials) {
      if (!match(p)) continue;
      this.remove(key, p);
      return 1;
    }
    return 0;
  }

  private remove(key: string, p: Partial): void {
    this.partials.delete(key);
    this.heldBytes -= 2 * p.total;
    const left = (this.perSender.get(p.sender) ?? 1) - 1;
    if (left === 0) this.perSender.delete(p.sender);
    else this.perSender.set(p.sender, left);
  }
}

export interface SequenceGapsOptions {
  /** senders remembered; the least recently heard is forgotten past this; default 10000 */
  maxSenders?: number;
  /** a sequence number this far or more below the last one is a reboot (printk counts from 0 again), nearer a late datagram; default 1024 */
  rebootDistance?: number;
}

/**
 * Counts records missing from each sender's sequence (printk's `seq`). Note that the kernel also
 * skips records the console loglevel suppresses, so gaps mean loss only with `ignore_loglevel`
 * (or a loglevel that lets everything through) on the node's command line.
 */
export class SequenceGaps {
  private readonly last = new Map<string, number>();
  private readonly maxSenders: number;
  private readonly rebootDistance: number;

  constructor(opts: SequenceGapsOptions = {}) {
    this.maxSenders = opts.maxSenders ?? 10_000;
    this.rebootDistance = opts.rebootDistance ?? 1024;
  }

  /**
   * Notes record `seq` from `sender`; returns how many sequence numbers were skipped since the
   * highest one seen (0 for the first record, a repeat — another fragment of the same record —,
   * a late one, or a reboot).
   */
  observe(sender: string, seq: number): number {
    const last = this.last.get(sender);
    let gap = 0;
    let next = seq;
    if (last !== undefined) {
      if (seq > last + 1) gap = seq - last - 1;
      else if (seq <= last && last - seq < this.rebootDistance) next = last; // repeat or late: keep the high mark
      this.last.delete(sender); // re-inserted below: Map order = least recently heard first
    } else if (this.last.size >= this.maxSenders) {
      const oldest = this.last.keys().next();
      if (oldest.done !== true) this.last.delete(oldest.value);
    }
    this.last.set(sender, next);
    return gap;
  }
}
