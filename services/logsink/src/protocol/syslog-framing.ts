import { SwarmbootError } from '@swarmboot/contracts';
import { MAX_SYSLOG_BYTES } from './syslog.js';

/**
 * RFC 6587 (syslog over TCP) framing, as a pure, incremental decoder: bytes of one connection in,
 * whole syslog messages out (each then goes through `parseSyslog`). No socket.
 *
 * The framing is chosen once per connection from its first byte, as RFC 6587 §3.4 lets a
 * receiver do: a nonzero digit starts octet counting (`MSG-LEN SP SYSLOG-MSG`, §3.4.1: MSG-LEN is
 * `NONZERO-DIGIT *DIGIT`), `<` starts non-transparent framing (a SYSLOG-MSG ended by LF, §3.4.2;
 * NUL is also seen in the wild as the trailer and is taken as one). Anything else, or a stream
 * that breaks the framing later, is a framing error: the stream cannot be resynchronised, so the
 * caller closes the connection.
 */

/** How a connection frames its messages (RFC 6587 §3.4.1 / §3.4.2). */
export type SyslogFraming = 'octet-counting' | 'non-transparent';

/** Why a stream's framing broke: the `reason` of a SYSLOG_FRAMING error and a dropped_total label. */
export type SyslogFramingReason =
  | 'bad_framing' // first byte neither a nonzero digit nor '<', or MSG-LEN not followed by SP
  | 'oversized'; // MSG-LEN, or an unterminated non-transparent frame, above the limit

/** MSG-LEN of at most this many digits (MAX_SYSLOG_BYTES has 5): more is a framing error, not a number to parse. */
const MAX_LEN_DIGITS = 6;
const SP = 0x20;
const LF = 0x0a;
const NUL = 0x00;
const LT = 0x3c;

function framingError(reason: SyslogFramingReason, detail: string, bytes: number): SwarmbootError {
  return new SwarmbootError('SYSLOG_FRAMING', `RFC 6587 framing broken (${reason}): ${detail}`, { context: { reason, bytes } });
}

/** What one chunk of the stream gave: the frames it completed, and the framing error that ended the stream, if one did. */
export interface FrameResult {
  /** whole frames in stream order (Buffers that may share memory with the chunk; empty non-transparent frames skipped) */
  frames: Buffer[];
  /** SwarmbootError `SYSLOG_FRAMING`, context `{ reason: SyslogFramingReason, bytes }`: the frames before it still count */
  error?: SwarmbootError;
}

/**
 * Decoder of one TCP connection's byte stream: `push(chunk)` never throws; once it returned an
 * `error` the stream is broken and the decoder must not be used again. `pending` is the number
 * of bytes held for an incomplete frame (a connection closed with `pending > 0` ended mid-frame).
 */
export class SyslogFrameDecoder {
  private framing: SyslogFraming | undefined;
  private buf: Buffer = Buffer.alloc(0);
  /** octet counting: the MSG-LEN being awaited, once its SP was read */
  private want: number | undefined;

  constructor(private readonly maxFrameBytes = MAX_SYSLOG_BYTES) {}

  /** The framing detected from the first byte, once one arrived. */
  get mode(): SyslogFraming | undefined {
    return this.framing;
  }

  get pending(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): FrameResult {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Buffer[] = [];
    try {
      if (this.framing === undefined) {
        if (this.buf.length === 0) return { frames };
        const first = this.buf[0]!;
        if (first >= 0x31 && first <= 0x39) this.framing = 'octet-counting';
        else if (first === LT) this.framing = 'non-transparent';
        else throw framingError('bad_framing', `first byte 0x${first.toString(16)} is neither a nonzero digit nor <`, this.buf.length);
      }
      if (this.framing === 'octet-counting') this.octetCounted(frames);
      else this.lineFramed(frames);
      return { frames };
    } catch (err) {
      return { frames, error: err as SwarmbootError };
    }
  }

  /** Appends the complete frames to `frames`; throws a SYSLOG_FRAMING error. */
  private octetCounted(frames: Buffer[]): void {
    for (;;) {
      if (this.want === undefined) {
        const first = this.buf[0]!;
        if (first < 0x31 || first > 0x39) throw framingError('bad_framing', 'MSG-LEN does not start with a nonzero digit', this.buf.length);
        let i = 0;
        let len = 0;
        while (i < this.buf.length && i <= MAX_LEN_DIGITS && this.buf[i]! >= 0x30 && this.buf[i]! <= 0x39) len = len * 10 + (this.buf[i++]! - 0x30);
        if (i > MAX_LEN_DIGITS) throw framingError('oversized', `MSG-LEN of more than ${MAX_LEN_DIGITS} digits`, this.buf.length);
        if (i === this.buf.length) break; // MSG-LEN not complete yet
        if (this.buf[i] !== SP) throw framingError('bad_framing', 'MSG-LEN is not followed by SP', this.buf.length);
        if (len > this.maxFrameBytes) throw framingError('oversized', `MSG-LEN ${len} > ${this.maxFrameBytes}`, len);
        this.want = len;
        this.buf = this.buf.subarray(i + 1);
      }
      if (this.buf.length < this.want) break;
      frames.push(this.buf.subarray(0, this.want));
      this.buf = this.buf.subarray(this.want);
      this.want = undefined;
      if (this.buf.length === 0) break;
    }
  }

  /** Appends the complete frames to `frames`; throws a SYSLOG_FRAMING error. */
  private lineFramed(frames: Buffer[]): void {
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const b = this.buf[i]!;
      if (b !== LF && b !== NUL) continue;
      if (i > start) frames.push(this.buf.subarray(start, i));
      start = i + 1;
    }
    this.buf = this.buf.subarray(start);
    if (this.buf.length > this.maxFrameBytes) throw framingError('oversized', `more than ${this.maxFrameBytes} bytes without a trailer`, this.buf.length);
  }
}
