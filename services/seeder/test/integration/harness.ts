import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, connectRedis, EventBus, ImageCatalog, Registry, type Logger } from '@swarmboot/kit';
import { startNats, startRedis } from '@swarmboot/testkit';
import { buildTracker, type Tracker } from '@swarmboot/tracker';

/** What every seeder integration test runs against: real NATS (JetStream), Redis and our tracker. */
export interface SeederHarness {
  natsUrl: string;
  nc: NatsConnection;
  bus: EventBus;
  redis: Redis;
  catalog: ImageCatalog;
  tracker: Tracker;
  /** the tracker's HTTP announce URL */
  announceUrl: string;
  /** a fresh directory, removed by stop() */
  scratch: string;
  stop(): Promise<void>;
}

/**
 * Starts nats-server and redis-server, connects as `name`, and starts a tracker that admits the
 * catalog's infohashes, announcing every `intervalSeconds`.
 */
export async function startSeederHarness(name: string, log: Logger, intervalSeconds: number): Promise<SeederHarness> {
  const [natsServer, redisServer] = await Promise.all([startNats(), startRedis()]);
  const nc = await connectNats(natsServer.url, name, log);
  const redis = await connectRedis(redisServer.url, log);
  const catalog = new ImageCatalog(redis);
  const tracker = buildTracker({ log, lookup: (h) => catalog.nameByInfoHash(h), redis, registry: new Registry(), config: { intervalSeconds, admissionTtlMs: 0 } });
  const announceUrl = `http://127.0.0.1:${(await tracker.listen('127.0.0.1', 0)).port}/announce`;
  const scratch = await mkdtemp(join(tmpdir(), `sb-${name}-`));
  return {
    natsUrl: natsServer.url,
    nc,
    bus: new EventBus(nc, `swarmboot/${name}`, log),
    redis,
    catalog,
    tracker,
    announceUrl,
    scratch,
    async stop() {
      await tracker.close();
      await nc.drain();
      await redis.quit();
      await Promise.all([natsServer.stop(), redisServer.stop()]);
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/** Random bytes that start like a disk, so the seeder takes them as a raw-disk image (testkit's, shared with the CLI's tests). */
export { diskLikeImage as diskLike } from '@swarmboot/testkit';

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
