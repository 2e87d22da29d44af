import type { RemoteInfo } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { SwarmbootError } from '@swarmboot/contracts';
import { bindUdp } from '@swarmboot/kit';
import { BLKSIZE_MAX, BLKSIZE_MIN, DEFAULT_BLKSIZE } from '../domain/options.js';
import { decodeTftp, encodeTftp, TftpErrorCode, type TftpPacket } from '../protocol/tftp.js';

export interface TftpGetOptions {
  /** server address (IP literal or name) */
  readonly host: string;
  /** server port (the listener; the transfer itself comes from the server's new TID) */
  readonly port: number;
  /** file name as sent in the RRQ */
  readonly file: string;
  /** ask this block size (RFC 2348, 8..65464 bytes); not asked when absent (512) */
  readonly blksize?: number;
  /** ask the transfer size (RFC 2349: the RRQ carries tsize 0, the OACK the file size) */
  readonly tsize?: boolean;
  /** ask this windowsize (RFC 7440, 1..65535 blocks per ACK); not asked when absent (lock-step) */
  readonly windowsize?: number;
  /** local address to send from — a node's own IP (e.g. 127.77.1.5), so the server sees the node */
  readonly localAddress?: string;
  /** retransmission timeout (ms), default 1000 */
  readonly timeoutMs?: number;
  /** consecutive timeouts tolerated before TFTP_TIMEOUT, default 5 */
  readonly retries?: number;
  /** when given, each block's payload goes here in order instead of being kept (result.data is then empty): for large files */
  readonly onData?: (chunk: Buffer) => void;
}

export interface TftpGetResult {
  readonly data: Buffer;
  /** the size announced in the OACK, when tsize was asked and granted (bytes) */
  readonly tsize?: number;
  /** the block size used (bytes) */
  readonly blksize: number;
  /** the windowsize used (blocks per ACK; 1 when not negotiated) */
  readonly windowsize: number;
  /** packets this client resent after a timeout (the RRQ or its last ACK) */
  readonly retransmissions: number;
}

/**
 * Downloads one file over TFTP (RFC 1350, octet mode; lock-step or RFC 7440 windows) with the RFC 2347 options asked
 * in `opts`. Handles an OACK (answered with ACK 0) or a plain DATA 1, acknowledges each block,
 * follows block numbers past 65535 (rollover to 0), resends its last packet on timeout, answers
 * packets from a foreign TID with ERROR 5, and after the final ACK lingers one timeout to re-ACK a
 * resent last block (RFC 1350 §6 "dallying"). Throws SwarmbootError `TFTP_TIMEOUT` (context: file,
 * block), `TFTP_ERROR` (context: errorCode, errorMessage — the server's ERROR), or `TFTP_PROTOCOL`
 * (a reply that breaks the negotiated rules; the server gets ERROR 8 or 4), `TFTP_SOCKET_ERROR`.
 */
