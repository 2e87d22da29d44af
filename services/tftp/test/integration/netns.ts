import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** Why namespace tests cannot run here, or undefined when they can (root, `ip`, `nft`). */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, nftables)';
  for (const tool of ['ip', 'nft']) {
    if (await pexec('sh', ['-c', `command -v ${tool}`]).then(() => false, () => true)) return `${tool} is not installed`;
  }
  return undefined;
}

export async function sh(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  const { stdout } = await pexec(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/**
 * Two network namespaces joined by a veth pair: the server side (`sb<tag>-<pid>-s`, address
 * 198.18.0.1, RFC 2544 benchmarking space, never routed) and the client side (`…-c`, 198.18.0.2).
 * Nothing is added to the machine's own namespace. `loss(n)` drops n % of UDP datagrams the
 * server sends (nftables numgen on output in its namespace); `shape(rate)` puts a tbf on the
 * server's veth. `destroy()` deletes both namespaces (and with them the veth), also after a failure.
 */
export class NetPair {
  readonly server: string;
  readonly client: string;
  readonly serverIp = '198.18.0.1';
  readonly clientIp = '198.18.0.2';
  readonly serverDev: string;
  private created = false;

  constructor(tag: string, n = 0) {
    this.server = `sb${tag}-${process.pid}-${n}s`;
    this.client = `sb${tag}-${process.pid}-${n}c`;
    // interface names: at most 15 bytes
    this.serverDev = `sb${(process.pid % 100000).toString(36)}${n}s`;
  }

  async create(): Promise<this> {
    const cdev = this.serverDev.replace(/s$/, 'c');
    await sh('ip', ['netns', 'add', this.server]);
    this.created = true;
    await sh('ip', ['netns', 'add', this.client]);
    await sh('ip', ['link', 'add', this.serverDev, 'netns', this.server, 'type', 'veth', 'peer', 'name', cdev, 'netns', this.client]);
    for (const [ns, dev, ip] of [[this.server, this.serverDev, this.serverIp], [this.client, cdev, this.clientIp]] as const) {
      await sh('ip', ['-n', ns, 'addr', 'add', `${ip}/30`, 'dev', dev]);
      await sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await sh('ip', ['netns', 'exec', this.server, 'nft', 'add table inet sbloss; add chain inet sbloss out { type filter hook output priority 0 ; }']);
    return this;
  }

  /** Drops `percent` % of the UDP datagrams the server side sends (0 removes the rule). */
  async loss(percent: number): Promise<void> {
    await sh('ip', ['netns', 'exec', this.server, 'nft', 'flush chain inet sbloss out']);
    if (percent > 0) await sh('ip', ['netns', 'exec', this.server, 'nft', `add rule inet sbloss out meta l4proto udp numgen random mod 100 < ${percent} drop`]);
  }

  /** A token bucket on the server's veth (e.g. '1gbit'); the queue holds `latency` of data. */
  async shape(rate: string, latency = '20ms'): Promise<void> {
    await sh('ip', ['netns', 'exec', this.server, 'tc', 'qdisc', 'replace', 'dev', this.serverDev, 'root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', latency]);
  }

  /** Runs a command in a namespace; resolves with stdout, rejects on non-zero exit or timeout. */
  exec(ns: string, cmd: string, args: string[], timeoutMs = 120_000): Promise<string> {
    return sh('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs);
  }

  /** Starts a long-running process in a namespace. */
  spawn(ns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  async destroy(): Promise<void> {
    if (!this.created) return;
    for (const ns of [this.server, this.client]) await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}

/** Stops a child and waits for its exit (SIGTERM, then SIGKILL after 3 s). */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

/** Resolves once `child`'s stdout or stderr matched `pattern` (within `timeoutMs`). */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const t = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output: ${seen.slice(-2000)}`)), timeoutMs);
    let done = false;
    // stays attached after the match: the pipe must keep draining or the child blocks on its logs
    const on = (d: Buffer): void => {
      if (done) return;
      seen = (seen + d.toString()).slice(-20_000);
      if (pattern.test(seen)) {
        done = true;
        clearTimeout(t);
        resolve();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => {
      if (done) return;
      clearTimeout(t);
      reject(new Error(`exited (${code}) before ${pattern}; output: ${seen.slice(-2000)}`));
    });
  });
}
