import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Redis } from 'ioredis';
import { DefaultPorts } from '@swarmboot/contracts';
import { BEARER_SECURITY_SCHEMES, ImageCatalog, Registry, bearerAuth, httpErrors, idempotency, type EventBus, type Logger, type TokenSet, type TrustedKey } from '@swarmboot/kit';
import { parseStateTimeouts, type SchedulerConfig, type WebhookTarget } from './config.js';
import { SchedulerStore } from './adapters/store.js';
import { NodeVersions } from './adapters/node-versions.js';
import { NodeUpdates } from './node-updates.js';
import { startEventConsumers } from './adapters/event-consumers.js';
import { TimelineStore } from './adapters/timeline-store.js';
import { startTimelineRecorder } from './adapters/timeline-recorder.js';
import { WebhookDispatcher, startWebhookConsumers, type WebhookDeliverySettings } from './adapters/webhooks.js';
import { createScheduler, type AdmissionSettings } from './scheduler.js';
import type { BootSettings } from './boot.js';
import { nodeRoutes } from './routes/nodes.js';
import { deploymentRoutes } from './routes/deployments.js';
import { bootRoutes, bootenvFilesPresent } from './routes/boot.js';
import { streamRoutes } from './routes/stream.js';
import { uiRoutes } from './routes/ui.js';

export interface SchedulerAppDeps {
  log: Logger;
  bus: EventBus;
  redis: Redis;
  config: SchedulerConfig;
  /** metrics go here (main passes the ops endpoint's registry); a private one by default */
  registry?: Registry;
  /** consume lease, TFTP and failure events, record the nodes' timelines from the events, and run the admission tick while the app is up (default true) */
  consumeEvents?: boolean;
  /** where the scheduler's events go as signed CloudEvents while the app is up (`loadWebhooks`); default none */
  webhooks?: readonly WebhookTarget[];
  /** the API's bearer tokens (kit's `loadTokens`); undefined: no authentication, logged once as a warning */
  tokens?: TokenSet | undefined;
  /** the keys a deployment that names none trusts (`loadTrustedKeys`, SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE); default none */
  trustedKeys?: readonly TrustedKey[];
}

/** The webhook delivery part of the config. */
export function webhookSettings(c: SchedulerConfig): WebhookDeliverySettings {
  return {
    attempts: c.SWARMBOOT_SCHEDULER_WEBHOOK_ATTEMPTS,
    backoff: { baseMs: c.SWARMBOOT_SCHEDULER_WEBHOOK_BACKOFF_MS, capMs: c.SWARMBOOT_SCHEDULER_WEBHOOK_BACKOFF_CAP_MS },
    timeoutMs: c.SWARMBOOT_SCHEDULER_WEBHOOK_TIMEOUT_MS,
    concurrency: c.SWARMBOOT_SCHEDULER_WEBHOOK_CONCURRENCY,
    queueLength: c.SWARMBOOT_SCHEDULER_WEBHOOK_QUEUE,
  };
}

/** The admission part of the config, resolved. Throws CONFIG_INVALID (SWARMBOOT_SCHEDULER_STATE_TIMEOUTS). */
export function admissionSettings(c: SchedulerConfig): AdmissionSettings {
  return {
    canary: c.SWARMBOOT_SCHEDULER_CANARY_SIZE,
    failureBudget: c.SWARMBOOT_SCHEDULER_FAILURE_BUDGET,
    maxInFlight: c.SWARMBOOT_SCHEDULER_MAX_IN_FLIGHT,
    ratePerSecond: c.SWARMBOOT_SCHEDULER_RATE_PER_SECOND,
    tickMs: c.SWARMBOOT_SCHEDULER_TICK_MS,
    timeoutsMs: parseStateTimeouts(c.SWARMBOOT_SCHEDULER_STATE_TIMEOUTS),
    timeoutRetries: c.SWARMBOOT_SCHEDULER_TIMEOUT_RETRIES,
  };
}

/** The boot part of the config, resolved: defaults that depend on other variables are filled in here. */
export function bootSettings(c: SchedulerConfig): BootSettings {
  const publicUrl = c.SWARMBOOT_PUBLIC_URL.replace(/\/+$/, '');
  const dir = c.SWARMBOOT_BOOTENV_DIR;
  const syslogHost = c.SWARMBOOT_SYSLOG_TARGET.replace(/:\d+$/, '');
  const netconsole =
    c.SWARMBOOT_NETCONSOLE_TARGET === 'off'
      ? undefined
      : c.SWARMBOOT_NETCONSOLE_TARGET || (/^\d+\.\d+\.\d+\.\d+$/.test(syslogHost) ? `${syslogHost}:${DefaultPorts.netconsole}` : undefined);
  return {
    publicUrl,
    tftpUrl: c.SWARMBOOT_TFTP_URL,
    kernel: c.SWARMBOOT_BOOT_KERNEL,
    initrd: c.SWARMBOOT_BOOT_INITRD,
    cmdline: c.SWARMBOOT_BOOT_CMDLINE,
    bootenv: {
      url: c.SWARMBOOT_BOOTENV_URL || `${publicUrl}/v1/bootenv`,
      cmdline: c.SWARMBOOT_BOOTENV_CMDLINE,
      // served by someone else: trust the operator; served here: the files must be there
      available: async () => (c.SWARMBOOT_BOOTENV_URL !== '' && dir === '') || (dir !== '' && (await bootenvFilesPresent(dir))),
    },
    netconsole,
    installAttempts: c.SWARMBOOT_INSTALL_ATTEMPTS,
    lingerSeconds: c.SWARMBOOT_LINGER_SECONDS,
  };
}

