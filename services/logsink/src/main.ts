import type { Server } from 'node:http';
import { connectNats, connectRedis, createLogger, EventBus, Lifecycle, parseHostPort, Registry, startOpsServer } from '@swarmboot/kit';
import { loadConfig } from './config.js';
import { buildLogsink } from './app.js';

/**
 * Starts the log sink: config from `env`, NATS and Redis, the syslog UDP socket
 * (SWARMBOOT_SYSLOG_LISTEN) and the ops endpoint (SWARMBOOT_OPS_LISTEN). Resolves once listening;
 * SIGTERM/SIGINT shut it down through one Lifecycle. Throws CONFIG_INVALID, NATS_UNAVAILABLE,
 * REDIS_UNAVAILABLE, or the bind error.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(env);
  const log = createLogger('logsink', config.SWARMBOOT_LOG_LEVEL);
  const lifecycle = new Lifecycle(log);
  try {
    const nc = await connectNats(config.SWARMBOOT_NATS_URL, 'swarmboot-logsink', log);
    lifecycle.add('nats', () => nc.drain());
    const redis = await connectRedis(config.SWARMBOOT_REDIS_URL, log);
    lifecycle.add('redis', async () => {
      await redis.quit();
    });
    const registry = new Registry();
    const bus = new EventBus(nc, 'swarmboot/logsink', log);
    const sink = buildLogsink({ log, bus, redis, registry, config });
    await sink.listen();
    lifecycle.add('syslog', () => sink.close());
    const ops = parseHostPort(config.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN');
    const server: Server = await startOpsServer({
      ...ops,
      registry,
      log,
      checks: {
        nats: () => !nc.isClosed(),
        redis: async () => (await redis.ping()) === 'PONG',
      },
    });
    lifecycle.add('ops', () => new Promise<void>((resolve) => server.close(() => resolve())));
    lifecycle.handleSignals();
  } catch (err) {
    await lifecycle.stop();
    throw err;
  }
}
