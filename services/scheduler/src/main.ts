import { parseConfig, createLogger, connectNats, connectRedis, EventBus, Lifecycle, Registry, parseHostPort, startOpsServer } from '@swarmboot/kit';
import { SchedulerConfig } from './config.js';
import { buildSchedulerApp } from './app.js';

/** `swarmboot scheduler`: wiring only. Resolves once the API and the ops endpoint listen. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = parseConfig(SchedulerConfig, env);
  const listen = parseHostPort(config.SWARMBOOT_SCHEDULER_LISTEN, 'SWARMBOOT_SCHEDULER_LISTEN');
  const opsListen = parseHostPort(config.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN');
  const log = createLogger('scheduler', config.SWARMBOOT_LOG_LEVEL);
  const life = new Lifecycle(log);
  life.handleSignals();
  try {
    const nc = await connectNats(config.SWARMBOOT_NATS_URL, 'scheduler', log);
    life.add('nats', () => nc.drain());
    const redis = await connectRedis(config.SWARMBOOT_REDIS_URL, log);
    life.add('redis', async () => void (await redis.quit()));
    const registry = new Registry();
    const bus = new EventBus(nc, 'swarmboot/scheduler', log.child({ component: 'bus' }));
    const app = buildSchedulerApp({ log, bus, redis, config, registry });
    life.add('api', () => app.close());
    await app.listen({ host: listen.host, port: listen.port });
    log.info({ listen: config.SWARMBOOT_SCHEDULER_LISTEN, publicUrl: config.SWARMBOOT_PUBLIC_URL }, 'scheduler API listening');
    void nc.closed().then((err) => {
      if (err) life.fail(err);
    });
    const ops = await startOpsServer({
      ...opsListen,
      registry,
      log,
      checks: { redis: async () => (await redis.ping()) === 'PONG', nats: () => !nc.isClosed() },
    });
    life.add('ops', () => new Promise<void>((resolve) => ops.close(() => resolve())));
    ops.on('error', (err) => life.fail(err));
    app.server.on('error', (err) => life.fail(err));
  } catch (err) {
    await life.stop();
    throw err;
  }
}
