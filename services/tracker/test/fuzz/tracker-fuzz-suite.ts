import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import bencode from 'bencode';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';
import { createLogger, ImageCatalog, Registry } from '@swarmboot/kit';
import { bytes, mutated, startRedis, type FuzzSuite } from '@swarmboot/testkit';
import { buildTracker } from '../../src/index.js';
import { imageRecord } from '../integration/image-record.js';

/*
 * Fuzzing of the tracker through its real request path: datagrams to its UDP socket (BEP 15,
 * parsed by bittorrent-tracker's parse-udp, then our filter, admission and Redis swarm) and
 * HTTP requests to /announce and /scrape (BEP 3, 48), against a real Redis. What is ours is what
 * the library hands us, so the properties are about the service: it answers every well-formed
 * request, answers nothing but BEP 15 actions, keeps answering after any input, and stores only
 * `ip:port` peers in a registered swarm.
 */

const PROTOCOL_ID = Buffer.from('0000041727101980', 'hex');
/** the registered image's infohash; announces for others are refused before our swarm code runs */
const KNOWN = Buffer.from('5a'.repeat(20), 'hex');
const PEER = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5}$/;

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const infoHash = fc.oneof(fc.constant(KNOWN), fc.uint8Array({ minLength: 20, maxLength: 20 }).map((a) => Buffer.from(a)));

/** BEP 15 connect, announce and scrape requests with every field arbitrary (action 0..3, event 0..4, any ip, numwant, port). */
const bep15: fc.Arbitrary<Buffer> = fc.oneof(
  fc.record({ action: fc.integer({ min: 0, max: 3 }), tid: u32 }).map(({ action, tid }) => {
    const b = Buffer.alloc(16);
    PROTOCOL_ID.copy(b);
    b.writeUInt32BE(action, 8);
    b.writeUInt32BE(tid, 12);
    return b;
  }),
  fc.record({ tid: u32, infoHash, peerId: bytes(20), downloaded: u64, left: fc.oneof(fc.constant(0n), u64), uploaded: u64, event: fc.integer({ min: 0, max: 4 }), ip: fc.oneof(fc.constant(0), u32), key: u32, numwant: fc.integer({ min: -1, max: 0x7fffffff }), port: fc.integer({ min: 0, max: 0xffff }) }).map((a) => {
    const b = Buffer.alloc(98);
    PROTOCOL_ID.copy(b);
    b.writeUInt32BE(1, 8);
    b.writeUInt32BE(a.tid, 12);
    a.infoHash.copy(b, 16);
    a.peerId.copy(b, 36);
    b.writeBigUInt64BE(a.downloaded, 56);
    b.writeBigUInt64BE(a.left, 64);
    b.writeBigUInt64BE(a.uploaded, 72);
    b.writeUInt32BE(a.event, 80);
    b.writeUInt32BE(a.ip, 84);
    b.writeUInt32BE(a.key, 88);
    b.writeInt32BE(a.numwant, 92);
    b.writeUInt16BE(a.port, 96);
    return b;
  }),
  fc.record({ tid: u32, hashes: fc.array(infoHash, { maxLength: 4 }) }).map(({ tid, hashes }) => {
    const b = Buffer.alloc(16);
    PROTOCOL_ID.copy(b);
    b.writeUInt32BE(2, 8);
    b.writeUInt32BE(tid, 12);
    return Buffer.concat([b, ...hashes]);
  }),
);

/** BEP 3 announce and BEP 48 scrape query strings: every parameter arbitrary or missing, repeated, or garbage. */
const pct = (b: Uint8Array): string => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
const httpPath: fc.Arbitrary<string> = fc
  .record({
    path: fc.constantFrom('/announce', '/scrape', '/', '/announce/', '/x'),
    params: fc.array(
      fc.oneof(
        infoHash.map((h) => `info_hash=${pct(h)}`),
        bytes(24).map((b) => `peer_id=${pct(b)}`),
        fc.oneof(fc.integer({ min: -2, max: 70000 }).map(String), fc.string({ maxLength: 6 })).map((v) => `port=${encodeURIComponent(v)}`),
        fc.oneof(fc.nat().map(String), fc.constantFrom('-1', 'NaN', '1e400', '')).map((v) => `left=${v}`),
        fc.oneof(fc.integer({ min: -5, max: 500 }).map(String), fc.string({ maxLength: 4 })).map((v) => `numwant=${encodeURIComponent(v)}`),
        fc.constantFrom('compact=1', 'compact=0', 'compact=2', 'compact=x'),
        fc.oneof(fc.constantFrom('started', 'completed', 'stopped', 'paused', 'empty', 'update', ''), fc.string({ maxLength: 8 })).map((v) => `event=${encodeURIComponent(v)}`),
        fc.tuple(fc.string({ maxLength: 8 }), bytes(8)).map(([k, v]) => `${encodeURIComponent(k)}=${pct(v)}`),
      ),
      { maxLength: 10 },
    ),
  })
  .map(({ path, params }) => `${path}?${params.join('&')}`);

