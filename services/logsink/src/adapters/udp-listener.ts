import type { RemoteInfo } from 'node:dgram';
import { bindUdp, type UdpPeer } from '@swarmboot/kit';

/** Kernel receive buffer asked for (bytes): room for a few thousand lines of a boot storm while the event loop is busy. Linux caps it at net.core.rmem_max. */
const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export interface UdpListener {
  address: UdpPeer;
  close(): Promise<void>;
}

/**
 * Binds a UDP socket on host:port (port 0: any free port) and hands every datagram to
 * `onDatagram`. Rejects with the bind error. A socket error after binding goes to `onError`
 * (the listener is dead: the caller takes the process down).
 */
export async function listenUdp(
  host: string,
  port: number,
  onDatagram: (msg: Buffer, rinfo: RemoteInfo) => void,
  onError: (err: Error) => void,
): Promise<UdpListener> {
  const socket = await bindUdp({ host, port, recvBufferBytes: RECV_BUFFER_BYTES });
  socket.on('error', onError);
  socket.on('message', onDatagram);
  const { address, port: bound } = socket.address();
  return {
    address: { address, port: bound },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
