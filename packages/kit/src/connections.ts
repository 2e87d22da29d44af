import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { Stream, SwarmbootError } from '@swarmboot/contracts';
import type { Logger } from './logger.js';

/** A URL with its password replaced by `***`, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * nats.js v3 refuses credentials inside the URL: `nats://user:pass@host` becomes servers + user/pass,
 * `nats://token@host` a token.
 */
export function natsServerOptions(url: string): { servers: string; user?: string; pass?: string; token?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { servers: url };
  }
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  const servers = u.toString().replace(/\/$/, '');
  if (user && pass) return { servers, user, pass };
  if (user) return { servers, token: user };
  return { servers };
}

/** Connects to NATS and makes sure the JetStream stream `SWARMBOOT` exists (idempotent). Throws NATS_UNAVAILABLE. */
export async function connectNats(url: string, name: string, log: Logger): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({ ...natsServerOptions(url), name, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  } catch (err) {
    throw new SwarmbootError('NATS_UNAVAILABLE', `cannot connect to NATS at ${redactUrl(url)} (SWARMBOOT_NATS_URL)`, { cause: err });
  }
  await ensureStream(nc);
  log.info({ url: redactUrl(url) }, 'nats connected');
  return nc;
}

export async function ensureStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: Stream.name,
    subjects: [...Stream.subjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: Stream.maxAgeMs * 1_000_000, // nanoseconds
  };
  try {
    await jsm.streams.info(Stream.name);
    await jsm.streams.update(Stream.name, config);
  } catch {
    try {
      await jsm.streams.add(config);
    } catch (err) {
      // another replica may have created it between our two calls
      await jsm.streams.info(Stream.name).catch(() => {
        throw err;
      });
    }
  }
}

/** Connects to Redis; resolves once the connection is ready. Throws REDIS_UNAVAILABLE. */
export async function connectRedis(url: string, log: Logger): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 20, enableAutoPipelining: true });
  redis.on('error', (err) => log.warn({ err }, 'redis error'));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new SwarmbootError('REDIS_UNAVAILABLE', `cannot connect to Redis at ${redactUrl(url)} (SWARMBOOT_REDIS_URL)`, { cause: err });
  }
  log.info({ url: redactUrl(url) }, 'redis connected');
  return redis;
}
