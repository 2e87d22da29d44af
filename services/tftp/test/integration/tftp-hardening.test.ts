import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@swarmboot/kit';
import { waitFor } from '@swarmboot/testkit';
import { buildTftpServer, type TftpServer } from '../../src/app.js';
import type { TftpPacket } from '../../src/protocol/tftp.js';
import { RawPeer, withPeer } from './raw-peer.js';

/**
 * Scripted exchanges against servers with the production defaults (timeout 1 s, RTO floor
 * 40 ms): windows and gaps (RFC 7440), the RFC 2349 timeout honoured, retransmission from the
 * measured RTT, and the admission queue (answered within 1 s even when saturated).
 */
const HOST = '127.0.0.1';
const log = createLogger('tftp-hardening', (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent');
const FILE = randomBytes(8 * 100 + 3); // 101 blocks at blksize 8
let base: string;
let server: TftpServer;
let port: number;
let limited: TftpServer;
let limitedPort: number;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'sb-tftp-hard-'));
  await writeFile(join(base, 'f.bin'), FILE);
  server = buildTftpServer({ log, config: { host: HOST, port: 0, root: base } });
  port = (await server.listen()).port;
  limited = buildTftpServer({ log, config: { host: HOST, port: 0, root: base, maxTransfers: 1, admitWithinMs: 900 } });
  limitedPort = (await limited.listen()).port;
});

after(async () => {
  await server?.close();
  await limited?.close();
  await rm(base, { recursive: true, force: true });
});

const blockOf = (p: TftpPacket | undefined): number | undefined => (p?.kind === 'DATA' ? p.block : undefined);

async function metric(s: TftpServer, name: string): Promise<number> {
  const m = s.registry.getSingleMetric(name);
  return m ? ((await m.get()).values[0]?.value ?? 0) : 0;
}

test('windowsize 4: a window per ACK; an ACK of an earlier block resumes after it; a duplicate ACK is not answered', () => withPeer(async (peer) => {
  peer.send({ kind: 'RRQ', filename: 'f.bin', mode: 'octet', options: new Map([['BlkSize', '8'], ['WINDOWSIZE', '4']]) }, port);
  const oack = await peer.next();
  // option names are case-insensitive; the answer carries exactly what was asked and granted
  assert.deepEqual(oack?.packet.kind === 'OACK' && [...oack.packet.options], [['blksize', '8'], ['windowsize', '4']]);
  const tid = oack!.from.port;
  peer.send({ kind: 'ACK', block: 0 }, tid);
  const w1 = [await peer.next(), await peer.next(), await peer.next(), await peer.next()].map((m) => blockOf(m?.packet));
  assert.deepEqual(w1, [1, 2, 3, 4]);
  // the client lost block 3: it acknowledges 2, the server resumes at 3
  peer.send({ kind: 'ACK', block: 2 }, tid);
  const w2 = [await peer.next(), await peer.next(), await peer.next(), await peer.next()].map((m) => blockOf(m?.packet));
  assert.deepEqual(w2, [3, 4, 5, 6]);
  peer.send({ kind: 'ACK', block: 2 }, tid); // duplicate: no answer …
  peer.send({ kind: 'ACK', block: 6 }, tid); // … the next ACK moves on
  const w3 = [await peer.next(), await peer.next(), await peer.next(), await peer.next()].map((m) => blockOf(m?.packet));
  assert.deepEqual(w3, [7, 8, 9, 10]);
  peer.send({ kind: 'ERROR', code: 0, message: 'enough' }, tid);
}));

