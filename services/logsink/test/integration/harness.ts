import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import type { Redis } from 'ioredis';
import { RedisKeys, type LogLine } from '@swarmboot/contracts';
import { connectNats, connectRedis, createLogger, EventBus, Registry } from '@swarmboot/kit';
import { startNats, startRedis, waitFor } from '@swarmboot/testkit';
import { buildLogsink, type Logsink, type LogsinkAddresses, type LogsinkDeps } from '../../src/index.js';

/** every listener on a free loopback port */
export const LISTEN = {
  SWARMBOOT_SYSLOG_LISTEN: '127.0.0.1:0',
  SWARMBOOT_SYSLOG_TCP_LISTEN: '127.0.0.1:0',
  SWARMBOOT_SYSLOG_TCP_MAX_CONNECTIONS: 100,
  SWARMBOOT_SYSLOG_TCP_IDLE_SECONDS: 60,
  SWARMBOOT_NETCONSOLE_LISTEN: '127.0.0.1:0',
} as const;

/** A log sink on real nats-server and redis-server, listening on loopback. */
export interface SinkHarness {
  redis: Redis;
  nc: Awaited<ReturnType<typeof connectNats>>;
  bus: EventBus;
  registry: Registry;
  sink: Logsink;
  addresses: LogsinkAddresses;
  /** the node's stream, oldest first */
  stored(nodeId: string): Promise<{ id: string; line: LogLine }[]>;
  /** waits (10 s) for a line with this message in the node's stream */
  waitForStored(nodeId: string, message: string): Promise<LogLine>;
  /** the sum of a metric's values whose labels include `labels` */
  counter(name: string, labels?: Record<string, string>): Promise<number>;
  /** a UDP socket bound to `address` (a node's), closed by `close` */
  udpSocket(address: string): Promise<Socket>;
  /** sends one datagram to 127.0.0.1:`port` */
  sendUdp(s: Socket, port: number, datagram: string | Buffer): Promise<void>;
  /** closes the UDP sockets, the sink, NATS, Redis and both servers */
  close(): Promise<void>;
}

/** Starts nats-server and redis-server (testkit), then the sink with `overrides` of its deps (config: LISTEN and MAXLEN 100 unless given). */
export async function startSink(overrides: Partial<Omit<LogsinkDeps, 'redis' | 'bus' | 'registry'>> = {}): Promise<SinkHarness> {
  const log = createLogger('test', 'silent');
  const [natsServer, redisServer] = await Promise.all([startNats(), startRedis()]);
  const nc = await connectNats(natsServer.url, 'logsink-test', log);
  const redis = await connectRedis(redisServer.url, log);
  const bus = new EventBus(nc, 'test/logsink', log);
  const registry = new Registry();
  const sink = buildLogsink({ log, config: { ...LISTEN, SWARMBOOT_LOG_MAXLEN: 100 }, ...overrides, bus, redis, registry });
  const addresses = await sink.listen();

  const sockets: Socket[] = [];

  async function stored(nodeId: string): Promise<{ id: string; line: LogLine }[]> {
    const entries = await redis.xrange(RedisKeys.nodeLog(nodeId), '-', '+');
    return entries.map(([id, fields]) => {
      assert.equal(fields[0], 'json');
      return { id, line: JSON.parse(fields[1] ?? 'null') as LogLine };
    });
  }
  return {
    redis,
    nc,
    bus,
    registry,
    sink,
    addresses,
    stored,
    waitForStored: (nodeId, message) => waitFor(`"${message}" in ${RedisKeys.nodeLog(nodeId)}`, async () => (await stored(nodeId)).find((e) => e.line.message === message)?.line, 10_000),
    async counter(name, labels = {}) {
      const metric = registry.getSingleMetric(name);
      assert.ok(metric, `metric ${name} registered`);
      const { values } = await metric.get();
      return values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((sum, v) => sum + v.value, 0);
    },
    async udpSocket(address) {
      const s = createSocket('udp4');
      sockets.push(s);
      await new Promise<void>((resolve) => s.bind(0, address, resolve));
      return s;
    },
    sendUdp: (s, port, datagram) => new Promise((resolve, reject) => s.send(datagram, port, '127.0.0.1', (err) => (err ? reject(err) : resolve()))),
    async close() {
      for (const s of sockets) s.close();
      await sink.close();
      await nc.drain();
      await redis.quit();
      await Promise.all([natsServer.stop(), redisServer.stop()]);
    },
  };
}
