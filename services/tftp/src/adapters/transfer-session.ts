import type { RemoteInfo, Socket } from 'node:dgram';
import type { Logger, UdpPeer } from '@swarmboot/kit';
import { decodeTftp, encodeTftp, TftpErrorCode, type TftpPacket } from '../protocol/tftp.js';
import type { ReadTransfer, TransferOutcome, TransferStep } from '../domain/read-transfer.js';
import type { TftpMetrics } from './metrics.js';
import type { TransmitScheduler } from './scheduler.js';

/**
 * Encodes one packet and hands it to the scheduler; `done` runs once the datagram has left (or
 * failed to). A send error is logged, not thrown: for the protocol it is a lost packet, which the
 * timer covers.
 */
export function sendPacket(scheduler: TransmitScheduler, socket: Socket, packet: TftpPacket, to: UdpPeer, log: Logger, urgent: boolean, done?: (at: number) => void): void {
  scheduler.enqueue({
    socket,
    bytes: encodeTftp(packet),
    address: to.address,
    port: to.port,
    urgent,
    onSent: (err, at) => {
      if (err) log.debug({ err, kind: packet.kind, to: `${to.address}:${to.port}` }, 'tftp send failed');
      done?.(at);
    },
  });
}

/** Retransmission-timer policy of a transfer (ms). */
export interface RtoPolicy {
  /** RTO before the first RTT sample */
  readonly initialMs: number;
  /** lower clamp: below this, event-loop jitter alone would cause spurious resends */
  readonly minMs: number;
  /** upper clamp: kept well under the client's own timeout so the server always resends first */
  readonly maxMs: number;
  /** no progress for this long fails the transfer */
  readonly giveUpMs: number;
}

export interface TransferSessionOptions {
  readonly id: string;
  readonly client: UdpPeer;
  /** a socket bound for this transfer only; the session closes it */
  readonly socket: Socket;
  readonly transfer: ReadTransfer;
  readonly rto: RtoPolicy;
  readonly scheduler: TransmitScheduler;
  readonly log: Logger;
  readonly metrics: TftpMetrics;
  readonly onEnd: (outcome: TransferOutcome, session: TransferSession) => void;
}

/**
 * Drives one ReadTransfer over its own socket: feeds it the client's packets and the
 * retransmission timer, and performs its steps through the process-wide TransmitScheduler.
 *
 * Timers (RFC 6298 applied to TFTP): SRTT/RTTVAR per transfer from the time the last datagram
 * of a window actually left to the ACK that answered it (Karn: never from a resent window);
 * RTO = SRTT + max(1 ms, 4·RTTVAR), clamped to [minMs, maxMs], doubled on each consecutive
 * timeout. The timer starts when the last datagram of a batch leaves the scheduler, so time
 * spent waiting for the rate budget never looks like loss. A transfer that showed loss (timer
 * fired, duplicate ACK, repeated RRQ) is "in trouble": its datagrams go urgent until it makes
 * progress again. Packets from another TID get ERROR 5 and do not disturb the transfer.
 */
export class TransferSession {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private socketClosed = false;
  /** datagrams handed to the scheduler and not yet sent: the socket closes when this reaches 0 */
  private pending = 0;
  /** bumped per batch: only the last datagram of the newest batch arms the timer */
  private batch = 0;
  private lastDeparture: number | undefined;
  private lastBatchResent = false;
  private srtt: number | undefined;
  private rttvar = 0;
  private backoff = 0;
  private lastProgress = performance.now();
  private countedRetransmissions = 0;
  /** showed loss; cleared on progress */
  trouble = false;
  readonly startedAt = performance.now();

  constructor(private readonly opts: TransferSessionOptions) {
    opts.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    opts.socket.on('error', (err) => {
      opts.log.warn({ err }, 'transfer socket error');
      this.perform(opts.transfer.abort(`socket error: ${err.message}`));
    });
  }

  get id(): string {
    return this.opts.id;
  }

  get client(): UdpPeer {
    return this.opts.client;
  }

  get transfer(): ReadTransfer {
    return this.opts.transfer;
  }

  /** Milliseconds since the session was created. */
  get elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  /** Current retransmission timeout (ms), before backoff. */
  get rtoMs(): number {
    const { initialMs, minMs, maxMs } = this.opts.rto;
    const base = this.srtt === undefined ? initialMs : this.srtt + Math.max(1, 4 * this.rttvar);
    return Math.min(maxMs, Math.max(minMs, base));
  }

  start(): void {
    this.perform(this.opts.transfer.start());
  }

  /** The client sent its RRQ again: our answer is late or lost. */
  markTrouble(why: string): void {
    if (this.closed) return;
    if (!this.trouble) this.opts.log.debug({ why }, 'client in trouble: its datagrams go first');
    this.trouble = true;
  }

