import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { Stream, SwarmbootError } from '@swarmboot/contracts';
import type { Logger } from './logger.js';

/** Connects to NATS and makes sure the JetStream stream `SWARMBOOT` exists (idempotent). Throws NATS_UNAVAILABLE. */
export async function connectNats(url: string, name: string, log: Logger): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  } catch (err) {
    throw new SwarmbootError('NATS_UNAVAILABLE', `cannot connect to NATS at ${url} (SWARMBOOT_NATS_URL)`, { cause: err });
  }
  await ensureStream(nc);
  log.info({ url }, 'nats connected');
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
    throw new SwarmbootError('REDIS_UNAVAILABLE', `cannot connect to Redis at ${url} (SWARMBOOT_REDIS_URL)`, { cause: err });
  }
  log.info({ url }, 'redis connected');
  return redis;
}
