import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { decodeTftp, encodeTftp, type TftpPacket } from '../../src/protocol/tftp.js';

const HOST = '127.0.0.1';

/** A raw UDP peer for scripted exchanges. */
export class RawPeer {
  readonly socket: Socket = createSocket('udp4');
  private readonly inbox: { packet: TftpPacket; from: RemoteInfo }[] = [];
  private waiter: (() => void) | undefined;

  async bind(address = HOST): Promise<this> {
    await new Promise<void>((resolve) => this.socket.bind(0, address, resolve));
    this.socket.on('message', (msg, from) => {
      this.inbox.push({ packet: decodeTftp(msg), from });
      this.waiter?.();
    });
    return this;
  }

  send(packet: TftpPacket, toPort: number): void {
    this.socket.send(encodeTftp(packet), toPort, HOST);
  }

  sendRaw(bytes: Buffer, toPort: number): void {
    this.socket.send(bytes, toPort, HOST);
  }

  /** The next packet, or undefined after `ms`. */
  async next(ms = 2000): Promise<{ packet: TftpPacket; from: RemoteInfo } | undefined> {
    const deadline = Date.now() + ms;
    while (this.inbox.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.inbox.shift();
  }

  close(): void {
    this.socket.close();
  }
}


/** Runs `use` with a bound {@link RawPeer}, closed afterwards however `use` ends; resolves to what `use` does. */
export async function withPeer<T>(use: (peer: RawPeer) => Promise<T>): Promise<T> {
  const peer = await new RawPeer().bind();
  try {
    return await use(peer);
  } finally {
    peer.close();
  }
}
