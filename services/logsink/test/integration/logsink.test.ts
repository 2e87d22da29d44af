import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { execFile, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { Events, RedisKeys, type CloudEvent, type LogLine, type LogLineBatch } from '@swarmboot/contracts';
import { Registry } from '@swarmboot/kit';
import { waitFor } from '@swarmboot/testkit';
import { pino } from 'pino';

const createQuietLogger = () => pino({ level: 'silent' });
import { buildLogsink, createSyslogSender, SyslogSeverity } from '../../src/index.js';
import { LISTEN, startSink, type SinkHarness } from './harness.js';

const pexec = promisify(execFile);

let h: SinkHarness;
let redis: Redis;
let registry: Registry;
let port: number;
/** every line seen on NATS, with the event (a node's batch) that carried it */
const live: { line: LogLine; event: CloudEvent<LogLineBatch> }[] = [];

const CHADDR_9 = '52:54:00:77:01:09';

before(async () => {
  // Stream length 100 so the storm test can see MAXLEN ~ trimming.
  h = await startSink({ mappingTtlMs: 2000 });
  ({ redis, registry } = h);
  port = h.addresses.syslogUdp.port;

  // The DHCP service's lease and the scheduler's indexes, as they write them.
  await redis.set(RedisKeys.leaseByIp('127.77.1.9'), CHADDR_9);
  await redis.set(RedisKeys.nodeByMac(CHADDR_9), 'node-9');
  await redis.set(RedisKeys.nodeByHostname('rack1-n7'), 'node-7');

  h.bus.subscribe(Events.logLines, (batch, event) => {
    for (const line of batch.lines) live.push({ line, event });
  });
  await h.nc.flush(); // the subscription is on the server before anything is published
});

after(() => h.close());

const udpSocket = (address: string): Promise<Socket> => h.udpSocket(address);
const sendRaw = (s: Socket, datagram: string | Buffer): Promise<void> => h.sendUdp(s, port, datagram);

const stored = (nodeId: string) => h.stored(nodeId);
const waitForStored = (nodeId: string, message: string) => h.waitForStored(nodeId, message);
const counter = (name: string, labels: Record<string, string> = {}) => h.counter(name, labels);

async function waitForLive(message: string): Promise<{ line: LogLine; event: CloudEvent<LogLineBatch> }> {
  return waitFor(`"${message}" on NATS`, () => live.find((l) => l.line.message === message), 10_000);
}

async function totalStoredLines(): Promise<number> {
  const keys = await redis.keys(RedisKeys.nodeLog('*'));
  let n = 0;
  for (const k of keys) n += await redis.xlen(k);
  return n;
}

test('createSyslogSender bound to the node address: lines land in the node of its DHCP lease, and on NATS', async () => {
  const leaseBefore = await counter('swarmboot_logsink_lines_mapped_total', { result: 'lease' });
  const sender = createSyslogSender({ target: { host: '127.0.0.1', port }, localAddress: '127.77.1.9', hostname: 'agent-claims-this', app: 'swarmboot-agent' });
  sender.send(SyslogSeverity.info, 'image download started');
  sender.send(SyslogSeverity.err, 'piece 17 failed its hash');
  await sender.close();

  const info = await waitForStored('node-9', 'image download started');
  assert.equal(info.nodeId, 'node-9');
  assert.equal(info.format, 'rfc5424');
  assert.equal(info.facility, 1);
  assert.equal(info.severity, 6);
  assert.equal(info.app, 'swarmboot-agent');
  assert.equal(info.hostname, 'agent-claims-this');
  assert.match(info.source, /^127\.77\.1\.9:\d+$/);
  assert.ok(info.timestamp !== undefined && Math.abs(Date.parse(info.timestamp) - Date.now()) < 60_000);
  assert.ok(Math.abs(Date.parse(info.received) - Date.now()) < 60_000);
  const err = await waitForStored('node-9', 'piece 17 failed its hash');
  assert.equal(err.severity, 3);

  const onNats = await waitForLive('piece 17 failed its hash');
  assert.equal(onNats.event.subject, 'node-9');
  assert.equal(onNats.event.type, 'swarmboot.log.lines');
  assert.equal(onNats.event.data.nodeId, 'node-9');
  assert.deepEqual(onNats.line, err, 'the live feed carries the stored line');
  assert.equal(await counter('swarmboot_logsink_lines_mapped_total', { result: 'lease' }), leaseBefore + 2);
});

test('raw RFC 3164 and RFC 5424 datagrams from the node address map by lease (the claimed HOSTNAME loses)', async () => {
  const s = await udpSocket('127.77.1.9');
  await sendRaw(s, '<11>Mar  5 10:40:02 in-target: E: Unable to locate package openssh-serverr\n');
  await sendRaw(s, '<30>1 2024-03-05T10:11:12.345678+00:00 rack1-n7 systemd 1 - - Started ssh.service.');

  const bsd = await waitForStored('node-9', 'E: Unable to locate package openssh-serverr');
  assert.deepEqual([bsd.format, bsd.facility, bsd.severity, bsd.app, bsd.hostname], ['rfc3164', 1, 3, 'in-target', undefined]);
  assert.match(bsd.timestamp ?? '', /^\d{4}-03-05T10:40:02$/);
  const ietf = await waitForStored('node-9', 'Started ssh.service.');
  assert.deepEqual([ietf.format, ietf.facility, ietf.severity, ietf.app, ietf.hostname, ietf.timestamp], ['rfc5424', 3, 6, 'systemd', 'rack1-n7', '2024-03-05T10:11:12.345678+00:00']);
  assert.equal((await stored('node-7')).filter((e) => e.line.message === 'Started ssh.service.').length, 0, 'not filed under the hostname');
});

test('from an address without a lease: mapped by HOSTNAME (FQDN or short), else kept under unknown', async () => {
  const before = { hostname: await counter('swarmboot_logsink_lines_mapped_total', { result: 'hostname' }), unknown: await counter('swarmboot_logsink_lines_mapped_total', { result: 'unknown' }) };
  const s = await udpSocket('127.0.0.1');
  await sendRaw(s, '<30>1 2024-03-05T10:11:12Z rack1-n7.lab.example systemd-networkd 311 - [meta@1 x="1"] enp1s0: Gained carrier');
  await sendRaw(s, '<28>Mar  5 10:11:13 rack1-n7 kernel: [   12.000001] r8169 0000:02:00.0 enp2s0: Link is Down');
  await sendRaw(s, '<13>Mar  5 10:11:14 stranger cron[99]: nobody knows me');

  const a = await waitForStored('node-7', 'enp1s0: Gained carrier');
  assert.deepEqual([a.nodeId, a.severity, a.facility, a.app, a.hostname], ['node-7', 6, 3, 'systemd-networkd', 'rack1-n7.lab.example']);
  assert.match(a.source, /^127\.0\.0\.1:\d+$/);
  const b = await waitForStored('node-7', '[   12.000001] r8169 0000:02:00.0 enp2s0: Link is Down');
  assert.deepEqual([b.format, b.severity, b.facility, b.app], ['rfc3164', 4, 3, 'kernel']);
  const c = await waitForStored('unknown', 'nobody knows me');
  assert.deepEqual([c.nodeId, c.hostname, c.app], ['unknown', 'stranger', 'cron']);
  assert.equal((await waitForLive('nobody knows me')).event.subject, 'unknown');

  assert.equal(await counter('swarmboot_logsink_lines_mapped_total', { result: 'hostname' }), before.hostname + 2);
  assert.equal(await counter('swarmboot_logsink_lines_mapped_total', { result: 'unknown' }), before.unknown + 1);
});

test('garbage datagrams are counted by reason and nothing is stored or published', async () => {
  const reasons = ['no_pri', 'bad_pri', 'empty', 'truncated', 'bad_structured_data'] as const;
  const before = Object.fromEntries(await Promise.all(reasons.map(async (r) => [r, await counter('swarmboot_logsink_dropped_total', { reason: r })] as const)));
  const storedBefore = await totalStoredLines();
  const liveBefore = live.length;

  const s = await udpSocket('127.77.1.9');
  await sendRaw(s, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await sendRaw(s, Buffer.from([0x00, 0xff, 0x13, 0x37, 0x80]));
  await sendRaw(s, '<999>overflowing PRI');
  await sendRaw(s, Buffer.alloc(0));
  await sendRaw(s, '<13>1 2024-03-05T10:11:12Z host app - -');
  await sendRaw(s, '<13>1 - host app - - [unterminated@1 a="b"');
  await sendRaw(s, '<13>1 - host app - - {not sd}');
  // Loopback keeps one socket's datagrams in order: once this sentinel is stored, every garbage
  // datagram before it has been handled.
  await sendRaw(s, '<13>sentinel: after the garbage');
  await waitForStored('node-9', 'after the garbage');

  assert.equal(await totalStoredLines(), storedBefore + 1, 'only the sentinel was stored');
  await h.nc.flush();
  await waitForLive('after the garbage');
  assert.deepEqual(
    live.slice(liveBefore).map((l) => l.line.message),
    ['after the garbage'],
    'only the sentinel was published',
  );
  const delta = async (r: (typeof reasons)[number]): Promise<number> => (await counter('swarmboot_logsink_dropped_total', { reason: r })) - (before[r] ?? 0);
  assert.equal(await delta('no_pri'), 2);
  assert.equal(await delta('bad_pri'), 1);
  assert.equal(await delta('empty'), 1);
  assert.equal(await delta('truncated'), 2);
  assert.equal(await delta('bad_structured_data'), 1);
});

test('a storm of lines costs one lease lookup, is trimmed to MAXLEN ~, and a moved lease is seen after the cache TTL', async () => {
  await redis.set(RedisKeys.leaseByIp('127.77.1.10'), '52:54:00:77:01:0a');
  await redis.set(RedisKeys.nodeByMac('52:54:00:77:01:0a'), 'node-10');
  const stats = async (): Promise<{ get: number; xadd: number }> => {
    const info = await redis.info('commandstats');
    const calls = (cmd: string): number => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    return { get: calls('get') + calls('mget'), xadd: calls('xadd') };
  };
  const before = await stats();
  const rfc3164Before = await counter('swarmboot_logsink_lines_total', { format: 'rfc3164' });
  const s = await udpSocket('127.77.1.10');
  const N = 300;
  for (let i = 0; i < N; i++) await sendRaw(s, `<14>Mar  5 10:11:12 storm[1]: line ${i}`);
  const after = await waitFor('all storm lines written', async () => {
    const st = await stats();
    return st.xadd - before.xadd >= N ? st : undefined;
  });
  assert.equal(after.xadd - before.xadd, N);
  assert.equal(after.get - before.get, 2, 'GET lease + GET node, once for the whole storm');
  assert.equal(await counter('swarmboot_logsink_lines_total', { format: 'rfc3164' }), rfc3164Before + N);
  const len = await redis.xlen(RedisKeys.nodeLog('node-10'));
  assert.ok(len >= 100 && len < N, `stream trimmed near MAXLEN 100 (XLEN ${len})`);
  const last = (await stored('node-10')).at(-1);
  assert.equal(last?.line.message, `line ${N - 1}`, 'order kept; the newest line is last');
  await waitForLive(`line ${N - 1}`);
  const fed = live.filter((l) => l.line.nodeId === 'node-10');
  assert.deepEqual(
    fed.map((l) => l.line.message),
    Array.from({ length: N }, (_, i) => `line ${i}`),
    'the live feed carried every line once, in order',
  );
  assert.ok(fed.every((l) => l.event.data.nodeId === 'node-10' && l.event.subject === 'node-10'));

  // The node behind 127.77.1.10 is replaced (new lease holder): after the TTL (2 s here) lines follow.
  await redis.set(RedisKeys.leaseByIp('127.77.1.10'), '52:54:00:77:01:0b');
  await redis.set(RedisKeys.nodeByMac('52:54:00:77:01:0b'), 'node-11');
  await new Promise((r) => setTimeout(r, 2100));
  await sendRaw(s, '<14>Mar  5 10:12:00 storm[1]: new tenant');
  const moved = await waitForStored('node-11', 'new tenant');
  assert.equal(moved.nodeId, 'node-11');
});

test('a storm of garbage yields a handful of warn lines; handleLine is the core any transport can feed', async () => {
  const records: { level: number; msg: string; reason?: string; suppressed?: number }[] = [];
  const captured = pino({ level: 'warn' }, { write: (chunk: string) => void records.push(JSON.parse(chunk) as (typeof records)[number]) });
  const quiet = buildLogsink({ log: captured, bus: h.bus, redis, registry: new Registry(), config: { ...LISTEN, SWARMBOOT_LOG_MAXLEN: 100 } });
  const from = { address: '127.77.1.9', port: 514 };
  for (let i = 0; i < 1000; i++) assert.equal(await quiet.handleSyslogDatagram(Buffer.from(`garbage ${i}`), from), undefined);
  const warns = records.filter((r) => r.msg === 'dropped malformed log input');
  assert.ok(warns.length >= 1 && warns.length <= 10, `${warns.length} warn lines for 1000 bad datagrams`);
  assert.equal(warns[0]?.reason, 'no_pri');

  // A line of another transport through the same core: same mapping, store and feed.
  const line = await quiet.handleLine({ format: 'netconsole', facility: 0, severity: 4, message: '[ 1.5] netconsole: network logging started' }, { address: '127.77.1.9', port: 6666 });
  assert.equal(line?.nodeId, 'node-9');
  const kept = await waitForStored('node-9', '[ 1.5] netconsole: network logging started');
  assert.deepEqual([kept.format, kept.severity, kept.source], ['netconsole', 4, '127.77.1.9:6666']);
  await waitForLive('[ 1.5] netconsole: network logging started');
  await quiet.close();
});

test('the lines of one event-loop turn go out as one live-feed message per node, in arrival order, each stored', async () => {
  const sink = buildLogsink({ log: createQuietLogger(), bus: h.bus, redis, registry: new Registry(), config: { ...LISTEN, SWARMBOOT_LOG_MAXLEN: 100 } });
  const node9 = { address: '127.77.1.9', port: 514 };
  const stranger = { address: '127.0.0.1', port: 514 };
  // warm the sender → node cache, so every line below is mapped in the same turn
  await sink.handleLine({ format: 'rfc3164', facility: 1, severity: 6, message: 'turn warm-up' }, node9);
  await sink.handleLine({ format: 'rfc3164', facility: 1, severity: 6, hostname: 'turn-nobody', message: 'turn warm-up' }, stranger);
  const sent = Array.from({ length: 30 }, (_, i) => ({ from: i % 3 === 0 ? stranger : node9, message: `turn line ${i}` }));
  const results = await Promise.all(sent.map(({ from, message }) => sink.handleLine({ format: 'rfc3164', facility: 1, severity: 6, hostname: 'turn-nobody', message }, from)));
  assert.deepEqual(
    results.map((l) => l?.nodeId),
    sent.map(({ from }) => (from === node9 ? 'node-9' : 'unknown')),
  );
  await waitForLive('turn line 29');
  await waitForLive('turn line 27');
  const fed = live.filter((l) => l.line.message.startsWith('turn line '));
  for (const nodeId of ['node-9', 'unknown']) {
    const mine = fed.filter((l) => l.line.nodeId === nodeId);
    assert.deepEqual(
      mine.map((l) => l.line.message),
      sent.filter((_, i) => (nodeId === 'unknown') === (i % 3 === 0)).map((l) => l.message),
    );
    assert.equal(new Set(mine.map((l) => l.event.id)).size, 1, `one message carried ${nodeId}'s lines of the turn`);
    const kept = (await stored(nodeId)).filter((e) => e.line.message.startsWith('turn line ')).map((e) => e.line);
    assert.deepEqual(kept, mine.map((l) => l.line), 'the feed carries the lines as stored');
  }
  await sink.close();
});

const hasLogger = spawnSync('logger', ['--version']).status === 0;

test('lines from the real util-linux logger (--rfc5424 and --rfc3164 over UDP)', { skip: hasLogger ? false : 'logger (util-linux) not installed' }, async () => {
  // logger sends from 127.0.0.1 (no lease): the line maps by the machine's hostname.
  const short = hostname().split('.')[0] ?? hostname();
  await redis.set(RedisKeys.nodeByHostname(short), 'node-logger');
  const tag = 'sb-logger-test';
  await pexec('logger', ['--rfc5424', '-d', '-n', '127.0.0.1', '-P', String(port), '-t', tag, '-p', 'local3.err', '--msgid', 'M42', 'logger says 5424']);
  await pexec('logger', ['--rfc3164', '-d', '-n', '127.0.0.1', '-P', String(port), '-t', tag, '-p', 'daemon.warning', 'logger says 3164']);

  const a = await waitForStored('node-logger', 'logger says 5424');
  assert.deepEqual([a.format, a.facility, a.severity, a.app], ['rfc5424', 19, 3, tag]);
  assert.ok(a.hostname?.startsWith(short));
  const b = await waitForStored('node-logger', 'logger says 3164');
  assert.deepEqual([b.format, b.facility, b.severity, b.app, b.hostname], ['rfc3164', 3, 4, tag, short]);
});

test('metrics: every drop reason and format is exposed, even at zero', async () => {
  const text = await registry.metrics();
  for (const needle of ['swarmboot_logsink_dropped_total{reason="oversized"} 0', 'swarmboot_logsink_lines_total{format="netconsole"} 0', 'swarmboot_logsink_lines_mapped_total{result="lease"}']) {
    assert.ok(text.includes(needle), needle);
  }
});
