import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { EventBus, ImageCatalog, Registry, parseConfig, type Logger } from '@swarmboot/kit';
import { freePort } from '@swarmboot/testkit';
import { buildTracker } from '@swarmboot/tracker';
import { buildSeederApp } from '@swarmboot/seeder';
import { SchedulerConfig, buildSchedulerApp } from '@swarmboot/scheduler';

/**
 * The services a node-mode agent (a real machine's) talks to, in this process on free loopback
 * ports: tracker, seeder (data under `work`/seeder) and scheduler, on the test's NATS and Redis.
 * No machine boots the install environment here, so its URL and the syslog target lead nowhere,
 * and a node gets one install attempt. Each server's close goes onto `closers`.
 */
export async function startNodeModeServices(o: { log: Logger; bus: EventBus; redis: Redis; natsUrl: string; redisUrl: string; work: string; closers: (() => Promise<unknown>)[] }): Promise<{ apiUrl: string; seederUrl: string }> {
  const { log, bus, redis } = o;
  const catalog = new ImageCatalog(redis);
  const tracker = buildTracker({ log, lookup: (h) => catalog.nameByInfoHash(h), redis, registry: new Registry(), config: { intervalSeconds: 30, admissionTtlMs: 0 } });
  const announceUrl = `http://127.0.0.1:${(await tracker.listen('127.0.0.1', 0)).port}/announce`;
  o.closers.push(() => tracker.close());
  const seederPort = await freePort();
  const seederUrl = `http://127.0.0.1:${seederPort}`;
  const seeder = buildSeederApp({ log, bus, redis, registry: new Registry(), config: { dataDir: join(o.work, 'seeder'), publicUrl: seederUrl, announceUrl, uploadLimit: 0, torrentPort: 0 } });
  await seeder.listen({ host: '127.0.0.1', port: seederPort });
  o.closers.push(() => seeder.close());
  const schedulerPort = await freePort();
  const apiUrl = `http://127.0.0.1:${schedulerPort}`;
  const config = parseConfig(SchedulerConfig, {
    SWARMBOOT_NATS_URL: o.natsUrl,
    SWARMBOOT_REDIS_URL: o.redisUrl,
    SWARMBOOT_PUBLIC_URL: apiUrl,
    SWARMBOOT_BOOTENV_URL: 'http://127.0.0.1:9/unused',
    SWARMBOOT_SYSLOG_TARGET: '127.0.0.1:9',
    SWARMBOOT_INSTALL_ATTEMPTS: '1',
  });
  const scheduler = buildSchedulerApp({ log, bus, redis, config });
  await scheduler.listen({ host: '127.0.0.1', port: schedulerPort });
  o.closers.push(() => scheduler.close());
  return { apiUrl, seederUrl };
}
