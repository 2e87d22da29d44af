import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from '@swarmboot/kit';
import { decodeTftp, encodeTftp, TftpErrorCode, type TftpPacket } from '../protocol/tftp.js';
import type { ReadTransfer, TransferOutcome, TransferStep } from '../domain/read-transfer.js';
import type { TftpMetrics } from './metrics.js';

export interface Peer {
  readonly address: string;
  readonly port: number;
}

/** Binds a fresh UDP socket on `host`, port chosen by the kernel: a new TID (RFC 1350 §4). */
export async function bindEphemeral(host: string): Promise<Socket> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

/**
 * Encodes and sends one packet; `done` runs once the datagram has left (or failed to). A send
 * error is logged, not thrown: for the protocol it is a lost packet, which the timer covers.
 */
export function sendPacket(socket: Socket, packet: TftpPacket, to: Peer, log: Logger, done?: () => void): void {
  const bytes = encodeTftp(packet);
  socket.send(bytes, to.port, to.address, (err) => {
    if (err) log.warn({ err, kind: packet.kind, to: `${to.address}:${to.port}` }, 'tftp send failed');
    done?.();
  });
}

export interface TransferSessionOptions {
  readonly id: string;
  readonly client: Peer;
  /** a socket bound for this transfer only; the session closes it */
  readonly socket: Socket;
  readonly transfer: ReadTransfer;
  /** retransmission timeout (ms) */
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly metrics: TftpMetrics;
  readonly onEnd: (outcome: TransferOutcome, session: TransferSession) => void;
}

/**
 * Drives one ReadTransfer over its own socket: feeds it the client's packets and the
 * retransmission timer, and performs its steps. Everything the transfer sends goes through
 * `send()` — the one place where pacing or loss-priority policies can later hook in.
 * Packets from another TID get ERROR 5 and do not disturb the transfer (RFC 1350 §4).
 */
export class TransferSession {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private socketClosed = false;
  /** datagrams handed to the socket and not yet sent: the socket closes when this reaches 0 */
  private pending = 0;
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

  get client(): Peer {
    return this.opts.client;
  }

  get transfer(): ReadTransfer {
    return this.opts.transfer;
  }

  /** Milliseconds since the session was created. */
  get elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  start(): void {
    this.perform(this.opts.transfer.start());
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
      if (packet.kind !== 'ERROR') this.send({ kind: 'ERROR', code: TftpErrorCode.unknownTransferId, message: 'Unknown transfer ID' }, rinfo);
      return;
    }
    this.perform(this.opts.transfer.onPacket(packet));
  }

  private perform(step: TransferStep): void {
    if (this.closed) return;
    if (step.ignored) {
      this.opts.metrics.dropped.inc({ reason: step.ignored });
      this.opts.log.debug({ reason: step.ignored }, 'packet ignored');
    }
    if (step.send) {
      this.send(step.send, this.opts.client, step.retransmit === true);
      // the timer runs from the last send; an ignored packet (duplicate ACK) does not re-arm it
      if (!step.end) this.arm();
    }
    if (step.end) this.finish(step.end);
  }

  /** The single send path of a transfer. */
  private send(packet: TftpPacket, to: Peer, retransmit = false): void {
    if (packet.kind === 'DATA') this.opts.metrics.sentBytes.inc(packet.data.length);
    if (retransmit) {
      this.opts.metrics.retransmissions.inc();
      this.opts.log.debug({ kind: packet.kind, block: packet.kind === 'DATA' ? packet.block : undefined }, 'retransmit after timeout');
    }
    this.pending++;
    sendPacket(this.opts.socket, packet, to, this.opts.log, () => {
      this.pending--;
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

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.perform(this.opts.transfer.onTimeout());
    }, this.opts.timeoutMs);
  }

  private finish(outcome: TransferOutcome): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // a final ERROR still in the socket's queue leaves before the socket closes
    this.closeSocketWhenIdle();
    this.opts.onEnd(outcome, this);
  }
}
