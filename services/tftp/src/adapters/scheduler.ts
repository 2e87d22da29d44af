import type { Socket } from 'node:dgram';

/** Bytes a datagram costs on an Ethernet link beyond its UDP payload: IPv4 (20) + UDP (8) + Ethernet framing (14 + 4 FCS). */
const WIRE_OVERHEAD = 46;

export interface Datagram {
  readonly socket: Socket;
  readonly bytes: Buffer;
  readonly address: string;
  readonly port: number;
  /** a client in trouble (timer fired, duplicate ACK, repeated RRQ) or the first answer of a new transfer: goes before every normal datagram */
  readonly urgent: boolean;
  /** runs once the datagram has been handed to the kernel (or failed to); `at` is performance.now() at that moment */
  readonly onSent: (err: Error | null, at: number) => void;
}

export interface SchedulerOptions {
  /** total send budget of the process (bytes/s on the wire, headers included); 0 = unpaced */
  readonly rateBytesPerSec: number;
  /** token bucket depth (bytes); default: 2 ms of the rate, at least two 64 KiB datagrams */
  readonly burstBytes?: number;
}

/**
 * The one transmit path of the TFTP server: every datagram of every transfer goes through
 * `enqueue`. With a rate set it is a token bucket shared by all transfers, so the server as a
 * whole never sends faster than the link (or its share of it) can carry — a burst of windows
 * from many clients would otherwise overflow a switch or NIC queue and turn into exactly the
 * loss TFTP handles worst. Two FIFO queues: urgent datagrams (clients showing loss, first
 * answers to new requests) are always sent before normal ones, so a client in trouble recovers
 * before its own timeout while the healthy ones wait a little.
 */
export class TransmitScheduler {
  private readonly urgent: Datagram[] = [];
  private readonly normal: Datagram[] = [];
  /** read positions into the queues (shift() on a long array is O(n)) */
  private urgentAt = 0;
  private normalAt = 0;
  private tokens: number;
  private refilledAt = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly burst: number;
  /** datagrams and wire bytes sent so far */
  sentPackets = 0;
  sentBytes = 0;

  constructor(private readonly opts: SchedulerOptions) {
    this.burst = opts.burstBytes ?? Math.max(2 * 65_536, Math.round(opts.rateBytesPerSec * 0.002));
    this.tokens = this.burst;
  }

  get paced(): boolean {
    return this.opts.rateBytesPerSec > 0;
  }

  /** Datagrams waiting for tokens. */
  get queued(): number {
    return this.urgent.length - this.urgentAt + (this.normal.length - this.normalAt);
  }

  enqueue(d: Datagram): void {
    if (!this.paced) return this.transmit(d);
    (d.urgent ? this.urgent : this.normal).push(d);
    this.drain();
  }

  /** Drops everything queued (shutdown); their onSent callbacks run with an error. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const err = new Error('scheduler closed');
    for (let d = this.next(); d; d = this.next()) d.onSent(err, performance.now());
  }

  private next(): Datagram | undefined {
    if (this.urgentAt < this.urgent.length) {
      const d = this.urgent[this.urgentAt++];
      if (this.urgentAt === this.urgent.length) this.urgent.length = this.urgentAt = 0;
      return d;
    }
    if (this.normalAt < this.normal.length) {
      const d = this.normal[this.normalAt++];
      if (this.normalAt > 1024 && this.normalAt * 2 > this.normal.length) {
        this.normal.splice(0, this.normalAt);
        this.normalAt = 0;
      } else if (this.normalAt === this.normal.length) this.normal.length = this.normalAt = 0;
      return d;
    }
    return undefined;
  }

  private drain(): void {
    if (this.timer) return; // a drain is already scheduled for when tokens suffice
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.opts.rateBytesPerSec) / 1000);
    this.refilledAt = now;
    // Tokens may go negative by one datagram: a 64 KiB block larger than the bucket still goes.
    while (this.tokens > 0) {
      const d = this.next();
      if (!d) return;
      this.tokens -= d.bytes.length + WIRE_OVERHEAD;
      this.transmit(d);
    }
    if (this.queued === 0) return;
    const waitMs = Math.max(1, Math.ceil((-this.tokens * 1000) / this.opts.rateBytesPerSec));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, waitMs);
  }

  private transmit(d: Datagram): void {
    this.sentPackets++;
    this.sentBytes += d.bytes.length + WIRE_OVERHEAD;
    try {
      d.socket.send(d.bytes, d.port, d.address, (err) => d.onSent(err, performance.now()));
    } catch (err) {
      // the socket was closed under us (transfer ended while its datagram waited)
      d.onSent(err as Error, performance.now());
    }
  }
}