export async function tftpGet(opts: TftpGetOptions): Promise<TftpGetResult> {
  const timeoutMs = opts.timeoutMs ?? 1000;
  const retries = opts.retries ?? 5;
  const asked = new Map<string, string>();
  if (opts.blksize !== undefined) {
    if (!Number.isInteger(opts.blksize) || opts.blksize < BLKSIZE_MIN || opts.blksize > BLKSIZE_MAX) {
      throw new SwarmbootError('TFTP_INVALID_ARGUMENT', `blksize ${opts.blksize} is outside ${BLKSIZE_MIN}..${BLKSIZE_MAX} (RFC 2348)`);
    }
    asked.set('blksize', String(opts.blksize));
  }
  if (opts.tsize) asked.set('tsize', '0');
  if (opts.windowsize !== undefined) {
    if (!Number.isInteger(opts.windowsize) || opts.windowsize < 1 || opts.windowsize > 65535) {
      throw new SwarmbootError('TFTP_INVALID_ARGUMENT', `windowsize ${opts.windowsize} is outside 1..65535 (RFC 7440)`);
    }
    asked.set('windowsize', String(opts.windowsize));
  }

  const socket = await bindUdp({ host: opts.localAddress, port: 0, family: isIPv6(opts.localAddress ?? opts.host) ? 'udp6' : 'udp4' });

  return new Promise<TftpGetResult>((resolve, reject) => {
    const listener = { address: opts.host, port: opts.port };
    let server: { address: string; port: number } | undefined;
    let blksize = DEFAULT_BLKSIZE;
    let windowsize = 1;
    /** in-order blocks received since our last ACK */
    let inWindow = 0;
    /** a gap in this window was already reported (one ACK per gap, not one per stray block) */
    let gapReported = false;
    let tsize: number | undefined;
    /** the next DATA block expected (unbounded count; on the wire modulo 65536) */
    let expected = 1;
    const chunks: Buffer[] = [];
    let last: { packet: TftpPacket; to: { address: string; port: number } } = { packet: { kind: 'RRQ', filename: opts.file, mode: 'octet', options: asked }, to: listener };
    let timeouts = 0;
    let retransmissions = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;

    const send = (packet: TftpPacket, to: { address: string; port: number }): void => {
      socket.send(encodeTftp(packet), to.port, to.address, () => {
        /* a failed send is a lost packet: the timer resends */
      });
    };
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(onTimeout, timeoutMs);
    };
    const transmit = (packet: TftpPacket, to: { address: string; port: number }): void => {
      last = { packet, to };
      send(packet, to);
      arm();
    };
    const close = (): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      try {
        socket.close();
      } catch {
        /* closed */
      }
    };
    const fail = (err: SwarmbootError): void => {
      if (settled) return;
      settled = true;
      close();
      reject(err);
    };
    const protocolError = (code: number, message: string): void => {
      if (server) send({ kind: 'ERROR', code, message }, server);
      fail(new SwarmbootError('TFTP_PROTOCOL', `${opts.file}: ${message}`, { context: { file: opts.file } }));
    };
    const finish = (): void => {
      settled = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      resolve({ data: Buffer.concat(chunks), blksize, windowsize, retransmissions, ...(tsize === undefined ? {} : { tsize }) });
      // Dally: if our final ACK is lost the server resends the last block; answer it for one timeout.
      socket.unref();
      setTimeout(close, timeoutMs).unref();
    };
    function onTimeout(): void {
      timer = undefined;
      if (settled) return;
      if (timeouts >= retries) {
        fail(new SwarmbootError('TFTP_TIMEOUT', `${opts.file}: no answer from ${opts.host}:${opts.port} after ${retries} retransmissions`, { context: { file: opts.file, block: expected, timeoutMs, retries } }));
        return;
      }
      timeouts++;
      retransmissions++;
      if (windowsize > 1 && server && expected > 1) {
        // mid-window: acknowledge what arrived in order, the server resumes after it
        inWindow = 0;
        last = { packet: { kind: 'ACK', block: (expected - 1) & 0xffff }, to: server };
      }
      send(last.packet, last.to);
      arm();
    }

    const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
      let packet: TftpPacket;
      try {
        packet = decodeTftp(msg);
      } catch {
        return; // malformed: dropped, never answered
      }
      const from = { address: rinfo.address, port: rinfo.port };
      if (server && (from.address !== server.address || from.port !== server.port)) {
        // RFC 1350 §4: a foreign TID gets ERROR 5 and does not disturb the transfer
        if (packet.kind !== 'ERROR') send({ kind: 'ERROR', code: TftpErrorCode.unknownTransferId, message: 'Unknown transfer ID' }, from);
        return;
      }
      if (settled) {
        // dallying: re-ACK a resent final block
        if (packet.kind === 'DATA' && packet.block === ((expected - 1) & 0xffff)) send({ kind: 'ACK', block: packet.block }, from);
        return;
      }
      // The first answer fixes the server's TID (its new port; the address is taken as it comes,
      // since a server on 0.0.0.0 may answer from another of its addresses).
      server ??= from;
      switch (packet.kind) {
        case 'ERROR':
          fail(new SwarmbootError('TFTP_ERROR', `${opts.file}: server error ${packet.code}: ${packet.message}`, { context: { file: opts.file, errorCode: packet.code, errorMessage: packet.message } }));
          return;
        case 'OACK': {
          if (expected !== 1) return; // a late duplicate OACK
          for (const [name, value] of packet.options) {
            if (!asked.has(name)) return protocolError(TftpErrorCode.optionsRefused, `OACK carries option ${name} that was not asked`);
            const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
            if (name === 'blksize') {
              if (!(n >= BLKSIZE_MIN && n <= Number(asked.get('blksize')))) return protocolError(TftpErrorCode.optionsRefused, `OACK blksize ${value} is not within ${BLKSIZE_MIN}..${asked.get('blksize')}`);
              blksize = n;
            } else if (name === 'windowsize') {
              if (!(n >= 1 && n <= Number(asked.get('windowsize')))) return protocolError(TftpErrorCode.optionsRefused, `OACK windowsize ${value} is not within 1..${asked.get('windowsize')}`);
              windowsize = n;
            } else if (name === 'tsize') {
              if (Number.isNaN(n)) return protocolError(TftpErrorCode.optionsRefused, `OACK tsize ${value} is not a number`);
              tsize = n;
            }
          }
          timeouts = 0;
          transmit({ kind: 'ACK', block: 0 }, from);
          return;
        }
        case 'DATA': {
          if (packet.block === (expected & 0xffff)) {
            if (packet.data.length > blksize) return protocolError(TftpErrorCode.illegalOperation, `DATA block ${expected} has ${packet.data.length} bytes, more than blksize ${blksize}`);
            if (opts.onData) opts.onData(packet.data);
            else chunks.push(packet.data);
            timeouts = 0;
            expected++;
            inWindow++;
            gapReported = false;
            if (packet.data.length < blksize) {
              send({ kind: 'ACK', block: packet.block }, from);
              finish();
            } else if (inWindow >= windowsize) {
              // RFC 7440 §4: acknowledge the last block of each window
              inWindow = 0;
              transmit({ kind: 'ACK', block: packet.block }, from);
            } else arm();
          } else if (windowsize === 1 && packet.block === ((expected - 1) & 0xffff) && expected > 1) {
            // The server timed out waiting for our ACK (it was lost): acknowledge again.
            send({ kind: 'ACK', block: packet.block }, from);
          } else if (windowsize > 1 && !gapReported && expected > 1) {
            // A block out of order: report the last one received in order, once, so the
            // server resumes right after it (RFC 7440 §4) instead of waiting for its timer.
            gapReported = true;
            inWindow = 0;
            transmit({ kind: 'ACK', block: (expected - 1) & 0xffff }, from);
          }
          return;
        }
        default:
          return; // RRQ/WRQ/ACK make no sense to a reader: ignored
      }
    };
    socket.on('message', onMessage);
    socket.on('error', (err) => fail(new SwarmbootError('TFTP_SOCKET_ERROR', `${opts.file}: socket error: ${err.message}`, { cause: err, context: { file: opts.file } })));
    transmit(last.packet, last.to);
  });
}
