import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { NatsConnection } from '@nats-io/transport-node';
import { Events, isSwarmbootError, type TftpTransfer } from '@swarmboot/contracts';
import { connectNats, createLogger, EventBus } from '@swarmboot/kit';
import { startNats, waitFor, type Started } from '@swarmboot/testkit';
import { buildTftpServer, type TftpServer } from '../../src/app.js';
import { tftpGet } from '../../src/client/tftp-get.js';
import type { TftpPacket } from '../../src/protocol/tftp.js';
import { RawPeer, withPeer } from './raw-peer.js';

const pexec = promisify(execFile);
const HOST = '127.0.0.1';
/** a node's own address in the demo's 127.77.0.0/16 */
const NODE_IP = '127.77.1.5';
const TIMEOUT_MS = 300;

const FILES: Record<string, Buffer> = {
  'empty.bin': Buffer.alloc(0),
  'one.bin': Buffer.from([0x42]),
  'block.bin': randomBytes(512),
  'multi.bin': randomBytes(1432 * 4),
  // blksize 8: 65 548 blocks, so block numbers wrap past 65535
  'rollover.bin': randomBytes(65536 * 8 + 100),
  'probe.bin': randomBytes(3000),
  'slow.bin': randomBytes(3000),
  'boot/pxelinux.0': randomBytes(2000),
  'menu.txt': Buffer.from('DEFAULT linux\nLABEL linux\n  KERNEL vmlinuz\n'.repeat(40)),
};

let nats: Started;
let nc: NatsConnection;
let bus: EventBus;
let server: TftpServer;
let port: number;
let base: string;
let root: string;
const completed: TftpTransfer[] = [];
const failed: TftpTransfer[] = [];

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'sb-tftp-it-'));
  root = join(base, 'root');
  await mkdir(join(root, 'boot'), { recursive: true });
  for (const [name, data] of Object.entries(FILES)) await writeFile(join(root, name), data);
  await writeFile(join(base, 'secret'), 'outside the root\n');
  await symlink(join(base, 'secret'), join(root, 'escape-link'));
  await symlink('/etc/passwd', join(root, 'passwd-link'));

  nats = await startNats();
  const log = createLogger('tftp-test', (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent');
  nc = await connectNats(nats.url, 'tftp-test', log);
  bus = new EventBus(nc, 'tftp-test', log);
  bus.subscribe(Events.tftpTransferCompleted, (d) => completed.push(d));
  bus.subscribe(Events.tftpTransferFailed, (d) => failed.push(d));
  await nc.flush();
  server = buildTftpServer({ log, bus, config: { host: HOST, port: 0, root, timeoutMs: TIMEOUT_MS, minRtoMs: TIMEOUT_MS, retries: 2 } });
  port = (await server.listen()).port;
});

after(async () => {
  await server?.close();
  await nc?.drain();
  await nats?.stop();
  await rm(base, { recursive: true, force: true });
});

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = server.registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  const v = values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

async function expectCompletedEvent(file: string, clientAddress: string): Promise<TftpTransfer> {
  return waitFor(`completed event for ${file} from ${clientAddress}`, () => completed.find((e) => e.file === file && e.clientAddress === clientAddress), 5000);
}

for (const [file, blksize] of [
  ['empty.bin', undefined],
  ['one.bin', undefined],
  ['block.bin', undefined], // exactly one blksize (512): ends with an empty DATA 2
  ['multi.bin', 1432], // exact multiple of the negotiated blksize
  ['rollover.bin', 8], // > 65535 blocks: block numbers wrap to 0
] as const) {
  test(`tftpGet ${file} (blksize ${blksize ?? 'default'}) returns the file byte for byte; the completed event has its size`, async () => {
    const expected = FILES[file]!;
    const r = await tftpGet({ host: HOST, port, file, localAddress: NODE_IP, tsize: true, ...(blksize === undefined ? {} : { blksize }), timeoutMs: 1000 });
    assert.equal(r.data.length, expected.length);
    assert.ok(r.data.equals(expected), 'bytes differ');
    assert.equal(r.blksize, blksize ?? 512);
    // RFC 2349: tsize in the OACK is the file size
    assert.equal(r.tsize, expected.length);
    const event = await expectCompletedEvent(file, NODE_IP);
    assert.equal(event.bytes, expected.length);
    assert.equal(event.blksize, blksize ?? 512);
    assert.equal(event.windowsize, 1);
  });
}

test('without options the server answers DATA 1 directly (no OACK); absolute paths are relative to the root', () => withPeer(async (peer) => {
  peer.send({ kind: 'RRQ', filename: '/boot/pxelinux.0', mode: 'octet', options: new Map() }, port);
  const first = await peer.next();
  assert.equal(first?.packet.kind, 'DATA');
  assert.notEqual(first?.from.port, port, 'a transfer must come from a new TID');
  assert.equal(first?.packet.kind === 'DATA' && first.packet.block, 1);
  assert.ok(first?.packet.kind === 'DATA' && first.packet.data.equals(FILES['boot/pxelinux.0']!.subarray(0, 512)));
  // end it here, so its retransmissions do not run into the other tests
  peer.send({ kind: 'ERROR', code: 0, message: 'enough' }, first!.from.port);
  await waitFor('the ended transfer', () => failed.find((e) => e.file === '/boot/pxelinux.0' && /client error 0/.test(e.error ?? '')), 5000);
}));