/**
 * The scheduler's HTTP API (`/v1`, OpenAPI 3.1 at `GET /v1/openapi.json`; server-sent events of
 * log lines and node events; the dashboard at `/ui`), built, not started:
 * `main.ts` listens, tests `inject()`. While the app is ready it also consumes the lease, TFTP and
 * failure-classification events (durable consumer `scheduler`), ticks the admission of active
 * deployments (`AdmissionControl`), records each node's events in its timeline (durable consumer
 * `scheduler-timeline`, and the progress events) and, with webhooks configured, delivers the node-state and
 * job events to them (durable consumer `scheduler-webhooks`); `close()` stops both. It does not
 * close `redis` or the bus.
 */
export function buildSchedulerApp(deps: SchedulerAppDeps): FastifyInstance {
  const log = deps.log.child({ component: 'api' });
  const catalog = new ImageCatalog(deps.redis);
  const registry = deps.registry ?? new Registry();
  const store = new SchedulerStore(deps.redis);
  const timeline = new TimelineStore(deps.redis);
  const scheduler = createScheduler({
    store,
    timeline,
    catalog,
    bus: deps.bus,
    log: deps.log.child({ component: 'scheduler' }),
    registry,
    boot: bootSettings(deps.config),
    syslogTarget: deps.config.SWARMBOOT_SYSLOG_TARGET,
    admission: admissionSettings(deps.config),
    trustedKeys: deps.trustedKeys ?? [],
  });

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // one debug line per request (onResponse below) instead of two info lines: agents poll
    logController: new LogController({ disableRequestLogging: true }),
    // reject unknown properties instead of silently dropping them (fastify's default removes them)
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  });

  // swagger first: its onRoute hook must see every route, which the plugin below registers after it
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'swarmboot scheduler', version: '0.1.0', description: 'Inventory, deployments and node states of swarmboot; iPXE scripts and the agent API.' },
      servers: [{ url: deps.config.SWARMBOOT_PUBLIC_URL }],
      tags: [{ name: 'nodes' }, { name: 'images' }, { name: 'deployments' }, { name: 'boot' }, { name: 'agent' }],
      components: { securitySchemes: BEARER_SECURITY_SCHEMES },
    },
  });
  // Swagger UI at /docs (its assets from the npm package, no CDN); public, as the document it shows
  void app.register(async (docs) => {
    docs.addHook('onRoute', (route) => {
      route.config = { ...route.config, scope: 'public' };
    });
    await docs.register(swaggerUi, { routePrefix: '/docs' });
  });

  void app.register(httpErrors);
  // before idempotency: a request without the right token claims no Idempotency-Key
  void app.register(bearerAuth, { tokens: deps.tokens });
  // routes opt in with config.idempotent
  void app.register(idempotency, { redis: deps.redis, ttlSeconds: deps.config.SWARMBOOT_SCHEDULER_IDEMPOTENCY_TTL_SECONDS });

  app.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  void app.register(async (api) => {
    api.get('/v1/openapi.json', { config: { scope: 'public' }, schema: { hide: true } }, async () => app.swagger());
    nodeRoutes(api, scheduler, new NodeUpdates({ versions: new NodeVersions(deps.redis), log: deps.log.child({ component: 'nodes' }) }));
    deploymentRoutes(api, scheduler.deployments, catalog, deps.bus);
    bootRoutes(api, scheduler.boot, deps.config.SWARMBOOT_BOOTENV_DIR || undefined);
    streamRoutes(api, { bus: deps.bus, inventory: scheduler.inventory, registry });
  });
  // the dashboard (/ui): static files over the API above
  void app.register(uiRoutes);

  // the outbox relay publishes facts left behind (a failed WAIT or publish), consuming or not
  let stopRelay: (() => Promise<void>) | undefined;
  app.addHook('onReady', async () => {
    stopRelay = scheduler.outbox.start();
  });
  app.addHook('onClose', async () => {
    await stopRelay?.();
  });
  if (deps.consumeEvents !== false) {
    let stop: (() => Promise<void>) | undefined;
    let stopTick: (() => Promise<void>) | undefined;
    app.addHook('onReady', async () => {
      const stopEvents = await startEventConsumers(deps.bus, scheduler.lifecycle, deps.log.child({ component: 'events' }));
      const stopRecorder = await startTimelineRecorder({
        bus: deps.bus,
        store,
        timeline,
        log: deps.log.child({ component: 'timeline' }),
        registry,
        progressEveryMs: deps.config.SWARMBOOT_SCHEDULER_TIMELINE_PROGRESS_SECONDS * 1000,
      });
      stop = async () => {
        await Promise.all([stopEvents(), stopRecorder()]);
      };
      stopTick = scheduler.admission.start();
    });
    app.addHook('onClose', async () => {
      await stopTick?.();
      await stop?.();
    });
  }
  const webhooks = deps.webhooks ?? [];
  if (webhooks.length > 0) {
    const dispatcher = new WebhookDispatcher({ targets: webhooks, settings: webhookSettings(deps.config), log: deps.log.child({ component: 'webhooks' }), registry });
    let stop: (() => Promise<void>) | undefined;
    app.addHook('onReady', async () => {
      stop = await startWebhookConsumers(deps.bus, dispatcher, deps.log.child({ component: 'webhooks' }));
    });
    app.addHook('onClose', async () => {
      await stop?.();
      await dispatcher.close();
    });
  }
  return app;
}
