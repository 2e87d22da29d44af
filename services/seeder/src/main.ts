import { loadTokens, parseConfig, parseHostPort, runService } from '@swarmboot/kit';
import { buildSeederApp } from './app.js';
import { SeederConfig } from './config.js';

/**
 * `swarmboot seeder`: wiring only. Parses the environment, connects NATS and Redis, builds the
 * app (which re-seeds the catalogued images on disk and fetches from the swarm those it lacks),
 * listens, starts the ops endpoint.
 * Resolves once listening.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = parseConfig(SeederConfig, env);
  const listen = parseHostPort(config.SWARMBOOT_SEEDER_LISTEN, 'SWARMBOOT_SEEDER_LISTEN');
  const ops = parseHostPort(config.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN');
  const tokens = await loadTokens(config.SWARMBOOT_TOKENS_FILE);
  await runService({
    svc: 'seeder',
    logLevel: config.SWARMBOOT_LOG_LEVEL,
    ops,
    nats: { url: config.SWARMBOOT_NATS_URL, need: 'required', replicas: config.SWARMBOOT_NATS_REPLICAS },
    redis: { url: config.SWARMBOOT_REDIS_URL },
    async start({ log, lifecycle, registry, bus, redis, onFatal }) {
      const app = buildSeederApp({
        log,
        bus,
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
        onFatal,
        tokens,
      });
      lifecycle.add('http', () => app.close());
      await app.listen({ host: listen.host, port: listen.port });
    },
  });
}
