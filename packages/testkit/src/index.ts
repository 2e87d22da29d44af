import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ImageRecord } from '@swarmboot/contracts';
import { EventBus, connectNats, connectRedis, waitForListener, type Logger } from '@swarmboot/kit';

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

/** A free TCP (and, by the same number, usually UDP) port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForTcp(port: number, timeoutMs: number, proc: ChildProcess): Promise<void> {
  if (await waitForListener(port, { timeoutMs, everyMs: 50, alive: () => proc.exitCode === null })) return;
  if (proc.exitCode !== null) throw new Error(`${String(proc.spawnfile)} exited with ${proc.exitCode}`);
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

async function startBinary(bin: string, args: (port: number, dir: string) => string[], scheme: string): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), `sb-${bin}-`));
  const port = await freePort();
  const proc = spawn(bin, args(port, dir), { stdio: ['ignore', 'ignore', 'pipe'] });
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
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
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

/** Waits until `check` returns a value other than undefined/false, polling every `everyMs`; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
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
