import { runService } from '@swarmboot/kit';
import { buildDhcpServer } from './app.js';
import { loadDhcpConfig } from './config.js';

/**
 * Starts the DHCP service: parses the environment (throws CONFIG_INVALID naming the variable),
 * then runs through the kit's skeleton (NATS, Redis, ops endpoint, signals, one fatal path) and
 * binds the DHCP socket. Resolves once listening; the process stays up on its sockets.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadDhcpConfig(env);
  await runService({
    svc: 'dhcp',
    logLevel: config.env.SWARMBOOT_LOG_LEVEL,
    ops: config.ops,
    // standalone use (`swarmboot dhcp --config FILE` at a site without the rest of swarmboot):
    // SWARMBOOT_NATS_URL=none (or natsUrl: none) runs without NATS — no lease events, the
    // inventory cache then refreshes from Redis only
    nats: { url: config.env.SWARMBOOT_NATS_URL, need: 'optional', replicas: config.env.SWARMBOOT_NATS_REPLICAS },
    redis: { url: config.env.SWARMBOOT_REDIS_URL },
    async start({ log, lifecycle, registry, bus, redis, onFatal }) {
      const server = buildDhcpServer({ log, bus, redis, config: config.settings, registry, onFatal });
      await server.listen();
      lifecycle.add('dhcp socket', () => server.close());
    },
  });
}
