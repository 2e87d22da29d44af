import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Wire from 'bittorrent-protocol';
import type { ImageRecord } from '@swarmboot/contracts';
import { createLogger } from '@swarmboot/kit';
import { joinSwarm } from '../../src/swarm.js';
import { nodeBinaryBytes, startSwarmStack, type SwarmStack } from './swarm-stack.js';

/*
 * A hostile peer (issue 15): it claims every piece, unchokes, and answers every request with
 * random bytes of the right length, as fast as loopback goes, while the honest seeder is capped
 * at 2 MB/s. The agent must notice by the pieces' SHA-1 (BEP 3), ban the peer, and finish with
 * the image intact from the seeder.
 */

const SIZE = 8 * 1024 * 1024;
const log = createLogger('hostile-peer-test', (process.env.SB_TEST_LOG as 'debug' | undefined) ?? 'silent');
let stack: SwarmStack;

before(async () => {
  stack = await startSwarmStack('hostile-peer', log, 2 * 1024 * 1024);
});

after(async () => {
  await stack?.stop();
});

/** The hostile peer: what it served and when its connections closed. */
interface Hostile {
  server: Server;
  port: number;
  peerId: string;
  blocksServed: number;
  lastServedAt: number;
  connections: number;
  open: Set<Socket>;
}

function startHostilePeer(pieces: number): Promise<Hostile> {
  const peerId = Buffer.from('-EV0001-').toString('hex') + randomBytes(12).toString('hex');
  const h: Hostile = { server: createServer(), port: 0, peerId, blocksServed: 0, lastServedAt: 0, connections: 0, open: new Set() };
  const all = new Uint8Array(Math.ceil(pieces / 8)).fill(0xff);
  // the spare bits of the last byte stay clear (BEP 3: "spare bits at the end are set to zero")
  if (pieces % 8 !== 0) all[all.length - 1] = (0xff << (8 - (pieces % 8))) & 0xff;
  h.server.on('connection', (socket: Socket) => {
    h.connections++;
    h.open.add(socket);
    socket.on('close', () => h.open.delete(socket));
    socket.on('error', () => undefined);
    const wire = new Wire();
    socket.pipe(wire).pipe(socket);
    wire.on('error', () => socket.destroy());
    wire.on('handshake', (infoHash: string) => {
      wire.handshake(infoHash, peerId);
      wire.bitfield(all);
      wire.unchoke();
    });
    wire.on('request', (_index, _offset, length, respond) => {
      h.blocksServed++;
      h.lastServedAt = Date.now();
      respond(null, randomBytes(length));
    });
  });
  return new Promise((resolve) =>
    h.server.listen(0, '127.0.0.1', () => {
      h.port = (h.server.address() as AddressInfo).port;
      resolve(h);
    }),
  );
}

/** A raw BEP 3 announce of a seed (left=0) at 127.0.0.1:`port`, so the tracker hands it out. */
async function announceSeed(infoHashHex: string, peerIdHex: string, port: number): Promise<void> {
  const pct = (hex: string) => hex.replace(/../g, '%$&');
  const res = await fetch(`${stack.announceUrl}?info_hash=${pct(infoHashHex)}&peer_id=${pct(peerIdHex)}&port=${port}&uploaded=0&downloaded=0&left=0&compact=1&event=started`);
  assert.equal(res.status, 200);
  const body = Buffer.from(await res.arrayBuffer()).toString('latin1');
  assert.doesNotMatch(body, /failure reason/, body);
}

test('a peer that serves corrupt blocks is detected by the hash check and banned; the image arrives intact', { timeout: 90_000 }, async (t) => {
  const image = await nodeBinaryBytes(SIZE);
  const res = await fetch(`${stack.seederUrl}/v1/images/hostile?file=hostile.img&format=raw-disk`, { method: 'PUT', body: image, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(res.status, 201);
  const record = (await res.json()) as ImageRecord;
  const torrent = Buffer.from(await (await fetch(record.torrentUrl)).arrayBuffer());
  // BEP 3 info dict: `pieces` is 20 bytes of SHA-1 per piece
  const piecesLen = Number(/6:pieces(\d+):/.exec(torrent.toString('latin1'))?.[1]);
  assert.ok(piecesLen > 0 && piecesLen % 20 === 0);
  const hostile = await startHostilePeer(piecesLen / 20);
  try {
    await announceSeed(record.infoHash, hostile.peerId, hostile.port);
    const dir = await mkdtemp(join(stack.scratch, 'node-'));
    const download = joinSwarm({ torrent, dir, log });
    try {
      const stats = await download.done;
      const doneAt = Date.now();
      t.diagnostic(`stats ${JSON.stringify(stats)}; hostile peer served ${hostile.blocksServed} blocks over ${hostile.connections} connection(s)`);
      const got = await readFile(join(dir, record.file));
      assert.equal(createHash('sha256').update(got).digest('hex'), record.sha256, 'the image is intact');
      assert.ok(hostile.blocksServed > 0, 'the agent asked the hostile peer for blocks');
      assert.ok((stats.piecesFailed ?? 0) >= 1, `pieces failed their hash: ${stats.piecesFailed}`);
      assert.equal(stats.peersBanned, 1, 'the hostile peer, and nobody else, was banned');
      assert.equal(hostile.open.size, 0, 'its connections are closed');
      assert.ok(stats.bytesFromSeeder >= SIZE, `the seeder sent the image (${stats.bytesFromSeeder} bytes)`);
      // nothing more was asked of it once banned: the last corrupt block came before the end
      assert.ok(hostile.lastServedAt <= doneAt);
      const served = hostile.blocksServed;
      const connections = hostile.connections;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(hostile.blocksServed, served, 'no request after the ban');
      assert.equal(hostile.connections, connections, 'not dialled again');
    } finally {
      await download.stop();
    }
  } finally {
    hostile.server.close();
    for (const s of hostile.open) s.destroy();
  }
});