test('tftp-hpa fetches files byte for byte (octet and netascii)', { skip: (await pexec('sh', ['-c', 'command -v tftp']).then(() => false, () => 'tftp (tftp-hpa) is not installed')) }, async () => {
  const dest = join(base, 'hpa.out');
  await pexec('tftp', [HOST, String(port), '-m', 'binary', '-c', 'get', 'multi.bin', dest], { timeout: 30_000 });
  assert.ok((await readFile(dest)).equals(FILES['multi.bin']!));
  const dest2 = join(base, 'hpa-empty.out');
  await pexec('tftp', [HOST, String(port), '-m', 'binary', '-c', 'get', 'block.bin', dest2], { timeout: 30_000 });
  assert.ok((await readFile(dest2)).equals(FILES['block.bin']!));
  // netascii: the server sends CR LF line ends, tftp-hpa turns them back into LF
  const dest3 = join(base, 'hpa-ascii.out');
  await pexec('tftp', [HOST, String(port), '-m', 'ascii', '-c', 'get', 'menu.txt', dest3], { timeout: 30_000 });
  assert.ok((await readFile(dest3)).equals(FILES['menu.txt']!));
});

test('curl fetches files over tftp:// (tsize and blksize options, OACK path)', async () => {
  const dest = join(base, 'curl.out');
  await pexec('curl', ['-sS', '--max-time', '30', '-o', dest, `tftp://${HOST}:${port}/multi.bin`]);
  assert.ok((await readFile(dest)).equals(FILES['multi.bin']!));
  await pexec('curl', ['-sS', '--max-time', '30', '--tftp-blksize', '1024', '-o', dest, `tftp://${HOST}:${port}/boot/pxelinux.0`]);
  assert.ok((await readFile(dest)).equals(FILES['boot/pxelinux.0']!));
});

test('path traversal and symlinks leaving the root are refused with ERROR 2; a missing file gets ERROR 1', async () => {
  for (const file of ['../etc/passwd', '../../../../etc/passwd', 'boot/../../secret', '..\\secret', 'escape-link', 'passwd-link']) {
    await assert.rejects(
      tftpGet({ host: HOST, port, file, timeoutMs: 1000 }),
      (err: unknown) => isSwarmbootError(err, 'TFTP_ERROR') && err.context.errorCode === 2,
      file,
    );
  }
  await assert.rejects(
    tftpGet({ host: HOST, port, file: 'no-such-file', timeoutMs: 1000 }),
    (err: unknown) => isSwarmbootError(err, 'TFTP_ERROR') && err.context.errorCode === 1,
  );
  await assert.rejects(
    tftpGet({ host: HOST, port, file: 'boot', timeoutMs: 1000 }),
    (err: unknown) => isSwarmbootError(err, 'TFTP_ERROR') && err.context.errorCode === 2,
    'a directory is not a file',
  );
  await waitFor('failed event for the symlink', () => failed.find((e) => e.file === 'passwd-link' && /refused/.test(e.error ?? '')), 5000);
});

test('a write request is refused with ERROR 2', () => withPeer(async (peer) => {
  peer.send({ kind: 'WRQ', filename: 'upload.bin', mode: 'octet', options: new Map() }, port);
  const reply = await peer.next();
  assert.equal(reply?.packet.kind, 'ERROR');
  assert.equal(reply?.packet.kind === 'ERROR' && reply.packet.code, 2);
}));

test('a packet from a stranger TID gets ERROR 5 and does not disturb the transfer', async () => {
  const client = await new RawPeer().bind();
  const stranger = await new RawPeer().bind();
  try {
    const file = FILES['multi.bin']!;
    client.send({ kind: 'RRQ', filename: 'multi.bin', mode: 'octet', options: new Map() }, port);
    const first = await client.next();
    assert.equal(first?.packet.kind, 'DATA');
    const tid = first!.from.port;
    stranger.send({ kind: 'ACK', block: 1 }, tid);
    const err = await stranger.next();
    assert.equal(err?.packet.kind === 'ERROR' && err.packet.code, 5);
    assert.equal(err?.from.port, tid);
    // the stranger's ACK 1 must not have advanced the transfer
    assert.equal(await client.next(100), undefined);
    // the client finishes the transfer as if nothing happened
    const chunks = [first!.packet.kind === 'DATA' ? first!.packet.data : Buffer.alloc(0)];
    let block = 1;
    for (;;) {
      client.send({ kind: 'ACK', block }, tid);
      const next = await client.next();
      assert.ok(next && next.packet.kind === 'DATA', `DATA ${block + 1}`);
      if (next.packet.kind !== 'DATA') return;
      assert.equal(next.packet.block, block + 1);
      chunks.push(next.packet.data);
      block = next.packet.block;
      if (next.packet.data.length < 512) {
        client.send({ kind: 'ACK', block }, tid);
        break;
      }
    }
    assert.ok(Buffer.concat(chunks).equals(file));
    await waitFor('completed event for the raw client', () => completed.find((e) => e.file === 'multi.bin' && e.clientPort === client.socket.address().port));
  } finally {
    client.close();
    stranger.close();
  }
});

