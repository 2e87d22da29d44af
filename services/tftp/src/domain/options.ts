import type { TftpOptions } from '../protocol/tftp.js';

/** RFC 1350 block size, used when no blksize is negotiated (bytes). */
export const DEFAULT_BLKSIZE = 512;
/** RFC 2348: valid blksize values are 8..65464 bytes. */
export const BLKSIZE_MIN = 8;
export const BLKSIZE_MAX = 65464;
/** RFC 2349: valid timeout values are 1..255 seconds. */
export const TIMEOUT_MIN_S = 1;
export const TIMEOUT_MAX_S = 255;
/** RFC 7440: valid windowsize values are 1..65535 blocks. */
export const WINDOWSIZE_MIN = 1;
export const WINDOWSIZE_MAX = 65535;

export interface NegotiationLimits {
  /** largest blksize the server grants (bytes, ≤ 65464); bigger requests get this value (RFC 2348 allows a smaller reply) */
  readonly maxBlksize: number;
  /** largest windowsize granted (blocks, ≥ 1); bigger requests get this value (RFC 7440 §4: the server may answer a smaller one); 1 declines windowsize */
  readonly maxWindowsize?: number;
}

export interface NegotiatedRead {
  /** bytes per DATA block */
  readonly blksize: number;
  /** retransmission timeout asked by the client (ms), when it asked one we accept */
  readonly timeoutMs: number | undefined;
  /** RFC 7440 windowsize (blocks sent before waiting for an ACK); 1 = lock-step (RFC 1350) */
  readonly windowsize: number;
  /** the OACK to send: only the options the client asked and the server accepts; undefined → answer with DATA 1 (RFC 2347) */
  readonly oack: ReadonlyMap<string, string> | undefined;
}

function integer(value: string): number | undefined {
  // decimal digits only: RFC 2347 values are NUL-terminated ASCII numbers; "0x10", "1e3", " 8" are not.
  return /^\d{1,10}$/.test(value) ? Number(value) : undefined;
}

/**
 * Option negotiation for a read request (RFC 2347, 2348, 2349, 7440). `size` is the number of bytes
 * that will be sent (the file, after any netascii conversion). Unknown or out-of-range options
 * are left out of the OACK, which is how RFC 2347 lets a server decline an option.
 */
export function negotiateRead(requested: TftpOptions, size: number, limits: NegotiationLimits): NegotiatedRead {
  const oack = new Map<string, string>();
  let blksize = DEFAULT_BLKSIZE;
  let timeoutMs: number | undefined;
  let windowsize = 1;
  const maxWindow = Math.max(1, Math.min(limits.maxWindowsize ?? 1, WINDOWSIZE_MAX));
  for (const [name, value] of requested) {
    const n = integer(value);
    if (n === undefined) continue;
    switch (name) {
      case 'blksize':
        // RFC 2348: below 8 is invalid; above what we grant, answer with a smaller size.
        if (n < BLKSIZE_MIN) break;
        blksize = Math.min(n, BLKSIZE_MAX, limits.maxBlksize);
        oack.set('blksize', String(blksize));
        break;
      case 'tsize':
        // RFC 2349: on a read request the client sends 0 and the server answers the file size.
        oack.set('tsize', String(size));
        break;
      case 'timeout':
        if (n < TIMEOUT_MIN_S || n > TIMEOUT_MAX_S) break;
        timeoutMs = n * 1000;
        oack.set('timeout', String(n));
        break;
      case 'windowsize':
        // RFC 7440 §4: never more than the client asked; a server limit answers a smaller value.
        if (n < WINDOWSIZE_MIN || n > WINDOWSIZE_MAX || maxWindow <= 1) break;
        windowsize = Math.min(n, maxWindow);
        oack.set('windowsize', String(windowsize));
        break;
      default:
        // everything else (multicast, rollover, …): declined by leaving it out (RFC 2347).
        break;
    }
  }
  return { blksize, timeoutMs, windowsize, oack: oack.size > 0 ? oack : undefined };
}
