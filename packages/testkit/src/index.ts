import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ImageRecord } from '@swarmboot/contracts';
import { EventBus, connectNats, connectRedis, waitForListener, type Logger } from '@swarmboot/kit';
import { freePort, waitFor } from './wait.js';

async function waitForTcp(port: number, timeoutMs: number, proc: ChildProcess): Promise<void> {
  if (await waitForListener(port, { timeoutMs, everyMs: 50, alive: () => proc.exitCode === null })) return;
  if (proc.exitCode !== null) throw new Error(`${String(proc.spawnfile)} exited with ${proc.exitCode}`);
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/**
 * Real NATS (JetStream on) and Redis for tests. Uses testcontainers when a Docker engine answers;
 * otherwise starts the Debian binaries `nats-server` and `redis-server` on free loopback ports
 * with throw-away data directories. No mocks.
 */
export interface Started {
  url: string;
  stop(): Promise<void>;
}

const pexec = promisify(execFile);

let engine: Promise<boolean> | undefined;
/** true when a Docker engine answers `docker info` within 3 s */
export function dockerEngineAvailable(): Promise<boolean> {
  engine ??= pexec('docker', ['info'], { timeout: 3000 }).then(
    () => true,
    () => false,
  );
  return engine;
}


/** A local server process: `stop` ends it (SIGTERM, SIGKILL after 3 s); `kill` SIGKILLs it at once, as a crash would. */
interface Launched {
  readonly port: number;
  stop(): Promise<void>;
  kill(): void;
}

/** Spawns `bin args` and waits until it listens on 127.0.0.1:`port`; throws with its stderr tail when it does not. */
async function launch(bin: string, args: string[], port: number): Promise<Launched> {
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const spawned = new Promise<void>((resolve, reject) => {
    proc.once('error', (err) => reject(new Error(`cannot start ${bin} (is it installed? scripts/test.sh installs it): ${err.message}`)));
    proc.once('spawn', () => resolve());
  });
  await spawned;
  try {
    await waitForTcp(port, 10_000, proc);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${bin}: ${(err as Error).message}\n${stderr}`);
  }
  const running = (): boolean => proc.exitCode === null && proc.signalCode === null;
  return {
    port,
    async stop() {
      if (!running()) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (running()) proc.kill('SIGKILL');
    },
    kill() {
      if (running()) proc.kill('SIGKILL');
    },
  };
}

async function startBinary(bin: string, args: (port: number, dir: string) => string[], scheme: string): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), `sb-${bin}-`));
  const port = await freePort();
  const server = await launch(bin, args(port, dir), port).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startContainer(image: string, port: number, cmd: string[], scheme: string): Promise<Started> {
  const { GenericContainer } = await import('testcontainers');
  const c = await new GenericContainer(image).withExposedPorts(port).withCommand(cmd).start();
  return { url: `${scheme}://${c.getHost()}:${c.getMappedPort(port)}`, stop: async () => void (await c.stop()) };
}

/** nats-server with JetStream on a free port. */
export async function startNats(): Promise<Started> {
  if (await dockerEngineAvailable()) return startContainer('nats:2.10', 4222, ['-js'], 'nats');
  return startBinary('nats-server', (port, dir) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], 'nats');
}

/** redis-server without persistence on a free port. */
export async function startRedis(): Promise<Started> {
  if (await dockerEngineAvailable()) return startContainer('redis:7', 6379, ['redis-server', '--save', ''], 'redis');
  return startBinary('redis-server', (port, dir) => ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], 'redis');
}

/** A Sentinel-managed Redis: master, one replica, three sentinels (startRedisSentinel). */
export interface RedisSentinelSet extends Started {
  /** `redis+sentinel://127.0.0.1:<s1>,…/<name>`, the form SWARMBOOT_REDIS_URL takes */
  readonly url: string;
  /** the master name the sentinels monitor */
  readonly name: string;
  readonly sentinelPorts: readonly number[];
  /** the port of the master the sentinels name now (SENTINEL get-master-addr-by-name) */
  masterPort(): Promise<number>;
  /** runs `redis-cli` against 127.0.0.1:`port` and returns its output, trimmed */
  cli(port: number, ...args: string[]): Promise<string>;
  /** SIGKILLs the redis-server (master or replica) listening on `port` */
  kill(port: number): void;
  /**
   * Resolves once the current master has `replicas` replicas online and in sync and every
   * sentinel knows them and the two other sentinels: once the next failover can happen without
   * promoting a stale replica. Throws after 30 s.
   */
  healthy(replicas?: number): Promise<void>;
}

/**
 * Starts redis-server master + replica and three sentinels (`redis-server <conf> --sentinel`, the
 * Debian binary that `redis-sentinel` links to) on free loopback ports, quorum 2, master name
 * `mymaster`. Sentinel's timings are cut for tests: `down-after-milliseconds` 1000 (production
 * default 30 000), `failover-timeout` 10 000. Resolves once the replica is in sync and every
 * sentinel knows the replica and the two other sentinels, i.e. once a failover can happen.
 * Always local binaries, also with Docker: the sentinels must reach the servers at the addresses
 * the servers announce.
 */
