import { createServer, type Server, type Socket } from 'node:net';
import type { UdpPeer } from '@swarmboot/kit';
import { SyslogFrameDecoder, type SyslogFramingReason } from '../protocol/syslog-framing.js';

export interface TcpSyslogOptions {
  host: string;
  /** 0: any free port */
  port: number;
  /** largest frame accepted (bytes); a longer one is a framing error (`oversized`) */
  maxFrameBytes: number;
  /** connections open at once; one more is closed at once and reported to `onRefused` */
  maxConnections: number;
  /** a connection that sends nothing for this long (ms) is closed */
  idleTimeoutMs: number;
  /** every whole frame, in the order the connection sent them; calls `done` once the frame is handled (stored or dropped) */
  onFrame: (frame: Buffer, from: UdpPeer, done: () => void) => void;
  /** the connection broke its framing (it is then closed), or closed mid-frame (`truncated`) */
  onStreamDrop: (reason: SyslogFramingReason | 'truncated', from: UdpPeer, bytes: number) => void;
  /** whether to take a connection from this peer (an allowlist); false: it is closed at once. Default: every peer */
  admits?: (from: UdpPeer) => boolean;
  /** a connection refused because `maxConnections` were open */
  onRefused: (from: UdpPeer) => void;
  /** the listening socket failed after binding (the caller takes the process down) */
  onError: (err: Error) => void;
}

/**
 * Frames of one connection being handled at once before it is paused: TCP has flow control, so
 * a fast sender is slowed down here instead of having lines dropped as `overload` behind it
 * (bench/logsink at 40 000 lines/s: 14 % of TCP lines dropped as overload without it).
 */
const MAX_FRAMES_IN_FLIGHT = 256;

export interface TcpListener {
  address: UdpPeer;
  /** Stops accepting, destroys open connections (a sender retries: RFC 6587 has no acknowledgement anyway). */
  close(): Promise<void>;
}

/**
 * Listens for syslog over TCP (RFC 6587): one {@link SyslogFrameDecoder} per connection, frames
 * handed to `onFrame`. A framing error closes that connection only. Rejects with the bind error.
 */
export async function listenTcpSyslog(opts: TcpSyslogOptions): Promise<TcpListener> {
  const open = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (socket) => {
    const from: UdpPeer = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    if (opts.admits !== undefined && !opts.admits(from)) {
      socket.destroy();
      return;
    }
    open.add(socket);
    const decoder = new SyslogFrameDecoder(opts.maxFrameBytes);
    let broken = false;
    let inFlight = 0;
    const settled = (): void => {
      inFlight--;
      if (inFlight === MAX_FRAMES_IN_FLIGHT / 2 && socket.isPaused()) socket.resume();
    };
    socket.setTimeout(opts.idleTimeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      if (broken) return;
      const { frames, error } = decoder.push(chunk);
      for (const frame of frames) {
        inFlight++;
        opts.onFrame(frame, from, settled);
      }
      if (inFlight >= MAX_FRAMES_IN_FLIGHT) socket.pause();
      if (error) {
        broken = true;
        opts.onStreamDrop(error.context['reason'] as SyslogFramingReason, from, decoder.pending);
        socket.destroy();
      }
    });
    // Resets and timeouts end a connection like any other close: nothing to report but a cut frame.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      open.delete(socket);
      if (!broken && decoder.pending > 0) opts.onStreamDrop('truncated', from, decoder.pending);
    });
  });
  server.maxConnections = opts.maxConnections;
  // Node closes a connection over maxConnections itself and reports it as 'drop' (net.Server, v18.6).
  server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => opts.onRefused({ address: data?.remoteAddress ?? '', port: data?.remotePort ?? 0 }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', opts.onError);
  const bound = server.address();
  const address: UdpPeer = typeof bound === 'object' && bound !== null ? { address: bound.address, port: bound.port } : { address: opts.host, port: opts.port };
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of open) s.destroy();
      }),
  };
}
