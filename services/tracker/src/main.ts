import { connectRedis, createLogger, ImageCatalog, Lifecycle, parseConfig, parseHostPort, Registry, startOpsServer } from '@swarmboot/kit';
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
  const log = createLogger('tracker', config.SWARMBOOT_LOG_LEVEL);
  const lifecycle = new Lifecycle(log);
  lifecycle.handleSignals();
  try {
    const redis = await connectRedis(config.SWARMBOOT_REDIS_URL, log);
    lifecycle.add('redis', async () => void (await redis.quit()));
    const catalog = new ImageCatalog(redis);
    const registry = new Registry();
    const tracker = buildTracker({
      log,
      lookup: (infoHash) => catalog.nameByInfoHash(infoHash),
      redis,
      registry,
      config: { intervalSeconds: config.SWARMBOOT_TRACKER_INTERVAL },
      onError: (err) => lifecycle.fail(err),
    });
    await tracker.listen(listen.host, listen.port, udp);
    lifecycle.add('tracker', () => tracker.close());
    const opsServer = await startOpsServer({
      host: ops.host,
      port: ops.port,
      registry,
      log,
      checks: { redis: async () => (await redis.ping()) === 'PONG' },
    });
    lifecycle.add('ops', () => new Promise<void>((resolve) => opsServer.close(() => resolve())));
  } catch (err) {
    await lifecycle.stop();
    throw err;
  }
}
