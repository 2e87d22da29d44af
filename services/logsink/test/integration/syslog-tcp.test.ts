import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { RedisKeys } from '@swarmboot/contracts';
import { waitFor } from '@swarmboot/testkit';
import { LISTEN, startSink, type SinkHarness } from './harness.js';

const pexec = promisify(execFile);
const hasLogger = spawnSync('logger', ['--version']).status === 0;

let h: SinkHarness;
let port: number;

before(async () => {
  // A small connection limit and idle timeout, so the tests can reach both.
  h = await startSink({ config: { ...LISTEN, SWARMBOOT_SYSLOG_TCP_MAX_CONNECTIONS: 3, SWARMBOOT_SYSLOG_TCP_IDLE_SECONDS: 1, SWARMBOOT_LOG_MAXLEN: 1000 } });
  port = h.addresses.syslogTcp.port;
  // logger and the raw clients connect from 127.0.0.1: its "lease" maps them to node-tcp.
  await h.redis.set(RedisKeys.leaseByIp('127.0.0.1'), '52:54:00:77:02:01');
  await h.redis.set(RedisKeys.nodeByMac('52:54:00:77:02:01'), 'node-tcp');
});

after(() => h.close());

async function open(): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  return s;
}

function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
}

test('util-linux logger --tcp --octet-count --rfc5424 (RFC 6587 §3.4.1): every line of its stdin stored', { skip: hasLogger ? false : 'logger (util-linux) not installed' }, async () => {
  const child = execFile('logger', ['--tcp', '--octet-count', '--rfc5424', '-n', '127.0.0.1', '-P', String(port), '-t', 'sb-oc', '-p', 'daemon.err']);
  child.stdin?.end('octet one\nline with\ttab and ünïcode\noctet three\n');
  await new Promise((resolve) => child.once('exit', resolve));
  for (const m of ['octet one', 'line with\ttab and ünïcode', 'octet three']) {
    const line = await h.waitForStored('node-tcp', m);
    assert.deepEqual([line.format, line.facility, line.severity, line.app], ['rfc5424', 3, 3, 'sb-oc']);
    assert.match(line.source, /^127\.0\.0\.1:\d+$/);
  }
});

test('util-linux logger --tcp without --octet-count (non-transparent LF framing, §3.4.2), RFC 3164', { skip: hasLogger ? false : 'logger (util-linux) not installed' }, async () => {
  await pexec('logger', ['--tcp', '--rfc3164', '-n', '127.0.0.1', '-P', String(port), '-t', 'sb-lf', '-p', 'local0.notice', 'lf framed 3164']);
  const line = await h.waitForStored('node-tcp', 'lf framed 3164');
  assert.deepEqual([line.format, line.facility, line.severity, line.app], ['rfc3164', 16, 5, 'sb-lf']);
});

test('a bad frame is dropped and counted, the connection goes on; a framing error closes that connection only', async () => {
  const noPri = await h.counter('swarmboot_logsink_dropped_total', { reason: 'no_pri' });
  const badFraming = await h.counter('swarmboot_logsink_dropped_total', { reason: 'bad_framing' });
  const good = await open();
  const bad = await open();
  good.write('<14>before garbage\nnot syslog at all\n<14>after garbage\n');
  await h.waitForStored('node-tcp', 'after garbage');
  assert.equal(await h.counter('swarmboot_logsink_dropped_total', { reason: 'no_pri' }), noPri + 1);

  bad.write('18 <14>first frame ok12x');
  await closed(bad);
  await h.waitForStored('node-tcp', 'first frame ok');
  assert.equal(await h.counter('swarmboot_logsink_dropped_total', { reason: 'bad_framing' }), badFraming + 1);

  good.write('<14>still open\n');
  await h.waitForStored('node-tcp', 'still open');
  assert.equal(good.destroyed, false);
  good.end();
});

test('oversized frames close the connection (octet count and an endless line); a frame cut by the close is counted', async () => {
  const oversized = await h.counter('swarmboot_logsink_dropped_total', { reason: 'oversized' });
  const big = await open();
  big.write('70000 <14>');
  await closed(big);
  const endless = await open();
  endless.on('error', () => undefined); // the sink resets it while we still write
  endless.write('<14>' + 'x'.repeat(70_000));
  await closed(endless);
  assert.equal(await h.counter('swarmboot_logsink_dropped_total', { reason: 'oversized' }), oversized + 2);

  const truncated = await h.counter('swarmboot_logsink_dropped_total', { reason: 'truncated' });
  const cut = await open();
  cut.end('30 <14>only part of it');
  await waitFor('cut frame counted', async () => (await h.counter('swarmboot_logsink_dropped_total', { reason: 'truncated' })) === truncated + 1);
});

test('connections over the limit are refused and counted; a silent connection is closed', async () => {
  const refused = await h.counter('swarmboot_logsink_dropped_total', { reason: 'connection_refused' });
  const socks = await Promise.all([open(), open(), open(), open()]);
  await waitFor('one connection refused', async () => (await h.counter('swarmboot_logsink_dropped_total', { reason: 'connection_refused' })) === refused + 1);
  // The idle timeout then closes the rest, which said nothing.
  const t0 = Date.now();
  await Promise.all(socks.map(closed));
  assert.ok(Date.now() - t0 < 5000, 'idle connections closed by the sink');
  const fresh = await open();
  fresh.end('<14>after the idle ones\n');
  await h.waitForStored('node-tcp', 'after the idle ones');
});
