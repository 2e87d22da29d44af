import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { RedisKeys } from '@swarmboot/contracts';
import { waitFor } from '@swarmboot/testkit';
import { LISTEN, startSink, type SinkHarness } from './harness.js';

let h: SinkHarness;
let port: number;

// Nodes 127.77.3.1–3 have leases; the kernel sends from port 6665 (netconsole's default src-port), here any port.
const NODES = { '127.77.3.1': 'node-nc1', '127.77.3.2': 'node-nc2', '127.77.3.3': 'node-nc3' } as const;

before(async () => {
  h = await startSink({ fragmentTimeoutMs: 300, config: { ...LISTEN, SWARMBOOT_LOG_MAXLEN: 5000 } });
  port = h.addresses.netconsole.port;
  for (const [ip, node] of Object.entries(NODES)) {
    const mac = `52:54:00:77:03:0${ip.slice(-1)}`;
    await h.redis.set(RedisKeys.leaseByIp(ip), mac);
    await h.redis.set(RedisKeys.nodeByMac(mac), node);
  }
});

after(() => h.close());

const node = (ip: keyof typeof NODES): Promise<Socket> => h.udpSocket(ip);
const send = (s: Socket, datagram: string | Buffer): Promise<void> => h.sendUdp(s, port, datagram);

const dropped = (reason: string) => h.counter('swarmboot_logsink_dropped_total', { reason });

test('plain format: each line of a datagram stored under the node of the lease, severity 6 or the <N> prefix', async () => {
  const s = await node('127.77.3.1');
  await send(s, '[    0.000000] Linux version 6.1.0-27-amd64 (debian-kernel@lists.debian.org)\n');
  await send(s, '[    1.204] e1000e: Intel(R) PRO/1000 Network Driver\n<3>[    1.310] sd 0:0:0:0: [sda] failed\n');
  const banner = await h.waitForStored('node-nc1', '[    0.000000] Linux version 6.1.0-27-amd64 (debian-kernel@lists.debian.org)');
  assert.deepEqual([banner.format, banner.facility, banner.severity, banner.seq, banner.bootTimeUs], ['netconsole', 0, 6, undefined, undefined]);
  assert.match(banner.source, /^127\.77\.3\.1:\d+$/);
  await h.waitForStored('node-nc1', '[    1.204] e1000e: Intel(R) PRO/1000 Network Driver');
  assert.equal((await h.waitForStored('node-nc1', '[    1.310] sd 0:0:0:0: [sda] failed')).severity, 3);
});

test('non-UTF-8 bytes are kept as U+FFFD, not lost', async () => {
  const s = await node('127.77.3.1');
  await send(s, Buffer.concat([Buffer.from('[    2.0] bad name: '), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('\n')]));
  await h.waitForStored('node-nc1', '[    2.0] bad name: \ufffd(\ufffd');
});

test('extended format: level, seq, the kernel timestamp (µs since boot) and the dictionary in the stored line', async () => {
  const s = await node('127.77.3.2');
  await send(s, '4,812,3517306,-;EXT4-fs (sda1): mounted filesystem with ordered data mode\\x0a(second line)\n SUBSYSTEM=block\n DEVICE=b8:1\n');
  const line = await h.waitForStored('node-nc2', 'EXT4-fs (sda1): mounted filesystem with ordered data mode\n(second line)');
  assert.deepEqual([line.format, line.facility, line.severity, line.seq, line.bootTimeUs, line.fields], ['netconsole', 0, 4, 812, 3517306, { SUBSYSTEM: 'block', DEVICE: 'b8:1' }]);
});

test('extended format: ncfrag fragments out of order are reassembled into one line', async () => {
  const s = await node('127.77.3.2');
  const text = `nvme nvme0: ${'x'.repeat(1500)} end`;
  const total = Buffer.byteLength(text);
  const parts = [0, 1000].map((offset) => Buffer.concat([Buffer.from(`6,813,3517400,-,ncfrag=${offset}/${total};`), Buffer.from(text).subarray(offset, offset + 1000)]));
  await send(s, parts[1]!);
  await send(s, parts[0]!);
  const line = await h.waitForStored('node-nc2', text);
  assert.deepEqual([line.seq, line.bootTimeUs], [813, 3517400]);
  assert.equal((await h.stored('node-nc2')).filter((e) => e.line.seq === 813).length, 1);
});

test('a gap in sequence numbers is counted per sender; a fragment never completed expires and is counted', async () => {
  const gaps = await h.counter('swarmboot_logsink_netconsole_seq_gaps_total');
  const expired = await dropped('fragment_expired');
  const a = await node('127.77.3.3');
  await send(a, '6,100,5000000,-;seq 100');
  await send(a, '6,101,5000100,-;seq 101');
  await send(a, '6,105,5000500,-,ncfrag=0/40;only the first part of 105');
  await send(a, '6,106,5000600,-;seq 106');
  await h.waitForStored('node-nc3', 'seq 106');
  assert.equal(await h.counter('swarmboot_logsink_netconsole_seq_gaps_total'), gaps + 3, '102, 103, 104 missing');
  await waitFor('incomplete 105 given up', async () => (await dropped('fragment_expired')) === expired + 1, 5000);
  assert.equal((await h.stored('node-nc3')).some((e) => e.line.seq === 105), false);
});

test('a fragment bomb is bounded and counted, and another node keeps logging meanwhile', async () => {
  const evicted = await dropped('fragment_evicted');
  const badFragment = await dropped('bad_fragment');
  const bomb = await node('127.77.3.1');
  const victim = await node('127.77.3.2');
  // 2000 messages announcing 16 KiB each, one byte sent of each: 64 MiB if it were all kept.
  for (let seq = 0; seq < 2000; seq++) {
    await send(bomb, `6,${10_000 + seq},1,-,ncfrag=0/16384;x`);
    if (seq % 500 === 0) await send(victim, `6,${900 + seq},1,-;victim line ${seq}`);
  }
  await send(bomb, '6,1,1,-,ncfrag=0/99999;x'); // a total above the bound
  for (const seq of [0, 500, 1000, 1500]) await h.waitForStored('node-nc2', `victim line ${seq}`);
  await waitFor('bomb evictions counted', async () => (await dropped('fragment_evicted')) >= evicted + 1990);
  assert.equal(await dropped('bad_fragment'), badFragment + 1);
  const held = await h.counter('swarmboot_logsink_netconsole_reassembly_bytes');
  assert.ok(held <= 4 * 1024 * 1024, `${held} bytes held`);
});

test('garbage on the netconsole port: an empty datagram and a bad level are dropped and counted', async () => {
  const [empty, badHeader] = [await dropped('empty'), await dropped('bad_header')];
  const s = await node('127.77.3.3');
  await send(s, '\n\n');
  await send(s, '255,1,1,-;level out of range');
  await waitFor('both counted', async () => (await dropped('empty')) === empty + 1 && (await dropped('bad_header')) === badHeader + 1);
});
