import { TftpErrorCode, type TftpPacket } from '../protocol/tftp.js';

/** How a transfer ended. `aborted` is the quiet end of a client that refused our OACK (ERROR 8: the UEFI tsize probe). */
export type TransferOutcome =
  | { readonly kind: 'completed' }
  | { readonly kind: 'aborted'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * What the driver must do after feeding the state machine an input: send a packet (at most one
 * in lock-step; a later windowsize ≥ 2 turns this into a list), and/or end the transfer.
 * `retransmit` marks a resend of the previous packet; `ignored` names why an input changed nothing.
 */
export interface TransferStep {
  readonly send?: TftpPacket;
  readonly retransmit?: boolean;
  readonly end?: TransferOutcome;
  readonly ignored?: 'duplicate_ack' | 'unexpected_opcode';
}

export interface ReadTransferOptions {
  /** the bytes to send (the file, after netascii conversion when asked) */
  readonly data: Buffer;
  /** bytes per DATA block (8..65464) */
  readonly blksize: number;
  /** the OACK to send first, or undefined to start with DATA 1 */
  readonly oack: ReadonlyMap<string, string> | undefined;
  /** consecutive timeouts tolerated before the transfer fails */
  readonly maxRetries: number;
}

type State = 'idle' | 'oack-sent' | 'sending' | 'done';

/**
 * The per-transfer state machine of a read request (RFC 1350 §6, lock-step; RFC 2347 OACK).
 * Pure: no sockets, no timers — the driver feeds it packets from the client's TID and timeouts,
 * and performs the returned steps. Block numbers are counted without bound internally and sent
 * modulo 65536, so a transfer past block 65535 rolls over to 0 (as tftp-hpa and iPXE expect).
 */
export class ReadTransfer {
  private state: State = 'idle';
  /** the last DATA block sent (unbounded count; 0 before DATA 1) */
  private block = 0;
  private last: TftpPacket | undefined;
  private timeouts = 0;
  /** packets resent after a timeout */
  retransmissions = 0;
  /** distinct payload bytes sent so far (retransmissions not counted) */
  bytesSent = 0;
  /** the client acknowledged the OACK or a DATA block */
  started = false;

  readonly blocks: number;

  constructor(private readonly opts: ReadTransferOptions) {
    // A file of n·blksize bytes ends with an empty DATA block (RFC 1350 §6: a block shorter than blksize ends the transfer).
    this.blocks = Math.floor(opts.data.length / opts.blksize) + 1;
  }

  get size(): number {
    return this.opts.data.length;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** The first packet: the OACK when options were accepted, else DATA 1. */
  start(): TransferStep {
    if (this.state !== 'idle') throw new Error('ReadTransfer.start called twice');
    if (this.opts.oack) {
      this.state = 'oack-sent';
      return this.emit({ kind: 'OACK', options: this.opts.oack });
    }
    this.state = 'sending';
    return this.emit(this.nextData());
  }

  /** A packet that came from the client's TID. */
  onPacket(packet: TftpPacket): TransferStep {
    if (this.state === 'done' || this.state === 'idle') return {};
    switch (packet.kind) {
      case 'ACK': {
        if (packet.block !== (this.block & 0xffff)) {
          // RFC 1123 §4.2.3.1 (Sorcerer's Apprentice): never resend on a duplicate ACK; only a timeout resends.
          return { ignored: 'duplicate_ack' };
        }
        this.timeouts = 0;
        this.started = true;
        if (this.state === 'oack-sent') {
          this.state = 'sending';
          return this.emit(this.nextData());
        }
        if (this.block >= this.blocks) return this.finish({ kind: 'completed' });
        return this.emit(this.nextData());
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

  /** The retransmission timer fired: resend the last packet, or fail after `maxRetries` timeouts in a row. */
  onTimeout(): TransferStep {
    if (this.state === 'done' || this.state === 'idle' || !this.last) return {};
    if (this.timeouts >= this.opts.maxRetries) {
      const step = this.finish({ kind: 'failed', reason: `timeout after ${this.timeouts} retransmissions of ${this.last.kind === 'DATA' ? `block ${this.block}` : 'OACK'}` });
      // Tell the client, so a live one stops waiting; nothing waits for an answer.
      return { ...step, send: { kind: 'ERROR', code: TftpErrorCode.notDefined, message: 'transfer timed out' } };
    }
    this.timeouts++;
    this.retransmissions++;
    return { send: this.last, retransmit: true };
  }

  /** Ends the transfer from outside (shutdown, socket error). */
  abort(reason: string): TransferStep {
    if (this.state === 'done') return {};
    return this.finish({ kind: 'failed', reason });
  }

  private nextData(): TftpPacket {
    this.block++;
    const start = (this.block - 1) * this.opts.blksize;
    const data = this.opts.data.subarray(start, Math.min(start + this.opts.blksize, this.opts.data.length));
    this.bytesSent = start + data.length;
    return { kind: 'DATA', block: this.block & 0xffff, data };
  }

  private emit(packet: TftpPacket): TransferStep {
    this.last = packet;
    return { send: packet };
  }

  private finish(outcome: TransferOutcome): TransferStep {
    this.state = 'done';
    return { end: outcome };
  }
}
