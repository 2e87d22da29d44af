import type { Server } from 'node:http';
import { EventBus, Lifecycle, Registry, connectNats, connectRedis, createLogger, startOpsServer } from '@swarmboot/kit';
import { buildDhcpServer } from './app.js';
import { loadDhcpConfig } from './config.js';

/**
 * Starts the DHCP service: parses the environment (throws CONFIG_INVALID naming the variable),
 * connects NATS and Redis, binds the DHCP socket and the ops endpoint, and hands shutdown to one
 * Lifecycle (SIGTERM/SIGINT). Resolves once listening; the process stays up on its sockets.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadDhcpConfig(env);
  const log = createLogger('dhcp', config.env.SWARMBOOT_LOG_LEVEL);
  const lifecycle = new Lifecycle(log);
  try {
    // closers run in reverse: ops, DHCP socket, NATS drain, Redis quit
    const redis = await connectRedis(config.env.SWARMBOOT_REDIS_URL, log);
    lifecycle.add('redis', async () => void (await redis.quit()));
    const nc = await connectNats(config.env.SWARMBOOT_NATS_URL, 'swarmboot-dhcp', log);
    lifecycle.add('nats', () => nc.drain());

    const registry = new Registry();
    const bus = new EventBus(nc, '/swarmboot/dhcp', log);
    const server = buildDhcpServer({ log, bus, redis, config: config.settings, registry, onSocketError: (err) => lifecycle.fail(err) });
    await server.listen();
    lifecycle.add('dhcp socket', () => server.close());

    const ops: Server = await startOpsServer({
      ...config.ops,
      registry,
      log,
      checks: {
        redis: async () => (await redis.ping()) === 'PONG',
        nats: () => !nc.isClosed(),
      },
    });
    lifecycle.add('ops', () => new Promise<void>((resolve) => ops.close(() => resolve())));
    lifecycle.handleSignals();
  } catch (err) {
    await lifecycle.stop();
    throw err;
  }
}
