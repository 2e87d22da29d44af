import { ImageCatalog, parseAllowlist, parseConfig, parseHostPort, runService } from '@swarmboot/kit';
import { buildTracker } from './app.js';
import { TrackerConfig } from './config.js';

/**
 * `swarmboot tracker`: wiring only. Parses the environment, connects Redis (the image catalog
 * decides which infohashes are served), listens, starts the ops endpoint. Resolves once listening.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = parseConfig(TrackerConfig, env);
  const listen = parseHostPort(config.SWARMBOOT_TRACKER_LISTEN, 'SWARMBOOT_TRACKER_LISTEN');
  const udpRaw = config.SWARMBOOT_TRACKER_UDP_LISTEN.trim();
  const udp = udpRaw === 'off' ? undefined : udpRaw === '' ? listen : parseHostPort(udpRaw, 'SWARMBOOT_TRACKER_UDP_LISTEN');
  const ops = parseHostPort(config.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN');
  const allowed = parseAllowlist(config.SWARMBOOT_TRACKER_ALLOWED_SUBNETS, 'SWARMBOOT_TRACKER_ALLOWED_SUBNETS');
  await runService({
    svc: 'tracker',
    logLevel: config.SWARMBOOT_LOG_LEVEL,
    ops,
    redis: { url: config.SWARMBOOT_REDIS_URL },
    async start({ log, lifecycle, registry, redis, onFatal }) {
      const catalog = new ImageCatalog(redis);
      const tracker = buildTracker({
        log,
        lookup: (infoHash) => catalog.nameByInfoHash(infoHash),
        redis,
        registry,
        config: { intervalSeconds: config.SWARMBOOT_TRACKER_INTERVAL, allowed },
        onFatal,
      });
      await tracker.listen(listen.host, listen.port, udp);
      lifecycle.add('tracker', () => tracker.close());
    },
  });
}
