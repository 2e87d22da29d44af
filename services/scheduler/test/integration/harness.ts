import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Registry, createLogger, loadTokens, parseConfig, type DestinationStream } from '@swarmboot/kit';
import { startBackends, type Backends } from '@swarmboot/testkit';
import { buildSchedulerApp } from '../../src/app.js';
import { SchedulerConfig, loadTrustedKeys, loadWebhooks } from '../../src/config.js';

export { TEST_IMAGE } from '@swarmboot/testkit';

/** A scheduler under test: its app, listening, and the real NATS and Redis it runs on. */
export interface StartedScheduler {
  app: FastifyInstance;
  /** the app's URL, http://127.0.0.1:<port> */
  base: string;
  bus: Backends['bus'];
  redis: Backends['redis'];
  /** the metrics registry of the first app (as main hands it the ops endpoint's) */
  registry: Registry;
  /** another app on the same NATS, Redis and config (it shares the durable consumer), ready, not listening */
  startReplica: () => Promise<FastifyInstance>;
  /** `app.inject` (or `via`'s) with a JSON body; the reply's status and parsed JSON body */
  json: <T>(method: 'GET' | 'POST', url: string, body?: unknown, via?: FastifyInstance) => Promise<{ status: number; body: T }>;
}

/**
 * Starts fresh NATS and Redis (testkit's startBackends) and a scheduler app on them, configured
 * from `env` (SWARMBOOT_* variables, parsed as main parses its environment, webhooks, tokens and
 * trusted keys included), listening on a free port of 127.0.0.1. Log lines at `logLevel` (default warn) go to
 * `logTo` (default stdout). After `t`, its apps are closed before the backends stop.
 */
export async function startScheduler(t: TestContext, env: Record<string, string>, opts: { logTo?: DestinationStream; logLevel?: 'trace' | 'warn' } = {}): Promise<StartedScheduler> {
  const config = parseConfig(SchedulerConfig, env);
  const webhooks = await loadWebhooks(config.SWARMBOOT_SCHEDULER_WEBHOOKS);
  const tokens = await loadTokens(config.SWARMBOOT_TOKENS_FILE);
  const trustedKeys = await loadTrustedKeys(config.SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE);
  const log = createLogger('scheduler-test', opts.logLevel ?? 'warn', [], opts.logTo);
  const backends = await startBackends('scheduler-test', log);
  const { bus, redis } = backends;
  const registry = new Registry();
  const app = buildSchedulerApp({ log, bus, redis, config, webhooks, registry, tokens, trustedKeys });
  const apps = [app];
  t.after(async () => {
    for (const a of apps) await a.close();
    await backends.stop();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    bus,
    redis,
    registry,
    startReplica: async () => {
      const replica = buildSchedulerApp({ log, bus, redis, config, webhooks, tokens, trustedKeys });
      apps.push(replica);
      await replica.ready();
      return replica;
    },
    json: async <T>(method: 'GET' | 'POST', url: string, body?: unknown, via = app) => {
      const res = await via.inject({ method, url, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: res.statusCode, body: res.json<T>() };
    },
  };
}
