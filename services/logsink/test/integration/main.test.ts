import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { RedisKeys } from '@swarmboot/contracts';
import { connectRedis, createLogger } from '@swarmboot/kit';
import { freePort, spawnMain, startNats, startRedis, waitFor } from '@swarmboot/testkit';

const entry = fileURLToPath(new URL('../../src/index.js', import.meta.url));

test('main(): env-configured process listens for syslog (UDP, TCP) and netconsole, serves /healthz and /metrics, and exits 0 on SIGTERM', async () => {
  const [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  const redis = await connectRedis(redisServer.url, createLogger('test', 'silent'));
  const [syslogPort, tcpPort, netconsolePort, opsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const proc = spawnMain(entry, {
    SWARMBOOT_NATS_URL: nats.url,
    SWARMBOOT_REDIS_URL: redisServer.url,
    SWARMBOOT_SYSLOG_LISTEN: `127.0.0.1:${syslogPort}`,
    SWARMBOOT_SYSLOG_TCP_LISTEN: `127.0.0.1:${tcpPort}`,
    SWARMBOOT_NETCONSOLE_LISTEN: `127.0.0.1:${netconsolePort}`,
    SWARMBOOT_OPS_LISTEN: `127.0.0.1:${opsPort}`,
    SWARMBOOT_LOG_MAXLEN: '50',
    SWARMBOOT_LOG_LEVEL: 'warn',
  });
  try {
    const health = await proc.healthz(opsPort);
    assert.deepEqual(health.checks, { nats: true, redis: true });

    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve, reject) => s.send('<14>Mar  5 10:11:12 via-main: hello', syslogPort, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    await new Promise<void>((resolve, reject) => s.send('not syslog', syslogPort, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    await new Promise<void>((resolve, reject) => s.send('6,7,1200,-;via netconsole', netconsolePort, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    s.close();
    connect({ host: '127.0.0.1', port: tcpPort }).end('16 <14>via tcp main');
    const entries = await waitFor('lines stored', async () => {
      const e = await redis.xrange(RedisKeys.nodeLog('unknown'), '-', '+');
      return e.length === 3 ? e.map(([, fields]) => fields[1] ?? '') : undefined;
    });
    for (const want of [/"app":"via-main"/, /"message":"via netconsole","seq":7,"bootTimeUs":1200/, /"format":"rfc3164".*"message":"via tcp main"/]) {
      assert.ok(entries.some((e) => want.test(e)), `${String(want)} in ${entries.join('\n')}`);
    }
    const metrics = await waitFor('drop counted', async () => {
      const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      return text.includes('swarmboot_logsink_dropped_total{reason="no_pri"} 1') ? text : undefined;
    });
    assert.ok(metrics.includes('swarmboot_logsink_lines_total{format="rfc3164"} 2'), 'one over UDP, one over TCP');
    assert.ok(metrics.includes('swarmboot_logsink_lines_total{format="netconsole"} 1'));
    assert.ok(metrics.includes('swarmboot_logsink_lines_mapped_total{result="unknown"} 3'));

    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, proc.stderr());
  } finally {
    proc.kill();
    await redis.quit();
    await Promise.all([nats.stop(), redisServer.stop()]);
  }
});
