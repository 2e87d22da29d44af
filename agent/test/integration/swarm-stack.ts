import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageCatalog, Registry, type Logger } from '@swarmboot/kit';
import { freePort, startBackends } from '@swarmboot/testkit';
import { buildTracker } from '@swarmboot/tracker';
import { buildSeederApp } from '@swarmboot/seeder';

/*
 * What the agent's swarm tests share: real NATS and Redis (testkit's startBackends), swarmboot's
 * tracker (HTTP announces, every registered infohash admitted) and seeder on loopback, a scratch
 * directory.
 */

export interface SwarmStack {
  /** the tracker's HTTP announce URL (BEP 3) */
  announceUrl: string;
  trackerRegistry: Registry;
  seederRegistry: Registry;
  /** the seeder's API and web seed, http://127.0.0.1:port */
  seederUrl: string;
  /** a fresh directory, removed by stop(); the seeder keeps its images in `scratch/seeder` */
  scratch: string;
  /** closes the seeder (its `stopped` announce takes it off the tracker); again is a no-op */
  closeSeeder(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the stack for `name`; `uploadLimit` caps the seeder's BitTorrent upload (bytes/s, 0 none). */
export async function startSwarmStack(name: string, log: Logger, uploadLimit: number): Promise<SwarmStack> {
  const backends = await startBackends(name, log);
  const { redis } = backends;
  const catalog = new ImageCatalog(redis);
  const trackerRegistry = new Registry();
  const tracker = buildTracker({ log, lookup: (h) => catalog.nameByInfoHash(h), redis, registry: trackerRegistry, config: { intervalSeconds: 30, admissionTtlMs: 0 } });
  const announceUrl = `http://127.0.0.1:${(await tracker.listen('127.0.0.1', 0)).port}/announce`;
  const scratch = await mkdtemp(join(tmpdir(), `sb-${name}-`));
  const port = await freePort();
  const seederUrl = `http://127.0.0.1:${port}`;
  const seederRegistry = new Registry();
  const seeder = buildSeederApp({
    log,
    bus: backends.bus,
    redis,
    registry: seederRegistry,
    config: { dataDir: join(scratch, 'seeder'), publicUrl: seederUrl, announceUrl, uploadLimit, torrentPort: 0 },
  });
  await seeder.listen({ host: '127.0.0.1', port });
  let seederClosed: Promise<void> | undefined;
  const closeSeeder = (): Promise<void> =>
    (seederClosed ??= (async () => {
      await seeder.close();
    })());
  return {
    announceUrl,
    trackerRegistry,
    seederRegistry,
    seederUrl,
    scratch,
    closeSeeder,
    async stop() {
      await closeSeeder();
      await tracker.close();
      await backends.stop();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/** `size` bytes of real data (compressible and not, as an OS image): the node binary from `offset`. */
export async function nodeBinaryBytes(size: number, offset = 0): Promise<Buffer> {
  const fh = await open(process.execPath, 'r');
  try {
    const b = Buffer.alloc(size);
    const { bytesRead } = await fh.read(b, 0, size, offset);
    if (bytesRead !== size) throw new Error(`${process.execPath} holds ${bytesRead} bytes from ${offset}, not ${size}`);
    return b;
  } finally {
    await fh.close();
  }
}
