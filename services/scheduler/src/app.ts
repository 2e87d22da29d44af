import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { Redis } from 'ioredis';
import { isSwarmbootError } from '@swarmboot/contracts';
import { ImageCatalog, Registry, type EventBus, type Logger } from '@swarmboot/kit';
import type { SchedulerConfig } from './config.js';
import { SchedulerStore } from './adapters/store.js';
import { startEventConsumers } from './adapters/event-consumers.js';
import { createScheduler } from './scheduler.js';
import type { BootSettings } from './boot.js';
import { nodeRoutes } from './routes/nodes.js';
import { deploymentRoutes } from './routes/deployments.js';
import { bootRoutes, bootenvFilesPresent } from './routes/boot.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** errors of this route are `text/plain` (`CODE: message`), for clients that are not JSON clients (iPXE) */
    textErrors?: boolean;
  }
}

export interface SchedulerAppDeps {
  log: Logger;
  bus: EventBus;
  redis: Redis;
  config: SchedulerConfig;
  /** metrics go here (main passes the ops endpoint's registry); a private one by default */
  registry?: Registry;
  /** consume lease and TFTP events while the app is up (default true) */
  consumeEvents?: boolean;
}

/** HTTP status of each error code of the API; other codes are 500. */
export const ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  VALIDATION: 400,
  IMPORT_INVALID: 400,
  NO_NODES: 400,
  NOT_FOUND: 404,
  NODE_NOT_FOUND: 404,
  IMAGE_NOT_FOUND: 404,
  DEPLOYMENT_NOT_FOUND: 404,
  NODE_EXISTS: 409,
  MAC_IN_USE: 409,
  HOSTNAME_IN_USE: 409,
  NODE_BUSY: 409,
  NOT_ADMITTED: 409,
  IMAGE_NOT_BOOTABLE: 422,
  BOOTENV_MISSING: 409,
  WRONG_DEPLOYMENT: 409,
  INVALID_TRANSITION: 409,
  CONFLICT: 409,
  REDIS_UNAVAILABLE: 503,
  NATS_UNAVAILABLE: 503,
});

/** UDP port of netconsole when SWARMBOOT_NETCONSOLE_TARGET names none (the log sink's, DESIGN.md). */
const NETCONSOLE_PORT = 6666;

/** The boot part of the config, resolved: defaults that depend on other variables are filled in here. */
export function bootSettings(c: SchedulerConfig): BootSettings {
  const publicUrl = c.SWARMBOOT_PUBLIC_URL.replace(/\/+$/, '');
  const dir = c.SWARMBOOT_BOOTENV_DIR;
  const syslogHost = c.SWARMBOOT_SYSLOG_TARGET.replace(/:\d+$/, '');
  const netconsole =
    c.SWARMBOOT_NETCONSOLE_TARGET === 'off'
      ? undefined
      : c.SWARMBOOT_NETCONSOLE_TARGET || (/^\d+\.\d+\.\d+\.\d+$/.test(syslogHost) ? `${syslogHost}:${NETCONSOLE_PORT}` : undefined);
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

/** fastify's own 4xx errors (bad JSON, body too large, …) in the API's vocabulary */
const FASTIFY_STATUS_CODES: Readonly<Record<number, string>> = { 400: 'VALIDATION', 404: 'NOT_FOUND', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' };

/**
 * The scheduler's HTTP API (`/v1`, OpenAPI 3.1 at `GET /v1/openapi.json`), built, not started:
 * `main.ts` listens, tests `inject()`. While the app is ready it also consumes the lease and TFTP
 * events (durable consumer `scheduler`); `close()` stops them. It does not close `redis` or the bus.
 */
export function buildSchedulerApp(deps: SchedulerAppDeps): FastifyInstance {
  const log = deps.log.child({ component: 'api' });
  const catalog = new ImageCatalog(deps.redis);
  const scheduler = createScheduler({
    store: new SchedulerStore(deps.redis),
    catalog,
    bus: deps.bus,
    log: deps.log.child({ component: 'scheduler' }),
    registry: deps.registry ?? new Registry(),
    boot: bootSettings(deps.config),
    syslogTarget: deps.config.SWARMBOOT_SYSLOG_TARGET,
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
    },
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    let status: number;
    let code: string;
    let message = err.message;
    if (isSwarmbootError(err)) {
      code = err.code;
      status = ERROR_STATUS[code] ?? 500;
    } else if (err.validation) {
      status = 400;
      code = 'VALIDATION';
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      code = FASTIFY_STATUS_CODES[status] ?? 'BAD_REQUEST';
    } else {
      status = 500;
      code = 'INTERNAL';
      message = 'internal error';
    }
    if (status >= 500) req.log.error({ err, method: req.method, url: req.url }, 'request failed');
    else req.log.debug({ code, method: req.method, url: req.url }, message);
    if (req.routeOptions.config.textErrors === true) return reply.code(status).type('text/plain; charset=utf-8').send(`${code}: ${message}\n`);
    return reply.code(status).send({ code, message });
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` }));

  app.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  void app.register(async (api) => {
    api.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    nodeRoutes(api, scheduler);
    deploymentRoutes(api, scheduler.deployments, catalog);
    bootRoutes(api, scheduler.boot, deps.config.SWARMBOOT_BOOTENV_DIR || undefined);
  });

  if (deps.consumeEvents !== false) {
    let stop: (() => Promise<void>) | undefined;
    app.addHook('onReady', async () => {
      stop = await startEventConsumers(deps.bus, scheduler.lifecycle, deps.log.child({ component: 'events' }));
    });
    app.addHook('onClose', async () => {
      await stop?.();
    });
  }
  return app;
}
