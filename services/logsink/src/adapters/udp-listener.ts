import type { RemoteInfo } from 'node:dgram';
import { bindUdp, type UdpPeer } from '@swarmboot/kit';

export interface UdpListener {
  address: UdpPeer;
  /** the socket's receive buffer as the kernel reports it (bytes; Linux doubles what it grants, capped at net.core.rmem_max) */
  recvBufferBytes: number;
  close(): Promise<void>;
}

/**
 * Binds a UDP socket on host:port (port 0: any free port), asks for a receive buffer of
 * `recvBufferBytes` (room for the datagrams of a boot storm while the event loop is busy), and
 * hands every datagram to `onDatagram`. Rejects with the bind error. A socket error after binding goes to `onError`
 * (the listener is dead: the caller takes the process down).
 */
export async function listenUdp(
  host: string,
  port: number,
  onDatagram: (msg: Buffer, rinfo: RemoteInfo) => void,
  onError: (err: Error) => void,
  recvBufferBytes: number,
): Promise<UdpListener> {
  const socket = await bindUdp({ host, port, recvBufferBytes });
  socket.on('error', onError);
  socket.on('message', onDatagram);
  const { address, port: bound } = socket.address();
  return {
    address: { address, port: bound },
    recvBufferBytes: socket.getRecvBufferSize(),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
