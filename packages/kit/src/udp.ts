import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/** A datagram's sender or destination: an IP literal and a UDP port. */
export interface UdpPeer {
  readonly address: string;
  readonly port: number;
}

export interface BindUdpOptions {
  /** local address (IPv4 or IPv6 literal); absent: every address of `family` */
  host?: string | undefined;
  /** UDP port; 0 lets the kernel pick a free one */
  port: number;
  /** default: `udp6` for an IPv6 `host`, else `udp4` */
  family?: 'udp4' | 'udp6';
  /** SO_REUSEADDR, so a socket on a specific address and one on the wildcard share a port; default false */
  reuseAddr?: boolean;
  /** SO_BROADCAST (a DHCP server answering clients without an address); default false */
  broadcast?: boolean;
  /**
   * SO_RCVBUF asked for (bytes), best effort: Linux caps it at net.core.rmem_max and a refusal
   * leaves the default buffer, which still works.
   */
  recvBufferBytes?: number;
}

/**
 * Creates a datagram socket and binds it. Resolves with the socket once bound; rejects with the
 * bind error (EADDRINUSE, EADDRNOTAVAIL, …) after closing it. Attach the `message` and `error`
 * listeners right away: an `error` without a listener ends the process.
 */
export async function bindUdp(opts: BindUdpOptions): Promise<Socket> {
  const family = opts.family ?? (opts.host !== undefined && isIPv6(opts.host) ? 'udp6' : 'udp4');
  const socket = createSocket({ type: family, reuseAddr: opts.reuseAddr === true });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ port: opts.port, ...(opts.host === undefined ? {} : { address: opts.host }) }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  if (opts.broadcast === true) socket.setBroadcast(true);
  if (opts.recvBufferBytes !== undefined) {
    try {
      socket.setRecvBufferSize(opts.recvBufferBytes);
    } catch {
      // capped or refused by the kernel: the default buffer still works
    }
  }
  return socket;
}

/** `::ffff:10.0.0.1` (an IPv4 sender seen on a dual-stack socket) → `10.0.0.1`; any other address unchanged. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
