import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { SwarmbootError, DefaultPorts, DemoNet } from '@swarmboot/contracts';
import { waitForListener } from '@swarmboot/kit';

/** The services, in start order (the scheduler before the dhcp that names its boot-script URL is not required, but tidy). */
export const SERVICES = ['logsink', 'tracker', 'seeder', 'scheduler', 'power', 'tftp', 'dhcp'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface StackPorts {
  nats: number;
  redis: number;
  dhcp: number;
  tftp: number;
  tracker: number;
  seeder: number;
  seederTorrent: number;
  scheduler: number;
  syslog: number;
  /** syslog over TCP (RFC 6587) */
  syslogTcp: number;
  netconsole: number;
  ops: Record<ServiceName, number>;
}

export interface StackOptions {
  workDir: string;
  /** address every service binds (127.0.0.1 for the demo, 0.0.0.0 for `up`) */
  bind: string;
  /** how nodes and clients reach the services */
  host: string;
  ports: StackPorts;
  tftpRoot: string;
  natsUrl?: string | undefined;
  redisUrl?: string | undefined;
  /** extra env for every service (e.g. SWARMBOOT_SEEDER_UPLOAD_LIMIT) */
  env?: Record<string, string>;
  /** extra env for one service, after `env` (e.g. dhcp's SWARMBOOT_DHCP_LISTEN) */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /**
   * run nats-server, redis-server and every service inside this network namespace
   * (`ip netns exec NS …`); the start-up checks then run there too (the VM demo's lab)
   */
  netns?: string | undefined;
  logLevel?: string;
  /**
   * how long each service may take to answer /healthz (ms, default 60 000); tests on a loaded
   * machine give more (7 Node processes loading at once on 2 busy cores took over a minute)
   */
  healthTimeoutMs?: number;
  /** progress lines (to stderr) */
  say: (msg: string) => void;
}

export interface Stack {
  apiUrl: string;
  seederUrl: string;
  env: Record<string, string>;
  stop(): Promise<void>;
  /** resolves with the name of the first child that exits on its own */
  died: Promise<string>;
}

/** Path of the CLI entry (`cli/dist/src/main.js`) to start children with. */
export const CLI_ENTRY = fileURLToPath(new URL('./main.js', import.meta.url));

export const defaultPorts = (): StackPorts => ({
  nats: 4222,
  redis: 6379,
  dhcp: DefaultPorts.dhcp,
  tftp: DefaultPorts.tftp,
  tracker: DefaultPorts.tracker,
  seeder: DefaultPorts.seeder,
  seederTorrent: 6881,
  scheduler: DefaultPorts.scheduler,
  syslog: DefaultPorts.syslog,
  syslogTcp: DefaultPorts.syslogTcp,
  netconsole: DefaultPorts.netconsole,
  ops: { ...DefaultPorts.ops },
});

/** The environment of each service of a stack (exactly what a container would get). */
export function serviceEnv(o: StackOptions, natsUrl: string, redisUrl: string): Record<ServiceName, Record<string, string>> {
  const p = o.ports;
  const h = o.host;
  const common = { SWARMBOOT_NATS_URL: natsUrl, SWARMBOOT_REDIS_URL: redisUrl, SWARMBOOT_LOG_LEVEL: o.logLevel ?? 'info' };
  const ops = (s: ServiceName) => ({ SWARMBOOT_OPS_LISTEN: `${o.bind}:${p.ops[s]}` });
  const envs: Record<ServiceName, Record<string, string>> = {
    logsink: {
      ...common,
      ...ops('logsink'),
      SWARMBOOT_SYSLOG_LISTEN: `${o.bind}:${p.syslog}`,
      SWARMBOOT_SYSLOG_TCP_LISTEN: `${o.bind}:${p.syslogTcp}`,
      SWARMBOOT_NETCONSOLE_LISTEN: `${o.bind}:${p.netconsole}`,
    },
    tracker: { ...common, ...ops('tracker'), SWARMBOOT_TRACKER_LISTEN: `${o.bind}:${p.tracker}` },
    seeder: {
      ...common,
      ...ops('seeder'),
      SWARMBOOT_SEEDER_LISTEN: `${o.bind}:${p.seeder}`,
      SWARMBOOT_SEEDER_DATA: join(o.workDir, 'seeder'),
      SWARMBOOT_SEEDER_PUBLIC_URL: `http://${h}:${p.seeder}`,
      SWARMBOOT_TRACKER_ANNOUNCE_URL: `http://${h}:${p.tracker}/announce`,
      SWARMBOOT_SEEDER_TORRENT_PORT: String(p.seederTorrent),
    },
    scheduler: {
      ...common,
      ...ops('scheduler'),
      SWARMBOOT_SCHEDULER_LISTEN: `${o.bind}:${p.scheduler}`,
      SWARMBOOT_PUBLIC_URL: `http://${h}:${p.scheduler}`,
      SWARMBOOT_TFTP_URL: `tftp://${h}:${p.tftp}`,
      SWARMBOOT_SYSLOG_TARGET: `${h}:${p.syslog}`,
      // the scheduler accepts only an IPv4 target; otherwise it derives none (or the operator sets it)
      ...(isIPv4(h) ? { SWARMBOOT_NETCONSOLE_TARGET: `${h}:${p.netconsole}` } : {}),
    },
    // BMC inventory and credentials come from the operator's env (SWARMBOOT_POWER_BMCS, …): none by default
    power: { ...common, ...ops('power') },
    tftp: { ...common, ...ops('tftp'), SWARMBOOT_TFTP_LISTEN: `${o.bind}:${p.tftp}`, SWARMBOOT_TFTP_ROOT: o.tftpRoot },
    dhcp: {
      ...common,
      ...ops('dhcp'),
      SWARMBOOT_DHCP_LISTEN: `${o.bind}:${p.dhcp}`,
      SWARMBOOT_DHCP_SERVER_ID: h,
      SWARMBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: DemoNet.subnet, pool: DemoNet.pool, nextServer: h }]),
      SWARMBOOT_DHCP_BOOT_SCRIPT_URL: `http://${h}:${p.scheduler}/v1/boot/\${mac}`,
    },
  };
  // extra env (the operator's) wins over the stack's choices
  for (const s of SERVICES) envs[s] = { ...envs[s], ...o.env, ...o.serviceEnv?.[s] };
  return envs;
}