test('a duplicate ACK is not answered (Sorcerer\'s Apprentice); a timeout resends; bounded retries fail the transfer', () => withPeer(async (peer) => {
  const retransBefore = await metric('swarmboot_tftp_retransmissions_total');
  peer.send({ kind: 'RRQ', filename: 'slow.bin', mode: 'octet', options: new Map() }, port);
  const d1 = await peer.next();
  const tid = d1!.from.port;
  peer.send({ kind: 'ACK', block: 1 }, tid);
  const d2 = await peer.next();
  assert.equal(d2?.packet.kind === 'DATA' && d2.packet.block, 2);
  peer.send({ kind: 'ACK', block: 1 }, tid); // duplicate
  const early = await peer.next(TIMEOUT_MS / 2);
  assert.equal(early, undefined, 'a duplicate ACK must not trigger a resend');
  // no ACK 2: the server resends DATA 2 after its timeout, twice (retries 2), then gives up
  const r1 = await peer.next(TIMEOUT_MS * 3);
  assert.equal(r1?.packet.kind === 'DATA' && r1.packet.block, 2);
  const r2 = await peer.next(TIMEOUT_MS * 3);
  assert.equal(r2?.packet.kind === 'DATA' && r2.packet.block, 2);
  const end = await peer.next(TIMEOUT_MS * 3);
  assert.equal(end?.packet.kind, 'ERROR');
  const event = await waitFor('failed event', () => failed.find((e) => e.file === 'slow.bin' && e.clientPort === peer.socket.address().port), 5000);
  assert.match(event.error ?? '', /timeout/);
  assert.equal(event.retransmissions, 2);
  assert.equal(event.bytes, 1024);
  assert.equal((await metric('swarmboot_tftp_retransmissions_total')) - retransBefore, 2);
}));

test('ERROR 8 after the OACK (UEFI tsize probe) ends the transfer quietly', () => withPeer(async (peer) => {
  const abortedBefore = await metric('swarmboot_tftp_transfers_total', { result: 'aborted' });
  peer.send({ kind: 'RRQ', filename: 'probe.bin', mode: 'octet', options: new Map([['tsize', '0'], ['windowsize', '8']]) }, port);
  const oack = await peer.next();
  assert.equal(oack?.packet.kind, 'OACK');
  // only the asked and accepted options come back, in the order asked
  assert.deepEqual(oack?.packet.kind === 'OACK' && [...oack.packet.options], [['tsize', String(FILES['probe.bin']!.length)], ['windowsize', '8']]);
  peer.send({ kind: 'ERROR', code: 8, message: 'tsize probe' }, oack!.from.port);
  await waitFor('aborted transfer counted', async () => (await metric('swarmboot_tftp_transfers_total', { result: 'aborted' })) === abortedBefore + 1);
  assert.equal(await peer.next(TIMEOUT_MS * 2), undefined, 'no resend after the probe ended');
  assert.equal(failed.find((e) => e.file === 'probe.bin'), undefined, 'a probe is not a failure');
}));

test('a malformed datagram is counted and not answered', () => withPeer(async (peer) => {
  const before = await metric('swarmboot_tftp_dropped_total', { reason: 'malformed' });
  peer.sendRaw(Buffer.from([0x00, 0x09, 0x41, 0x00]), port); // opcode 9
  peer.sendRaw(Buffer.from([0x00, 0x01, 0x66, 0x69, 0x6c, 0x65]), port); // RRQ without NUL
  await waitFor('two malformed datagrams counted', async () => (await metric('swarmboot_tftp_dropped_total', { reason: 'malformed' })) === before + 2);
  assert.equal(await peer.next(500), undefined);
}));

test('tftpGet resends its RRQ on timeout and gives up with TFTP_TIMEOUT', () => withPeer(async (silent) => {
  await assert.rejects(
    tftpGet({ host: HOST, port: silent.socket.address().port, file: 'x', timeoutMs: 100, retries: 2 }),
    (err: unknown) => isSwarmbootError(err, 'TFTP_TIMEOUT'),
  );
  const seen: TftpPacket[] = [];
  for (let m = await silent.next(50); m; m = await silent.next(50)) seen.push(m.packet);
  assert.deepEqual(seen.map((p) => p.kind), ['RRQ', 'RRQ', 'RRQ']);
}));
