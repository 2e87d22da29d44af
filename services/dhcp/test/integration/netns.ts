import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * Network namespaces for interop tests and the benchmark: a server netns and a client netns
 * joined by a veth pair (one broadcast segment), a Redis on a unix socket (reachable from any
 * netns), and the real `swarmboot dhcp` CLI started inside the server netns.
 */

export const CLI = fileURLToPath(new URL('../../../../../cli/dist/src/main.js', import.meta.url));

/** Why the interop tests cannot run here, or undefined when they can. */
export function netnsUnavailable(tools: readonly string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces); CI runs as root';
  for (const t of ['ip', 'redis-server', ...tools]) {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    } catch {
      return `${t} is not installed (scripts/install-deps.sh)`;
    }
  }
  return undefined;
}

function sh(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface Segment {
  server: string;
  client: string;
  /** interface names inside the server / client netns */
  serverIf: string;
  clientIf: string;
  dir: string;
  destroy(): void;
}

/**
 * Creates `sb<tag>-<pid>-<n>-s` and `…-c` with a veth pair; the server side gets `serverAddrs`
 * (CIDR), the client side `clientAddrs` (may be empty: DHCP clients start without one). The
 * server netns gets a route for 255.255.255.255 so broadcast replies leave by the veth.
 */
export function createSegment(tag: string, n: number, serverAddrs: readonly string[], clientAddrs: readonly string[] = []): Segment {
  const base = `sb${tag}-${process.pid}-${n}`;
  const server = `${base}-s`;
  const client = `${base}-c`;
  const short = `sb${tag}${process.pid % 100000}${n}`;
  const serverIf = `${short}a`;
  const clientIf = `${short}b`;
  const dir = mkdtempSync(join(tmpdir(), `${base}-`));
  const destroy = () => {
    for (const ns of [server, client]) {
      try {
        sh(['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
    try {
      sh(['link', 'del', serverIf]);
    } catch {
      // went with the netns
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    sh(['netns', 'add', server]);
    sh(['netns', 'add', client]);
    sh(['link', 'add', serverIf, 'type', 'veth', 'peer', 'name', clientIf]);
    sh(['link', 'set', serverIf, 'netns', server]);
    sh(['link', 'set', clientIf, 'netns', client]);
    for (const ns of [server, client]) sh(['-n', ns, 'link', 'set', 'lo', 'up']);
    for (const a of serverAddrs) sh(['-n', server, 'addr', 'add', a, 'dev', serverIf]);
    for (const a of clientAddrs) sh(['-n', client, 'addr', 'add', a, 'dev', clientIf]);
    sh(['-n', server, 'link', 'set', serverIf, 'up']);
    sh(['-n', client, 'link', 'set', clientIf, 'up']);
    sh(['-n', server, 'route', 'add', '255.255.255.255/32', 'dev', serverIf]);
  } catch (err) {
    destroy();
    throw err;
  }
  return { server, client, serverIf, clientIf, dir, destroy };
}

export interface Proc {
  child: ChildProcess;
  out: () => string;
  stop(): Promise<void>;
}

/** Spawns `cmd` inside `netns` (or here when undefined), collecting stdout+stderr. */
export function spawnIn(netns: string | undefined, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const argv = netns === undefined ? [cmd, ...args] : ['ip', 'netns', 'exec', netns, cmd, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => chunks.push(b));
  child.stderr?.on('data', (b: Buffer) => chunks.push(b));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    out: () => Buffer.concat(chunks).toString('utf8'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** Runs a command to its end (bounded), resolving with its exit code and output. */
export async function run(netns: string | undefined, cmd: string, args: readonly string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  const p = spawnIn(netns, cmd, args);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => p.child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, out: p.out() };
}

/** A redis-server on a unix socket in `dir` (any netns can reach it). */
export async function startSocketRedis(dir: string): Promise<{ path: string; stop(): Promise<void> }> {
  const path = join(dir, 'redis.sock');
  const p = spawnIn(undefined, 'redis-server', ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no']);
  await waitUntil(() => p.out().includes('ready to accept connections'), 10_000, 'redis-server start');
  return { path, stop: () => p.stop() };
}

export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `swarmboot dhcp --config FILE` in `netns` with `config` (written as JSON) and waits until it listens. */
export async function startSwarmbootDhcp(netns: string, dir: string, name: string, config: Record<string, unknown>, logLevel = 'info'): Promise<Proc> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  const p = spawnIn(netns, process.execPath, [CLI, 'dhcp', '--config', file], { ...process.env, SWARMBOOT_LOG_LEVEL: logLevel });
  try {
    await waitUntil(() => p.out().includes('"DHCP listening"') || p.child.exitCode !== null, 20_000, `${name} to listen`);
  } catch (err) {
    await p.stop();
    throw err;
  }
  if (p.child.exitCode !== null) throw new Error(`${name} exited: ${p.out()}`);
  return p;
}
