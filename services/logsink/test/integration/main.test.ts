import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { RedisKeys } from '@swarmboot/contracts';
import { connectRedis, createLogger } from '@swarmboot/kit';
import { freePort, spawnMain, startNats, startRedis, waitFor } from '@swarmboot/testkit';

const entry = fileURLToPath(new URL('../../src/index.js', import.meta.url));

test('main(): env-configured process listens for syslog, serves /healthz and /metrics, and exits 0 on SIGTERM', async () => {
  const [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  const redis = await connectRedis(redisServer.url, createLogger('test', 'silent'));
  const [syslogPort, opsPort] = [await freePort(), await freePort()];
  const proc = spawnMain(entry, {
    SWARMBOOT_NATS_URL: nats.url,
    SWARMBOOT_REDIS_URL: redisServer.url,
    SWARMBOOT_SYSLOG_LISTEN: `127.0.0.1:${syslogPort}`,
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
    s.close();
    const entries = await waitFor('line stored', async () => {
      const e = await redis.xrange(RedisKeys.nodeLog('unknown'), '-', '+');
      return e.length > 0 ? e : undefined;
    });
    assert.match(entries[0]?.[1][1] ?? '', /"app":"via-main"/);
    const metrics = await waitFor('drop counted', async () => {
      const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      return text.includes('swarmboot_logsink_dropped_total{reason="no_pri"} 1') ? text : undefined;
    });
    assert.ok(metrics.includes('swarmboot_logsink_lines_total{format="rfc3164"} 1'));
    assert.ok(metrics.includes('swarmboot_logsink_lines_mapped_total{result="unknown"} 1'));

    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, proc.stderr());
  } finally {
    proc.kill();
    await redis.quit();
    await Promise.all([nats.stop(), redisServer.stop()]);
  }
});
