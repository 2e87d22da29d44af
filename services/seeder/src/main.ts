import { connectNats, connectRedis, createLogger, EventBus, Lifecycle, parseConfig, parseHostPort, Registry, startOpsServer } from '@swarmboot/kit';
import { buildSeederApp } from './app.js';
import { SeederConfig } from './config.js';

/**
 * `swarmboot seeder`: wiring only. Parses the environment, connects NATS and Redis, builds the
 * app (which re-seeds the catalogued images on disk), listens, starts the ops endpoint.
 * Resolves once listening.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = parseConfig(SeederConfig, env);
  const listen = parseHostPort(config.SWARMBOOT_SEEDER_LISTEN, 'SWARMBOOT_SEEDER_LISTEN');
  const ops = parseHostPort(config.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN');
  const log = createLogger('seeder', config.SWARMBOOT_LOG_LEVEL);
  const lifecycle = new Lifecycle(log);
  lifecycle.handleSignals();
  try {
    const redis = await connectRedis(config.SWARMBOOT_REDIS_URL, log);
    lifecycle.add('redis', async () => void (await redis.quit()));
    const nc = await connectNats(config.SWARMBOOT_NATS_URL, 'swarmboot-seeder', log);
    lifecycle.add('nats', () => nc.drain());
    const registry = new Registry();
    const app = buildSeederApp({
      log,
      bus: new EventBus(nc, 'swarmboot/seeder', log),
      redis,
      registry,
      config: {
        dataDir: config.SWARMBOOT_SEEDER_DATA,
        publicUrl: config.SWARMBOOT_SEEDER_PUBLIC_URL,
        announceUrl: config.SWARMBOOT_TRACKER_ANNOUNCE_URL,
        uploadLimit: config.SWARMBOOT_SEEDER_UPLOAD_LIMIT,
        superSeedPieces: config.SWARMBOOT_SEEDER_SUPER_SEED,
        torrentPort: config.SWARMBOOT_SEEDER_TORRENT_PORT,
      },
      onError: (err) => lifecycle.fail(err),
    });
    lifecycle.add('http', () => app.close());
    await app.listen({ host: listen.host, port: listen.port });
    const opsServer = await startOpsServer({
      host: ops.host,
      port: ops.port,
      registry,
      log,
      checks: { redis: async () => (await redis.ping()) === 'PONG', nats: () => !nc.isClosed() },
    });
    lifecycle.add('ops', () => new Promise<void>((resolve) => opsServer.close(() => resolve())));
  } catch (err) {
    await lifecycle.stop();
    throw err;
  }
}