/** The BEP 15 actions a tracker may answer with (connect, announce, scrape, error). */
const ACTIONS = new Set([0, 1, 2, 3]);

export const trackerFuzz: FuzzSuite = {
  codec: 'tracker',
  async open() {
    const server = await startRedis();
    const redis = new Redis(server.url);
    const catalog = new ImageCatalog(redis);
    await catalog.put(imageRecord('fuzz', KNOWN));
    const tracker = buildTracker({ log: createLogger('tracker-fuzz', 'silent'), lookup: (h) => catalog.nameByInfoHash(h), redis, registry: new Registry(), config: { intervalSeconds: 30 } });
    const bound = await tracker.listen('127.0.0.1', 0, { host: '127.0.0.1', port: 0 });
    const udpPort = bound.udpPort!;
    const base = `http://127.0.0.1:${bound.port}`;

    // one client socket; replies are matched by transaction id (BEP 15 echoes it)
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const waiting = new Map<number, (reply: Buffer) => void>();
    const badReplies: string[] = [];
    sock.on('message', (msg) => {
      if (msg.length < 8 || !ACTIONS.has(msg.readUInt32BE(0))) badReplies.push(msg.toString('hex'));
      if (msg.length >= 8) waiting.get(msg.readUInt32BE(4))?.(msg);
    });
    let probeTid = 0;
    /** a connect request; resolves with its reply, rejects after 2 s (the tracker stopped answering) */
    const probe = (): Promise<Buffer> => {
      const tid = (probeTid = (probeTid + 1) % 0x7fffffff) | 0x80000000;
      const b = Buffer.alloc(16);
      PROTOCOL_ID.copy(b);
      b.writeUInt32BE(tid >>> 0, 12);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(tid >>> 0);
          reject(new Error('the tracker did not answer a connect within 2 s'));
        }, 2000);
        waiting.set(tid >>> 0, (reply) => {
          clearTimeout(timer);
          waiting.delete(tid >>> 0);
          resolve(reply);
        });
        sock.send(b, udpPort, '127.0.0.1');
      });
    };

    /** after any datagram: the tracker still answers, answered nothing but BEP 15, and the swarm holds only ip:port peers */
    const afterUdp = async (dg: Buffer): Promise<void> => {
      sock.send(dg, udpPort, '127.0.0.1');
      await probe();
      assert.deepEqual(badReplies, []);
      const peers = await redis.zrange(RedisKeys.trackerPeers(KNOWN.toString('hex')), 0, -1);
      assert.deepEqual(peers.filter((p) => !PEER.test(p)), [], 'a swarm member that is not ip:port');
    };

    return {
      properties: [
        { name: 'UDP: arbitrary datagrams leave the tracker answering', property: fc.asyncProperty(bytes(200), afterUdp) },
        { name: 'UDP: BEP 15 requests with arbitrary fields are answered with BEP 15 actions', property: fc.asyncProperty(bep15, afterUdp) },
        { name: 'UDP: mutated BEP 15 requests leave the tracker answering', property: fc.asyncProperty(mutated(bep15), afterUdp) },
        {
          name: 'HTTP: arbitrary announce and scrape queries get a bencoded answer',
          property: fc.asyncProperty(httpPath, async (path) => {
            const res = await fetch(base + path, { signal: AbortSignal.timeout(2000) });
            assert.equal(res.status, 200);
            const body = bencode.decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>;
            assert.ok('failure reason' in body || 'interval' in body || 'files' in body, `answer without failure reason, interval or files`);
          }),
        },
      ],
      async close() {
        sock.close();
        await tracker.close();
        await redis.flushall();
        redis.disconnect();
        await server.stop();
      },
    };
  },
};
