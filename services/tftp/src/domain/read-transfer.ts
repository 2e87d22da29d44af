import { TftpErrorCode, type TftpPacket } from '../protocol/tftp.js';

/** How a transfer ended. `aborted` is the quiet end of a client that refused our OACK (ERROR 8: the UEFI tsize probe). */
export type TransferOutcome =
  | { readonly kind: 'completed' }
  | { readonly kind: 'aborted'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * What the driver must do after feeding the state machine an input: send packets (one in
 * lock-step, up to a window with RFC 7440 windowsize), and/or end the transfer. `retransmit`
 * marks a resend after a timeout; `progress` says the client acknowledged something new (the
 * driver takes an RTT sample from it); `ignored` names why an input changed nothing.
 */
export interface TransferStep {
  readonly send?: readonly TftpPacket[];
  readonly retransmit?: boolean;
  readonly progress?: boolean;
  readonly end?: TransferOutcome;
  readonly ignored?: 'duplicate_ack' | 'unexpected_opcode';
}

export interface ReadTransferOptions {
  /** the bytes to send (the file, after netascii conversion when asked) */
  readonly data: Buffer;
  /** bytes per DATA block (8..65464) */
  readonly blksize: number;
  /** RFC 7440 windowsize: blocks sent before waiting for an ACK (default 1, lock-step) */
  readonly windowsize?: number;
  /** the OACK to send first, or undefined to start with DATA 1 */
  readonly oack: ReadonlyMap<string, string> | undefined;
  /** consecutive timeouts tolerated before the transfer fails */
  readonly maxRetries: number;
}

type State = 'idle' | 'oack-sent' | 'sending' | 'done';

/**
 * The per-transfer state machine of a read request (RFC 1350 §6; RFC 2347 OACK; RFC 7440
 * windowsize). Pure: no sockets, no timers — the driver feeds it packets from the client's TID
 * and timeouts, and performs the returned steps. Block numbers are counted without bound
 * internally and sent modulo 65536, so a transfer past block 65535 rolls over to 0 (as tftp-hpa,
 * iPXE and EDK2 expect).
 *
 * Windows (RFC 7440 §4): after the OACK is acknowledged the server sends `windowsize` blocks,
 * then waits. An ACK of block n — the last of the window, or an earlier one when the client saw
 * a gap — moves the window to start at n+1. An ACK of a block already acknowledged (duplicate)
 * changes nothing: never resend on it (RFC 1123 §4.2.3.1, Sorcerer's Apprentice); only the
 * timer resends, and it resends the whole unacknowledged window.
 */
export class ReadTransfer {
  private state: State = 'idle';
  /** highest block the client acknowledged (unbounded count; 0 = none, or the OACK) */
  private acked = 0;
  /** highest block sent so far (unbounded) */
  private sentMax = 0;
  private timeouts = 0;
  /** packets sent again: after a timeout, or blocks after a gap the client reported (RFC 7440) */
  retransmissions = 0;
  /** distinct payload bytes sent so far (retransmissions not counted) */
  bytesSent = 0;
  /** the client acknowledged the OACK or a DATA block */
  started = false;

  readonly blocks: number;
  readonly windowsize: number;

  constructor(private readonly opts: ReadTransferOptions) {
    // A file of n·blksize bytes ends with an empty DATA block (RFC 1350 §6: a block shorter than blksize ends the transfer).
    this.blocks = Math.floor(opts.data.length / opts.blksize) + 1;
    this.windowsize = Math.max(1, opts.windowsize ?? 1);
  }

  get size(): number {
    return this.opts.data.length;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** Highest block acknowledged so far (unbounded count). */
  get ackedBlocks(): number {
    return this.acked;
  }

  /** The first packet: the OACK when options were accepted, else the first window of DATA. */
  start(): TransferStep {
    if (this.state !== 'idle') throw new Error('ReadTransfer.start called twice');
    if (this.opts.oack) {
      this.state = 'oack-sent';
      return { send: [{ kind: 'OACK', options: this.opts.oack }] };
    }
    this.state = 'sending';
    return { send: this.window() };
  }

  /** A packet that came from the client's TID. */
  onPacket(packet: TftpPacket): TransferStep {
    if (this.state === 'done' || this.state === 'idle') return {};
    switch (packet.kind) {
      case 'ACK': {
        if (this.state === 'oack-sent') {
          if (packet.block !== 0) return { ignored: 'duplicate_ack' };
          this.state = 'sending';
          this.timeouts = 0;
          this.started = true;
          return { send: this.window(), progress: true };
        }
        // The wire carries 16 bits: find the one block in (acked, sentMax] with those low bits.
        const ahead = (packet.block - (this.acked & 0xffff) + 0x10000) & 0xffff;
        const n = this.acked + ahead;
        if (ahead === 0 || n > this.sentMax) {
          // RFC 1123 §4.2.3.1 (Sorcerer's Apprentice): never resend on a duplicate ACK; only a timeout resends.
          return { ignored: 'duplicate_ack' };
        }
        this.acked = n;
        this.timeouts = 0;
        this.started = true;
        if (n >= this.blocks) return this.finish({ kind: 'completed' });
        // RFC 7440 §4: resume from the block after the one acknowledged (a gap ends the window early).
        return { send: this.window(), progress: true };
      }
      case 'ERROR': {
        // RFC 2347: a client that does not accept the OACK answers ERROR 8. EDK2 does this on
        // purpose after learning tsize, then asks again: a normal end, not a failure.
        if (this.state === 'oack-sent' && packet.code === TftpErrorCode.optionsRefused) {
          return this.finish({ kind: 'aborted', reason: `client refused options: ${packet.message}` });
        }
        // RFC 1350 §7: an ERROR is neither acknowledged nor retransmitted; it ends the transfer.
        return this.finish({ kind: 'failed', reason: `client error ${packet.code}: ${packet.message}` });
      }
      default:
        return { ignored: 'unexpected_opcode' };
    }
  }

  /**
   * The retransmission timer fired: resend what is unacknowledged (the OACK, or the window after
   * the last ACK), or — when `giveUp` (the driver's time budget is spent) or after `maxRetries`
   * timeouts in a row — fail, telling the client with an ERROR so a live one stops waiting.
   */
  onTimeout(giveUp = false): TransferStep {
    if (this.state === 'done' || this.state === 'idle') return {};
    if (giveUp || this.timeouts >= this.opts.maxRetries) {
      const what = this.state === 'oack-sent' ? 'OACK' : `block ${this.acked + 1}`;
      const step = this.finish({ kind: 'failed', reason: `timeout after ${this.timeouts} retransmissions of ${what}` });
      return { ...step, send: [{ kind: 'ERROR', code: TftpErrorCode.notDefined, message: 'transfer timed out' }] };
    }
    this.timeouts++;
    if (this.state === 'oack-sent') {
      this.retransmissions++;
      return { send: [{ kind: 'OACK', options: this.opts.oack! }], retransmit: true };
    }
    return { send: this.window(), retransmit: true };
  }

  /** Ends the transfer from outside (shutdown, socket error). */
  abort(reason: string): TransferStep {
    if (this.state === 'done') return {};
    return this.finish({ kind: 'failed', reason });
  }

  /** DATA blocks acked+1 .. acked+windowsize (capped at the last block); blocks sent before count as retransmissions. */
  private window(): TftpPacket[] {
    const out: TftpPacket[] = [];
    const last = Math.min(this.acked + this.windowsize, this.blocks);
    for (let b = this.acked + 1; b <= last; b++) {
      if (b <= this.sentMax) this.retransmissions++;
      out.push(this.dataBlock(b));
    }
    if (last > this.sentMax) this.sentMax = last;
    return out;
  }

  private dataBlock(block: number): TftpPacket {
    const start = (block - 1) * this.opts.blksize;
    const data = this.opts.data.subarray(start, Math.min(start + this.opts.blksize, this.opts.data.length));
    if (start + data.length > this.bytesSent) this.bytesSent = start + data.length;
    return { kind: 'DATA', block: block & 0xffff, data };
  }

  private finish(outcome: TransferOutcome): TransferStep {
    this.state = 'done';
    return { end: outcome };
  }
}
