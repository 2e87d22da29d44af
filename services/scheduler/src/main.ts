import { loadTokens, parseConfig, parseHostPort, runService } from '@swarmboot/kit';
import { SchedulerConfig, loadTrustedKeys, loadWebhooks } from './config.js';
import { buildSchedulerApp } from './app.js';

/** `swarmboot scheduler`: wiring only. Resolves once the API and the ops endpoint listen. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = parseConfig(SchedulerConfig, env);
  const listen = parseHostPort(config.SWARMBOOT_SCHEDULER_LISTEN, 'SWARMBOOT_SCHEDULER_LISTEN');
  const ops = parseHostPort(config.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN');
  const webhooks = await loadWebhooks(config.SWARMBOOT_SCHEDULER_WEBHOOKS);
  const tokens = await loadTokens(config.SWARMBOOT_TOKENS_FILE);
  const trustedKeys = await loadTrustedKeys(config.SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE);
  await runService({
    svc: 'scheduler',
    logLevel: config.SWARMBOOT_LOG_LEVEL,
    ops,
    nats: { url: config.SWARMBOOT_NATS_URL, need: 'required', replicas: config.SWARMBOOT_NATS_REPLICAS },
    redis: { url: config.SWARMBOOT_REDIS_URL },
    async start({ log, lifecycle, registry, bus, redis, onFatal }) {
      const app = buildSchedulerApp({ log, bus, redis, config, registry, webhooks, tokens, trustedKeys });
      lifecycle.add('api', () => app.close());
      await app.listen({ host: listen.host, port: listen.port });
      app.server.on('error', onFatal);
      log.info({ listen: config.SWARMBOOT_SCHEDULER_LISTEN, publicUrl: config.SWARMBOOT_PUBLIC_URL }, 'scheduler API listening');
      if (tokens !== undefined) log.info({ tokens: tokens.size }, 'API tokens loaded');
      if (trustedKeys.length > 0) log.info({ keyIds: trustedKeys.map((k) => k.keyId) }, 'default trusted image signing keys loaded');
      if (webhooks.length > 0) log.info({ webhooks: webhooks.map((w) => ({ name: w.name, origin: new URL(w.url).origin, types: w.types ?? 'all' })) }, 'webhooks configured');
    },
  });
}