test('RFC 2349 timeout is echoed and honoured: the server resends within half of it, before the client would', () => withPeer(async (peer) => {
  peer.send({ kind: 'RRQ', filename: 'f.bin', mode: 'octet', options: new Map([['timeout', '1'], ['tsize', '0']]) }, port);
  const oack = await peer.next();
  const t0 = performance.now();
  assert.deepEqual(oack?.packet.kind === 'OACK' && [...oack.packet.options], [['timeout', '1'], ['tsize', String(FILE.length)]]);
  // no ACK 0: the OACK comes again after the initial RTO, min(1 s, timeout / 2) = 500 ms
  const again = await peer.next(2000);
  const waited = performance.now() - t0;
  assert.equal(again?.packet.kind, 'OACK');
  assert.ok(waited >= 400 && waited < 900, `OACK resent after ${waited.toFixed(0)} ms`);
  peer.send({ kind: 'ERROR', code: 8, message: 'probe' }, oack!.from.port);
}));

test('the retransmission timer follows the measured RTT: a lost ACK is covered in well under the 1 s default', () => withPeer(async (peer) => {
  const before = await metric(server, 'swarmboot_tftp_retransmissions_total');
  peer.send({ kind: 'RRQ', filename: 'f.bin', mode: 'octet', options: new Map([['blksize', '8']]) }, port);
  const oack = await peer.next();
  const tid = oack!.from.port;
  peer.send({ kind: 'ACK', block: 0 }, tid);
  // ten prompt ACKs give the server RTT samples of well under a millisecond on loopback
  for (let b = 1; b <= 10; b++) {
    assert.equal(blockOf((await peer.next())?.packet), b);
    if (b < 10) peer.send({ kind: 'ACK', block: b }, tid);
  }
  const t0 = performance.now();
  const resent = await peer.next(2000);
  const waited = performance.now() - t0;
  assert.equal(blockOf(resent?.packet), 10);
  assert.ok(waited < 250, `block 10 resent after ${waited.toFixed(0)} ms (RTO floor 40 ms, default timeout 1000 ms)`);
  await waitFor('the retransmission counted', async () => (await metric(server, 'swarmboot_tftp_retransmissions_total')) >= before + 1);
  peer.send({ kind: 'ERROR', code: 0, message: 'enough' }, tid);
}));

test('saturated (max 1 transfer): a new request waits for a slot, but is answered within 1 s; a freed slot admits the next at once', async () => {
  const a = await new RawPeer().bind();
  const b = await new RawPeer().bind();
  const c = await new RawPeer().bind();
  try {
    a.send({ kind: 'RRQ', filename: 'f.bin', mode: 'octet', options: new Map() }, limitedPort);
    const da = await a.next();
    assert.equal(blockOf(da?.packet), 1);
    // a holds the only slot (it never ACKs; the server keeps resending to it)
    const tb = performance.now();
    b.send({ kind: 'RRQ', filename: 'f.bin', mode: 'octet', options: new Map() }, limitedPort);
    const db = await b.next(1500);
    const waitedB = performance.now() - tb;
    assert.equal(blockOf(db?.packet), 1, 'b is answered although the server is saturated');
    assert.ok(waitedB >= 800 && waitedB < 1000, `b answered after ${waitedB.toFixed(0)} ms: queued, then admitted over the limit before 1 s`);
    assert.equal(await metric(limited, 'swarmboot_tftp_admitted_over_limit_total'), 1);
    // two transfers run; c queues; when both end, c starts at once
    c.send({ kind: 'RRQ', filename: 'f.bin', mode: 'octet', options: new Map() }, limitedPort);
    await waitFor('c queued', async () => (await metric(limited, 'swarmboot_tftp_requests_queued_total')) === 2);
    const tc = performance.now();
    a.send({ kind: 'ERROR', code: 0, message: 'done' }, da!.from.port);
    b.send({ kind: 'ERROR', code: 0, message: 'done' }, db!.from.port);
    const dc = await c.next(1500);
    assert.equal(blockOf(dc?.packet), 1);
    assert.ok(performance.now() - tc < 300, 'c admitted as soon as a slot freed');
    assert.equal(await metric(limited, 'swarmboot_tftp_admitted_over_limit_total'), 1);
    c.send({ kind: 'ERROR', code: 0, message: 'done' }, dc!.from.port);
  } finally {
    for (const p of [a, b, c]) p.close();
  }
});
