import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/** Kernel receive buffer asked for (bytes): room for a few thousand lines of a boot storm while the event loop is busy. Linux caps it at net.core.rmem_max. */
const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export interface UdpListener {
  address: { address: string; port: number };
  close(): Promise<void>;
}

/**
 * Binds a UDP socket on host:port (port 0: any free port) and hands every datagram to
 * `onDatagram`. Errors after binding go to `onError`; the socket stays open.
 */
export async function listenUdp(
  host: string,
  port: number,
  onDatagram: (msg: Buffer, rinfo: RemoteInfo) => void,
  onError: (err: Error) => void,
): Promise<UdpListener> {
  const socket: Socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', onError);
  socket.on('message', onDatagram);
  try {
    socket.setRecvBufferSize(RECV_BUFFER_BYTES);
  } catch {
    /* capped or refused by the kernel: the default buffer still works */
  }
  const { address, port: bound } = socket.address();
  return {
    address: { address, port: bound },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
