import type { Server } from 'node:http';
import { EventBus, Lifecycle, Registry, connectNats, connectRedis, createLogger, startOpsServer } from '@swarmboot/kit';
import { buildDhcpServer, type DhcpServerDeps } from './app.js';
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
    // standalone use (`swarmboot dhcp --config FILE` at a site without the rest of swarmboot):
    // SWARMBOOT_NATS_URL=none (or natsUrl: none) runs without NATS — no lease events, the
    // inventory cache then refreshes from Redis only
    const standalone = config.env.SWARMBOOT_NATS_URL === 'none';
    const nc = standalone ? undefined : await connectNats(config.env.SWARMBOOT_NATS_URL, 'swarmboot-dhcp', log);
    if (nc !== undefined) lifecycle.add('nats', () => nc.drain());

    const registry = new Registry();
    const bus: DhcpServerDeps['bus'] = nc !== undefined ? new EventBus(nc, '/swarmboot/dhcp', log) : { publish: async () => undefined };
    const server = buildDhcpServer({ log, bus, redis, config: config.settings, registry, onSocketError: (err) => lifecycle.fail(err) });
    await server.listen();
    lifecycle.add('dhcp socket', () => server.close());

    const ops: Server = await startOpsServer({
      ...config.ops,
      registry,
      log,
      checks: {
        redis: async () => (await redis.ping()) === 'PONG',
        ...(nc === undefined ? {} : { nats: () => !nc.isClosed() }),
      },
    });
    lifecycle.add('ops', () => new Promise<void>((resolve) => ops.close(() => resolve())));
    lifecycle.handleSignals();
  } catch (err) {
    await lifecycle.stop();
    throw err;
  }
}