  /** Ends the transfer from outside (shutdown): reported as failed with `reason`. */
  stop(reason: string): void {
    this.perform(this.opts.transfer.abort(reason));
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    let packet: TftpPacket;
    try {
      packet = decodeTftp(msg);
    } catch (err) {
      this.opts.metrics.dropped.inc({ reason: 'malformed' });
      this.opts.log.warn({ err, from: `${rinfo.address}:${rinfo.port}`, length: msg.length }, 'dropped a malformed tftp packet');
      return;
    }
    const { client } = this.opts;
    if (rinfo.address !== client.address || rinfo.port !== client.port) {
      this.opts.metrics.dropped.inc({ reason: 'unknown_tid' });
      this.opts.log.warn({ from: `${rinfo.address}:${rinfo.port}`, kind: packet.kind }, 'packet from an unknown transfer ID');
      // never answer an ERROR with an ERROR: two confused peers would ping-pong forever
      if (packet.kind !== 'ERROR') this.sendOne({ kind: 'ERROR', code: TftpErrorCode.unknownTransferId, message: 'Unknown transfer ID' }, rinfo, false);
      return;
    }
    const now = performance.now();
    const step = this.opts.transfer.onPacket(packet);
    if (step.progress || step.end?.kind === 'completed') this.onProgress(now);
    if (step.ignored === 'duplicate_ack') this.markTrouble('duplicate ACK');
    this.perform(step);
  }

  private onProgress(now: number): void {
    // Karn's algorithm: an ACK after a resend is ambiguous, no sample.
    if (this.lastDeparture !== undefined && !this.lastBatchResent && now >= this.lastDeparture) {
      const r = now - this.lastDeparture;
      if (this.srtt === undefined) {
        this.srtt = r;
        this.rttvar = r / 2;
      } else {
        this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
        this.srtt = 0.875 * this.srtt + 0.125 * r;
      }
    }
    this.backoff = 0;
    this.lastProgress = now;
    this.trouble = false;
  }

  private perform(step: TransferStep): void {
    if (this.closed) return;
    if (step.ignored) {
      this.opts.metrics.dropped.inc({ reason: step.ignored });
      this.opts.log.debug({ reason: step.ignored }, 'packet ignored');
    }
    if (step.send && step.send.length > 0) this.sendBatch(step.send, step.retransmit === true, !step.end);
    const resent = this.opts.transfer.retransmissions;
    if (resent > this.countedRetransmissions) {
      this.opts.metrics.retransmissions.inc(resent - this.countedRetransmissions);
      this.countedRetransmissions = resent;
    }
    if (step.end) this.finish(step.end);
  }

  /** The single send path of a transfer: a batch (window) through the scheduler; the last datagram to leave arms the timer. */
  private sendBatch(packets: readonly TftpPacket[], retransmit: boolean, arm: boolean): void {
    const batch = ++this.batch;
    this.disarm();
    this.lastBatchResent = retransmit;
    // a new transfer's first answer and a client in trouble go first
    const urgent = this.trouble || !this.opts.transfer.started;
    const m = this.opts.metrics;
    packets.forEach((packet, i) => {
      if (packet.kind === 'DATA') m.sentBytes.inc(packet.data.length);
      const last = i === packets.length - 1;
      this.sendOne(packet, this.opts.client, urgent, last && arm ? (at) => {
        if (batch !== this.batch || this.closed) return;
        this.lastDeparture = at;
        this.arm();
      } : undefined);
    });
    if (retransmit) {
      this.opts.log.debug({ packets: packets.length, rtoMs: this.rtoMs }, 'retransmit after timeout');
    }
  }

  private sendOne(packet: TftpPacket, to: UdpPeer, urgent: boolean, onSent?: (at: number) => void): void {
    this.pending++;
    sendPacket(this.opts.scheduler, this.opts.socket, packet, to, this.opts.log, urgent, (at) => {
      this.pending--;
      onSent?.(at);
      this.closeSocketWhenIdle();
    });
  }

  private closeSocketWhenIdle(): void {
    if (!this.closed || this.pending > 0 || this.socketClosed) return;
    this.socketClosed = true;
    try {
      this.opts.socket.close();
    } catch {
      /* already closed */
    }
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.disarm();
    const delay = Math.min(this.opts.rto.maxMs, this.rtoMs * 2 ** this.backoff);
    const batch = this.batch;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // After an event-loop stall, timers run before the poll phase reads the ACKs that came in
      // meanwhile: decide in the check phase (setImmediate), after those ACKs were handled.
      setImmediate(() => this.onTimer(batch));
    }, delay);
  }

  /** The retransmission timer of `batch` fired and no ACK read since moved the transfer on. */
  private onTimer(batch: number): void {
    if (this.closed || batch !== this.batch || this.timer !== undefined) return;
    const giveUp = performance.now() - this.lastProgress >= this.opts.rto.giveUpMs;
    this.backoff = Math.min(this.backoff + 1, 16);
    this.markTrouble('retransmission timer');
    this.perform(this.opts.transfer.onTimeout(giveUp));
  }

  private finish(outcome: TransferOutcome): void {
    this.closed = true;
    this.disarm();
    // a final ERROR still in the scheduler's queue leaves before the socket closes
    this.closeSocketWhenIdle();
    this.opts.onEnd(outcome, this);
  }
}