/**
 * Starts a whole swarmboot on one machine: nats-server (JetStream) and redis-server when no URL is
 * given (binaries from the Debian packages, data under WORK/nats and WORK/redis), then every
 * service as a child process `swarmboot <svc>` with its env, logs in WORK/logs/<svc>.log. Resolves
 * once every /healthz answers 200. Throws STACK_START_FAILED naming the part that did not come up.
 */
export async function startStack(o: StackOptions): Promise<Stack> {
  const logs = join(o.workDir, 'logs');
  await mkdir(logs, { recursive: true });
  const children: { name: string; proc: ChildProcess }[] = [];
  let stopping = false;
  let onDied: (name: string) => void = () => undefined;
  const died = new Promise<string>((resolve) => (onDied = resolve));

  const launch = (name: string, cmd: string, args: string[], env: Record<string, string>): ChildProcess => {
    const out = createWriteStream(join(logs, `${name}.log`), { flags: 'a' });
    // `ip netns exec` execs the command in place: the child's pid (and signals) are the service's
    const argv = o.netns === undefined ? [cmd, ...args] : ['ip', 'netns', 'exec', o.netns, cmd, ...args];
    const proc = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.pipe(out);
    proc.stderr?.pipe(out);
    proc.once('error', (err) => o.say(`${name}: ${err.message}`));
    proc.once('exit', (code, signal) => {
      if (!stopping) {
        o.say(`${name} exited (${signal ?? code}); see ${join(logs, `${name}.log`)}`);
        onDied(name);
      }
    });
    children.push({ name, proc });
    return proc;
  };

  const stop = async (): Promise<void> => {
    stopping = true;
    for (const { proc } of [...children].reverse()) {
      if (proc.exitCode !== null || proc.signalCode !== null) continue;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
  };

  try {
    let natsUrl = o.natsUrl;
    if (!natsUrl) {
      const dir = join(o.workDir, 'nats');
      await mkdir(dir, { recursive: true });
      // loopback like redis: the URL below names 127.0.0.1 whatever address the services bind
      const p = launch('nats-server', 'nats-server', ['-a', '127.0.0.1', '-p', String(o.ports.nats), '-js', '-sd', dir], {});
      await waitTcp('nats-server', o.ports.nats, p, logs, o.netns);
      natsUrl = `nats://127.0.0.1:${o.ports.nats}`;
    }
    let redisUrl = o.redisUrl;
    if (!redisUrl) {
      const dir = join(o.workDir, 'redis');
      await mkdir(dir, { recursive: true });
      const p = launch('redis-server', 'redis-server', ['--bind', '127.0.0.1', '--port', String(o.ports.redis), '--dir', dir, '--appendonly', 'yes', '--save', ''], {});
      await waitTcp('redis-server', o.ports.redis, p, logs, o.netns);
      redisUrl = `redis://127.0.0.1:${o.ports.redis}`;
    }
    const envs = serviceEnv(o, natsUrl, redisUrl);
    const procs = SERVICES.map((s) => [s, launch(s, process.execPath, [CLI_ENTRY, s], envs[s])] as const);
    const opsHost = o.bind === '0.0.0.0' ? '127.0.0.1' : o.bind;
    await Promise.all(procs.map(([s, p]) => waitHealthy(s, opsHost, o.ports.ops[s], p, logs, o.healthTimeoutMs ?? 60_000, o.netns)));
    return { apiUrl: `http://${o.host}:${o.ports.scheduler}`, seederUrl: `http://${o.host}:${o.ports.seeder}`, env: { SWARMBOOT_NATS_URL: natsUrl, SWARMBOOT_REDIS_URL: redisUrl }, stop, died };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function tail(logs: string, name: string): Promise<string> {
  const text = await readFile(join(logs, `${name}.log`), 'utf8').catch(() => '');
  return text.split('\n').slice(-15).join('\n');
}

/*
 * Start-up checks inside a network namespace: one `node -e` there per check, polling until the
 * check passes (exit 0) or its deadline (exit 1) — this process cannot enter the namespace itself.
 */
const NETNS_PROBE = `
const [kind, host, port, ms] = process.argv.slice(1);
const end = Date.now() + Number(ms);
const once = () => kind === 'tcp'
  ? new Promise((r) => { const s = require('node:net').connect(Number(port), host, () => { s.destroy(); r(true); }); s.on('error', () => r(false)); })
  : fetch('http://' + host + ':' + port + '/healthz').then((x) => x.status === 200, () => false);
(async () => { for (;;) { if (await once()) process.exit(0); if (Date.now() > end) process.exit(1); await new Promise((r) => setTimeout(r, 200)); } })();
`;

async function probeInNetns(netns: string, kind: 'tcp' | 'http', host: string, port: number, timeoutMs: number, proc: ChildProcess): Promise<boolean> {
  const p = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', NETNS_PROBE, kind, host, String(port), String(timeoutMs)], { stdio: 'ignore' });
  const died = new Promise<boolean>((r) => (proc.exitCode !== null ? r(false) : proc.once('exit', () => r(false))));
  const ok = await Promise.race([new Promise<boolean>((r) => p.once('exit', (code) => r(code === 0))), died]);
  if (p.exitCode === null) p.kill('SIGKILL');
  return ok;
}

async function waitTcp(name: string, port: number, proc: ChildProcess, logs: string, netns?: string): Promise<void> {
  if (netns !== undefined) {
    if (await probeInNetns(netns, 'tcp', '127.0.0.1', port, 15_000, proc)) return;
  } else if (await waitForListener(port, { timeoutMs: 15_000, everyMs: 100, alive: () => proc.exitCode === null })) return;
  throw new SwarmbootError('STACK_START_FAILED', `${name} did not start on port ${port} (is it installed? scripts/install-deps.sh installs it)\n${await tail(logs, name)}`);
}

async function waitHealthy(name: string, host: string, port: number, proc: ChildProcess, logs: string, timeoutMs: number, netns?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  if (netns !== undefined) {
    if (await probeInNetns(netns, 'http', host, port, timeoutMs, proc)) return;
  }
  while (netns === undefined && Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    const res = await fetch(`http://${host}:${port}/healthz`).catch(() => undefined);
    if (res?.status === 200) return;
    await sleep(200);
  }
  throw new SwarmbootError('STACK_START_FAILED', `${name} did not become healthy (GET ${host}:${port}/healthz${netns === undefined ? '' : ` in netns ${netns}`})\n${await tail(logs, name)}`);
}