export async function startRedisSentinel(): Promise<RedisSentinelSet> {
  const name = 'mymaster';
  const dir = await mkdtemp(join(tmpdir(), 'sb-sentinel-'));
  const started: Launched[] = [];
  const cli = async (port: number, ...args: string[]): Promise<string> => (await pexec('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 })).stdout.trim();
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const server = async (role: string, extra: string[]): Promise<Launched> => {
      const port = await freePort();
      await mkdir(join(dir, role));
      const p = await launch('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', join(dir, role), ...extra], port);
      started.push(p);
      return p;
    };
    const master = await server('master', []);
    const replica = await server('replica', ['--replicaof', '127.0.0.1', String(master.port)]);
    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${i}.conf`);
      // sentinel rewrites its config file as it learns the topology: one writable file each
      await writeFile(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`, `sentinel down-after-milliseconds ${name} 1000`, `sentinel failover-timeout ${name} 10000`, `sentinel parallel-syncs ${name} 1`, ''].join('\n'));
      started.push(await launch('redis-server', [conf, '--sentinel'], port));
      sentinelPorts.push(port);
    }
    const masterPort = async (): Promise<number> => {
      const [, port] = (await cli(sentinelPorts[0] ?? 0, 'SENTINEL', 'get-master-addr-by-name', name)).split('\n');
      return Number(port);
    };
    const healthy = async (replicas = 1): Promise<void> => {
      await waitFor(
        `${replicas} replica(s) online and in sync`,
        async () => {
          const info = await cli(await masterPort(), 'INFO', 'replication');
          const offset = /master_repl_offset:(\d+)/.exec(info)?.[1];
          const online = [...info.matchAll(/slave\d+:.*state=online,offset=(\d+)/g)].filter((m) => m[1] === offset);
          return /role:master/.test(info) && online.length === replicas;
        },
        30_000,
        100,
      );
      for (const sp of sentinelPorts) {
        await waitFor(
          `sentinel ${sp} to know the replica(s) and the other sentinels`,
          async () => {
            const fields = (await cli(sp, 'SENTINEL', 'master', name)).split('\n');
            const field = (k: string): string | undefined => fields[fields.indexOf(k) + 1];
            const replicaFlags = (await cli(sp, 'SENTINEL', 'replicas', name)).split('\n').filter((l, i, all) => all[i - 1] === 'flags');
            return field('num-slaves') !== undefined && replicaFlags.filter((f) => f === 'slave').length === replicas && field('num-other-sentinels') === '2';
          },
          30_000,
          200,
        );
      }
    };
    await healthy();
    const byPort = new Map(started.map((p) => [p.port, p]));
    return {
      url: `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${name}`,
      name,
      sentinelPorts,
      masterPort,
      cli,
      healthy,
      kill: (port) => byPort.get(port)?.kill(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A NATS cluster on loopback (startNatsCluster). */
export interface NatsCluster extends Started {
  /** the client URLs of all members, comma-separated: the form SWARMBOOT_NATS_URL takes */
  readonly url: string;
  /** one entry per member, in start order */
  readonly nodes: readonly { name: string; url: string; kill(): void }[];
}

/**
 * Starts `size` nats-server processes with JetStream (each its own store directory) routed into
 * one cluster `swarmboot` on free loopback ports, and resolves once every member reports a
 * JetStream meta leader (monitoring `/jsz`), i.e. once streams can be created. `nodes[i].kill()`
 * SIGKILLs a member. Always local binaries.
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-nats-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort(), monitor: await freePort() })));
  const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`).join(',');
  const started: Launched[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(
      ports.map(async (p, i) => {
        const args = ['-a', '127.0.0.1', '-p', String(p.client), '-m', String(p.monitor), '-n', `n${i}`, '-js', '-sd', join(dir, `n${i}`), '--cluster_name', 'swarmboot', '--cluster', `nats://127.0.0.1:${p.route}`, '--routes', routes];
        started[i] = await launch('nats-server', args, p.client);
      }),
    );
    for (const p of ports) {
      await waitFor(
        `JetStream meta leader seen by 127.0.0.1:${p.monitor}`,
        async () => {
          const res = await fetch(`http://127.0.0.1:${p.monitor}/jsz`).catch(() => undefined);
          const jsz = res?.ok === true ? ((await res.json()) as { meta_cluster?: { leader?: string } }) : undefined;
          return (jsz?.meta_cluster?.leader ?? '') !== '';
        },
        20_000,
        200,
      );
    }
    return {
      url: ports.map((p) => `nats://127.0.0.1:${p.client}`).join(','),
      nodes: ports.map((p, i) => ({ name: `n${i}`, url: `nats://127.0.0.1:${p.client}`, kill: () => started[i]?.kill() })),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}


/** A service's `main()` running in a child node process, as `swarmboot <service>` runs it. */
export interface MainProcess {
  readonly child: ChildProcess;
  /** resolves with the exit code (null when a signal ended it) */
  readonly exited: Promise<number | null>;
  /** what the process wrote to stderr so far */
  stderr(): string;
  /** what it wrote to stdout so far (its pino log lines); '' unless spawned with `stdout: true` */
  stdout(): string;
  /**
   * Polls GET http://127.0.0.1:{opsPort}/healthz until it answers 200 and returns its body; throws
   * at once, with the stderr, if the process exits first, or after `timeoutMs`.
   */
  healthz(opsPort: number, timeoutMs?: number): Promise<{ checks: Record<string, boolean> }>;
  /** SIGKILL when it still runs (for `finally`) */
  kill(): void;
}

/**
 * Runs `main()` of the ES module at `entry` (a path) in a new node process with `env` over
 * process.env; a rejected main() prints the error and exits 1. stderr is kept; stdout (the log)
 * is dropped unless `opts.stdout` — tests that read the log (e.g. for a leaked secret) keep it.
 */
export function spawnMain(entry: string, env: Record<string, string>, opts: { stdout?: boolean } = {}): MainProcess {
  const script = `import { main } from ${JSON.stringify(entry)}; main().catch((err) => { console.error(err); process.exit(1); });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, stdio: ['ignore', opts.stdout === true ? 'pipe' : 'ignore', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    stderr: () => stderr,
    stdout: () => stdout,
    healthz: (opsPort, timeoutMs = 15_000) =>
      waitFor(
        `http://127.0.0.1:${opsPort}/healthz`,
        async () => {
          if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode}: ${stderr}`);
          const res = await fetch(`http://127.0.0.1:${opsPort}/healthz`).catch(() => undefined);
          return res?.status === 200 ? ((await res.json()) as { checks: Record<string, boolean> }) : undefined;
        },
        timeoutMs,
        100,
      ),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Real NATS and Redis for one test file, connected: see startBackends. */
export interface Backends {
  redis: Awaited<ReturnType<typeof connectRedis>>;
  /** the event bus on the NATS connection (`bus.nc`), CloudEvents source swarmboot/<name> */
  bus: EventBus;
  /** drains NATS, quits Redis, stops both servers */
  stop(): Promise<void>;
}

/**
 * Starts nats-server (JetStream) and redis-server (startNats, startRedis) and connects to both as
 * `name`; when a connection fails, whatever was started is stopped before the error is rethrown.
 */
export async function startBackends(name: string, log: Logger): Promise<Backends> {
  const [natsSrv, redisSrv] = await Promise.all([startNats(), startRedis()]);
  let nc: Awaited<ReturnType<typeof connectNats>> | undefined;
  let redis: Backends['redis'];
  try {
    nc = await connectNats(natsSrv.url, name, log);
    redis = await connectRedis(redisSrv.url, log);
  } catch (err) {
    await nc?.close();
    await Promise.all([natsSrv.stop(), redisSrv.stop()]);
    throw err;
  }
  const bus = new EventBus(nc, `swarmboot/${name}`, log);
  return {
    redis,
    bus,
    async stop() {
      await bus.nc.drain();
      await redis.quit();
      await Promise.all([natsSrv.stop(), redisSrv.stop()]);
    },
  };
}

/**
 * A catalog record for tests that deploy (`ImageCatalog.put` it): bootable, so real and emulated
 * targets take it. Its files do not exist: for tests that never download it.
 */
export const TEST_IMAGE: ImageRecord = {
  name: 'debian-12',
  file: 'debian-12.img',
  format: 'raw-disk',
  bootable: true,
  size: 1 << 20,
  sha256: 'a'.repeat(64),
  infoHash: 'b'.repeat(40),
  pieceLength: 16384,
  torrentUrl: 'http://127.0.0.1:8001/torrents/debian-12.torrent',
  webSeedUrl: 'http://127.0.0.1:8001/images/debian-12.img',
  addedAt: new Date().toISOString(),
};

export { freePort, waitFor } from './wait.js';
export { simulatorBin, startSushy, startIpmiSim, ipmitool, startBadBmc, makeCertificates, type Sim, type FakeSystem, type BadBmc } from './bmc-simulators.js';
export { runFuzzSuite, assertFuzzSuite, fuzzCases, fuzzSeed, decodeOrReject, decodeOrRejectAsync, bytes, mutated, CASE_TIME_LIMIT_MS, type FuzzProperty, type FuzzSuite, type FuzzSuiteResult, type FuzzPropertyResult } from './fuzz.js';

/**
 * `size` random bytes that start like a disk (MBR boot signature at 510, a GPT header "EFI PART"
 * at LBA 1), so the seeder takes them as a raw-disk image (its format sniffing).
 */
export function diskLikeImage(size: number): Buffer {
  const b = randomBytes(size);
  b[510] = 0x55;
  b[511] = 0xaa;
  b.write('EFI PART', 512, 'latin1');
  return b;
}
