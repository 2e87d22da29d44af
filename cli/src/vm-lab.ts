import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { SwarmbootError } from '@swarmboot/contracts';
import { QmpSession } from '@swarmboot/power';

const pexec = promisify(execFile);

/*
 * The VM lab: one network namespace holding a bridge with the stack's address and one tap per
 * qemu VM, so the VMs' PXE ROMs see a broadcast segment where swarmboot's dhcp (67) and tftp (69)
 * answer, and nothing reaches the machine's own network. Pure infrastructure: it knows qemu, ip
 * and files, not swarmboot's API. Same shape as the netns tests (services/dhcp/test/integration/
 * netns.ts, bench/swarm/run.sh): `ip netns add`, devices created inside the namespace, cleanup
 * by deleting the namespace.
 */

/**
 * Addresses of the lab's segment: RFC 2544 benchmarking space (198.18.0.0/15), never routed, as
 * in the tftp netns tests (198.18.0.0/30 there, 198.18.77.0/24 here so both can run at once).
 */
export const LabNet = {
  host: '198.18.77.1',
  prefix: 24,
  subnet: '198.18.77.0/24',
  poolFirst: '198.18.77.100',
  poolLast: '198.18.77.199',
} as const;

/** The bridge's name inside the lab's namespace. */
export const LAB_BRIDGE = 'br0';

export interface LabOptions {
  /** VM disks and consoles go to DIR/vms/<id>/ */
  workDir: string;
  /** namespace name prefix; the name is `<prefix>-<pid>-<random>` (default `sbvms`) */
  prefix?: string;
}

export interface VmSpec {
  /** node id; the VM's files are DIR/vms/<id>/ */
  id: string;
  /** NIC MAC, `xx:xx:xx:xx:xx:xx` */
  mac: string;
  /** guest RAM, MiB (default 2048: the install environment holds the image in RAM) */
  memMiB?: number;
  /** size of the empty sparse disk created when DIR/vms/<id>/disk.raw is missing, bytes (default 4 GiB) */
  diskBytes?: number;
  /** OVMF instead of SeaBIOS */
  uefi?: boolean;
  /** -accel kvm instead of tcg (here /dev/kvm resets guests: off unless asked) */
  kvm?: boolean;
  /**
   * start it powered off (`-S`, QEMU's `prelaunch`) with its QMP socket at `Lab.qmpSocket(id)`:
   * whoever holds the socket — the power service's QMP driver — powers it on. Default false:
   * powered on at once, no QMP socket
   */
  poweredOff?: boolean;
}

export interface Vm {
  id: string;
  mac: string;
  dir: string;
  disk: string;
  consoleLog: string;
  /**
   * Date.now() when the VM began to run: qemu's start, or for a VM started powered off its
   * first QMP RESUME event (the first `cont`); undefined until then
   */
  readonly powerOnAt: number | undefined;
  /** resolves with `powerOnAt` once the VM runs (never, for a VM nobody powers on) */
  poweredOn: Promise<number>;
  /** the VM's QMP socket (a VM started powered off), its BMC for the power service */
  qmpSocket?: string | undefined;
  console: ConsoleWatcher;
  proc: ChildProcess;
  /** resolves with qemu's exit code (or signal) when it ends */
  exited: Promise<string>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when qemu is gone */
  stop(): Promise<void>;
}

export interface Lab {
  netns: string;
  workDir: string;
  /** Runs a command inside the namespace to its end; rejects on non-zero exit or timeout. */
  exec(cmd: string, args: string[], timeoutMs?: number): Promise<string>;
  /** Starts a long-running command inside the namespace (stdout+stderr piped). */
  spawn(cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess;
  /**
   * Creates the VM's tap on the bridge and starts qemu (network first, then its disk): powered on,
   * or powered off with its QMP socket (`poweredOff`), resolving once that socket answers.
   */
  startVm(spec: VmSpec): Promise<Vm>;
  /**
   * Where the QMP socket of VM `id` is (under a short temp dir: a unix socket path has at most
   * 108 bytes) — known before the VM starts, for the power service's inventory.
   */
  qmpSocket(id: string): string;
  /**
   * A port on this machine's loopback that reaches `host:port` inside the namespace (through a
   * unix socket, so nothing is added to the machine's own network). The API client uses it.
   */
  forward(port: number, host?: string): Promise<number>;
  /** Stops every VM and forwarder, deletes the namespace. Idempotent; never throws. */
  destroy(): Promise<void>;
}

const QEMU = 'qemu-system-x86_64';
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS.fd';
const DEFAULT_MEM_MIB = 2048;
const DEFAULT_DISK_BYTES = 4 * 1024 ** 3;

/** Why a lab cannot be made here, or undefined when it can (root, ip, qemu, the iPXE ROM of virtio-net). */
export async function labUnavailable(o: { uefi?: boolean } = {}): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, tap devices)';
  for (const tool of ['ip', QEMU]) {
    if (await pexec('sh', ['-c', `command -v ${tool}`]).then(() => false, () => true)) return `${tool} is not installed (Debian: iproute2, qemu-system-x86)`;
  }
  if (!existsSync('/usr/share/qemu/efi-virtio.rom') && !existsSync('/usr/lib/ipxe/qemu/efi-virtio.rom')) return 'the iPXE ROM of virtio-net is missing (Debian: ipxe-qemu)';
  if (o.uefi && !(existsSync(OVMF_CODE) && existsSync(OVMF_VARS))) return `${OVMF_CODE} is missing (Debian: ovmf)`;
  return undefined;
}

/** Labs alive in this process, destroyed on SIGINT/SIGTERM before the process ends. */
const alive = new Set<{ destroySync(): void }>();
let signalsHooked = false;
function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const l of alive) l.destroySync();
      // the default action, which our listener replaced: end with 128 + signal number
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/**
 * The qemu command line of one VM (pure). Boot order by `bootindex`: the NIC first (its iPXE ROM
 * does DHCP and runs the boot script; the script's `exit` hands back to the firmware), the disk
 * second — SeaBIOS and OVMF both follow bootindex. No `-no-reboot`: the node reboots itself after
 * installing and must come back from its disk. Serial console to `consoleLog`; SeaBIOS mirrors
 * its text console (and with it iPXE's) to the serial port when fw_cfg `etc/sercon-port` is set.
 */
export function qemuArgs(v: {
  mac: string;
  disk: string;
  consoleLog: string;
  memMiB: number;
  tap?: string | undefined;
  uefi?: { code: string; vars: string } | undefined;
  kvm?: boolean | undefined;
  serconFile?: string | undefined;
  snapshot?: boolean | undefined;
  /** `-S`: start in QEMU's `prelaunch` state, powered off until a QMP `cont` */
  paused?: boolean | undefined;
  /** a QMP monitor (`-qmp unix:PATH,server=on,wait=off`) on each of these socket paths */
  qmp?: readonly string[] | undefined;
}): string[] {
  const args = ['-accel', v.kvm ? 'kvm' : 'tcg', '-m', String(v.memMiB), '-smp', '1', '-display', 'none', '-monitor', 'none', '-nodefaults'];
  if (v.paused) args.push('-S');
  for (const sock of v.qmp ?? []) args.push('-qmp', `unix:${sock},server=on,wait=off`);
  args.push('-chardev', `file,id=con0,path=${v.consoleLog},append=on`, '-serial', 'chardev:con0');
  if (v.uefi) {
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${v.uefi.code}`, '-drive', `if=pflash,format=raw,unit=1,file=${v.uefi.vars}`);
  } else if (v.serconFile) {
    args.push('-fw_cfg', `name=etc/sercon-port,file=${v.serconFile}`);
  }
  args.push('-drive', `file=${v.disk},if=none,id=disk0,format=raw${v.snapshot ? ',snapshot=on' : ''}`);
  if (v.tap) {
    args.push('-netdev', `tap,id=net0,ifname=${v.tap},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=net0,mac=${v.mac},bootindex=1`);
    args.push('-device', 'virtio-blk-pci,drive=disk0,bootindex=2');
  } else {
    args.push('-nic', 'none', '-device', 'virtio-blk-pci,drive=disk0,bootindex=1');
  }
  return args;
}

async function sh(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  try {
    const { stdout } = await pexec(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new SwarmbootError('LAB_FAILED', `${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

/** SeaBIOS reads `etc/sercon-port` as a little-endian integer: 0x3f8 = COM1. */
async function serconFile(dir: string): Promise<string> {
  const f = join(dir, 'sercon-port.bin');
  await writeFile(f, Buffer.from([0xf8, 0x03]));
  return f;
}

/** An empty sparse file of `bytes` (no blocks allocated until the guest writes). */
export async function sparseFile(path: string, bytes: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(bytes);
  } finally {
    await fh.close();
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
async function stopProc(p: ChildProcess, graceMs = 5000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await Promise.race([exited, sleep(graceMs)]);
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGKILL');
    await exited;
  }
}

/*
 * The namespace half of `forward`: a unix socket (reachable from any namespace) piped to a TCP
 * address inside the namespace. Runs as `node -e` under `ip netns exec`, so it needs no file.
 */
const FORWARDER = `
const net = require('node:net');
const [sock, host, port] = process.argv.slice(1);
const srv = net.createServer((c) => {
  const u = net.connect(Number(port), host);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
  c.pipe(u).pipe(c);
});
srv.listen(sock, () => process.stdout.write('ready\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

/**
 * Creates the namespace `<prefix>-<pid>-<rand>` with lo up and bridge br0 holding
 * LabNet.host/24, plus a route for 255.255.255.255 by the bridge (dhcp's broadcast replies; its
 * README: "The server's network namespace needs a route for 255.255.255.255"). Throws LAB_FAILED
 * (and removes what it made) when a step fails.
 */
export async function createLab(o: LabOptions): Promise<Lab> {
  const netns = `${o.prefix ?? 'sbvms'}-${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
  const workDir = o.workDir;
  await mkdir(join(workDir, 'vms'), { recursive: true });
  // unix socket paths are limited to 108 bytes: keep them under a short temp dir
  const sockDir = await mkdtemp(join(tmpdir(), 'sbvms-'));
  const vms: Vm[] = [];
  const procs: ChildProcess[] = [];
  const servers: Server[] = [];
  let taps = 0;
  let destroyed = false;

  const destroySync = (): void => {
    if (destroyed) return;
    destroyed = true;
    for (const p of [...vms.map((v) => v.proc), ...procs]) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    // whatever else runs in the namespace (a stack started with `netns`): a namespace lives on,
    // unnamed, while a process is inside it
    try {
      for (const pid of execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    } catch {
      // no such namespace
    }
    try {
      execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    rmSync(sockDir, { recursive: true, force: true });
  };
  const entry = { destroySync };

  const lab: Lab = {
    netns,
    workDir,
    exec: (cmd, args, timeoutMs = 30_000) => sh('ip', ['netns', 'exec', netns, cmd, ...args], timeoutMs),
    spawn: (cmd, args, env = process.env) => {
      const p = spawn('ip', ['netns', 'exec', netns, cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(p);
      return p;
    },

    async startVm(spec) {
      const dir = join(workDir, 'vms', spec.id);
      await mkdir(dir, { recursive: true });
      const disk = join(dir, 'disk.raw');
      if (!existsSync(disk)) await sparseFile(disk, spec.diskBytes ?? DEFAULT_DISK_BYTES);
      const consoleLog = join(dir, 'console.log');
      await writeFile(consoleLog, '');
      // interface names: at most 15 bytes
      const tap = `tap${++taps}`;
      await sh('ip', ['-n', netns, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      await sh('ip', ['-n', netns, 'link', 'set', tap, 'master', LAB_BRIDGE, 'up']);
      let uefi: { code: string; vars: string } | undefined;
      if (spec.uefi) {
        uefi = { code: OVMF_CODE, vars: join(dir, 'OVMF_VARS.fd') };
        if (!existsSync(uefi.vars)) await copyFile(OVMF_VARS, uefi.vars);
      }
      // powered off: one QMP socket for the power service (its BMC), one the lab watches for the
      // power-on (qemu serves one client per QMP socket at a time: the two must not share one)
      const qmp = spec.poweredOff ? { bmc: lab.qmpSocket(spec.id), watch: join(sockDir, `${spec.id}.watch`) } : undefined;
      const args = qemuArgs({
        mac: spec.mac, disk, consoleLog, memMiB: spec.memMiB ?? DEFAULT_MEM_MIB, tap, uefi, kvm: spec.kvm, serconFile: spec.uefi ? undefined : await serconFile(dir),
        paused: spec.poweredOff, qmp: qmp === undefined ? undefined : [qmp.bmc, qmp.watch],
      });
      return launchVm({ id: spec.id, mac: spec.mac, dir, disk, consoleLog, argv: ['ip', 'netns', 'exec', netns, QEMU, ...args], track: vms, qmp });
    },

    qmpSocket: (id) => join(sockDir, `${id}.qmp`),

    async forward(port, host = LabNet.host) {
      const sock = join(sockDir, `p${port}.sock`);
      const p = lab.spawn(process.execPath, ['-e', FORWARDER, sock, host, String(port)]);
      const ready = await new Promise<boolean>((resolve) => {
        p.stdout?.once('data', () => resolve(true));
        p.once('exit', () => resolve(false));
      });
      if (!ready) throw new SwarmbootError('LAB_FAILED', `the forwarder to ${host}:${port} in ${netns} did not start`);
      const srv = createServer((c) => {
        const u = createConnection(sock);
        c.on('error', () => u.destroy());
        u.on('error', () => c.destroy());
        c.pipe(u).pipe(c);
      });
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
      const a = srv.address();
      return typeof a === 'object' && a ? a.port : 0;
    },

    async destroy() {
      if (destroyed) return;
      await Promise.all(vms.map((v) => v.stop()));
      await Promise.all(procs.map((p) => stopProc(p, 3000)));
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      destroySync();
      alive.delete(entry);
    },
  };

  alive.add(entry);
  hookSignals();
  try {
    await sh('ip', ['netns', 'add', netns]);
    await sh('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['-n', netns, 'link', 'add', LAB_BRIDGE, 'type', 'bridge']);
    await sh('ip', ['-n', netns, 'addr', 'add', `${LabNet.host}/${LabNet.prefix}`, 'dev', LAB_BRIDGE]);
    await sh('ip', ['-n', netns, 'link', 'set', LAB_BRIDGE, 'up']);
    await sh('ip', ['-n', netns, 'route', 'add', '255.255.255.255/32', 'dev', LAB_BRIDGE]);
  } catch (err) {
    await lab.destroy();
    throw err;
  }
  return lab;
}

/**
 * Spawns qemu. With `qmp`, qemu was started powered off: waits (10 s at most) for its watch
 * socket, connects, and takes the first RESUME event (QMP: sent when the VM starts running) as
 * the power-on. Throws LAB_FAILED when the watch socket does not answer.
 */
async function launchVm(v: { id: string; mac: string; dir: string; disk: string; consoleLog: string; argv: string[]; track?: Vm[]; qmp?: { bmc: string; watch: string } | undefined }): Promise<Vm> {
  const stderrLog = join(v.dir, 'qemu.log');
  const proc = spawn(v.argv[0]!, v.argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let powerOnAt = v.qmp === undefined ? Date.now() : undefined;
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  const exited = new Promise<string>((resolve) => {
    proc.once('error', (err) => resolve(`error: ${err.message}`));
    proc.once('exit', (code, signal) => {
      void writeFile(stderrLog, stderr).catch(() => undefined);
      resolve(signal ?? String(code));
    });
  });
  const console = new ConsoleWatcher(v.consoleLog, powerOnAt ?? Date.now());
  let watch: QmpSession | undefined;
  let poweredOn: Promise<number> = Promise.resolve(powerOnAt ?? 0);
  if (v.qmp !== undefined) {
    const sock = v.qmp.watch;
    for (let i = 0; i < 100 && !existsSync(sock) && proc.exitCode === null; i++) await sleep(100);
    // the session lives as long as qemu; only its opening is bounded (10 s)
    const stop = new AbortController();
    void exited.then(() => stop.abort(new Error('qemu exited')));
    const opening = setTimeout(() => stop.abort(new Error('no QMP greeting within 10 s')), 10_000);
    watch = await QmpSession.open(sock, stop.signal, () => false)
      .catch((err: unknown) => {
        proc.kill('SIGKILL');
        throw new SwarmbootError('LAB_FAILED', `${v.id}: qemu's QMP socket ${sock} did not answer: ${(err as Error).message}; ${stderr.trim().split('\n').slice(-3).join(' | ')}`, { cause: err });
      })
      .finally(() => clearTimeout(opening));
    poweredOn = watch.waitEvent('RESUME', 0).then(() => {
      powerOnAt = Date.now();
      // nothing was on the console before: a VM in prelaunch runs no firmware
      console.startedAt = powerOnAt;
      return powerOnAt;
    });
    // a VM nobody powered on: the promise stays pending for whoever waits, without an unhandled rejection
    poweredOn.catch(() => undefined);
  }
  const vm: Vm = {
    id: v.id,
    mac: v.mac,
    dir: v.dir,
    disk: v.disk,
    consoleLog: v.consoleLog,
    get powerOnAt() {
      return powerOnAt;
    },
    poweredOn,
    qmpSocket: v.qmp?.bmc,
    console,
    proc,
    exited,
    async stop() {
      watch?.close();
      await stopProc(proc);
      await console.close();
    },
  };
  console.until(exited.then((why) => `qemu exited (${why}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
  v.track?.push(vm);
  return vm;
}

/** A console line and when it was first seen, ms after power-on. */
export interface ConsoleLine {
  atMs: number;
  text: string;
}

/**
 * Follows a VM's serial console file (polling every 200 ms: inotify is not reliable for a file
 * qemu keeps open and appends to). Lines are kept with the time they were first seen since
 * power-on, without terminal escape sequences. `waitFor` resolves with the first line matching a
 * pattern at or after a given line index.
 */
export class ConsoleWatcher {
  readonly lines: ConsoleLine[] = [];
  private offset = 0;
  private partial = '';
  /** UTF-8 (the install environment and getty write it), a character split across reads kept whole */
  private decoder = new StringDecoder('utf8');
  private timer: NodeJS.Timeout;
  private endReason: string | undefined;
  private waiters = new Set<() => void>();

  constructor(
    readonly file: string,
    /** Date.now() of the power-on: lines' `atMs` count from it (set later for a VM started powered off) */
    public startedAt: number,
  ) {
    this.timer = setInterval(() => void this.poll(), 200);
    this.timer.unref();
  }

  /** After `reason` resolves, waits fail with it (the VM is gone) once the file is read to its end. */
  until(reason: Promise<string>): void {
    void reason.then(async (why) => {
      await this.poll();
      this.endReason = why;
      for (const w of this.waiters) w();
    });
  }

  /** Index of the next line: pass it to `waitFor` to match only what comes after now. */
  mark(): number {
    return this.lines.length;
  }

  /** Index of the first line seen at or after `ms` since power-on (the next line's index when none yet). */
  markAt(ms: number): number {
    const i = this.lines.findIndex((l) => l.atMs >= ms);
    return i < 0 ? this.lines.length : i;
  }

  /** The last `n` lines, as text. */
  tail(n = 20): string[] {
    return this.lines.slice(-n).map((l) => l.text);
  }

  /**
   * Resolves with the first line matching `pattern` at index ≥ `from` (default 0). Throws
   * VM_CONSOLE_TIMEOUT after `timeoutMs`, or VM_EXITED when qemu ends first — both carrying the
   * last console lines.
   */
  async waitFor(pattern: RegExp, o: { from?: number; timeoutMs: number }): Promise<ConsoleLine & { index: number }> {
    const deadline = Date.now() + o.timeoutMs;
    let i = o.from ?? 0;
    for (;;) {
      await this.poll();
      for (; i < this.lines.length; i++) {
        const l = this.lines[i]!;
        if (pattern.test(l.text)) return { ...l, index: i };
      }
      if (this.endReason !== undefined) throw new SwarmbootError('VM_EXITED', `${this.endReason}; waiting for ${pattern}; last console lines:\n${this.tail().join('\n')}`);
      if (Date.now() > deadline) throw new SwarmbootError('VM_CONSOLE_TIMEOUT', `no ${pattern} on ${this.file} within ${Math.round(o.timeoutMs / 1000)} s; last console lines:\n${this.tail().join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, 200);
        function done(): void {
          clearTimeout(t);
          resolve();
        }
        this.waiters.add(done);
      });
      this.waiters.clear();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.poll();
  }

  private polling: Promise<void> | undefined;
  /** Reads what was appended since the last poll. */
  poll(): Promise<void> {
    this.polling ??= this.read().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async read(): Promise<void> {
    const fh = await open(this.file, 'r').catch(() => undefined);
    if (!fh) return;
    let buf: Buffer;
    try {
      const size = (await fh.stat()).size;
      if (size <= this.offset) return;
      buf = Buffer.alloc(size - this.offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
      buf = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
    const now = Date.now() - this.startedAt;
    const text = this.partial + this.decoder.write(buf);
    this.offset += buf.length;
    const parts = text.split(/\r?\n|\r(?!\n)/);
    this.partial = parts.pop() ?? '';
    for (const p of parts) {
      const clean = stripTerminal(p);
      if (clean.trim()) this.lines.push({ atMs: now, text: clean });
    }
    // a prompt (`login: `) has no newline after it: keep it visible as a line of its own
    if (/login:\s*$/.test(stripTerminal(this.partial))) {
      this.lines.push({ atMs: now, text: stripTerminal(this.partial) });
      this.partial = '';
    }
  }
}

/** Removes ANSI escape sequences and backspaces (SeaBIOS, iPXE and getty draw with them). */
export function stripTerminal(s: string): string {
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[A-Za-z=>]/g, '').replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '');
}

/**
 * Boots an existing disk image alone — no network (`-nic none`), disk only — until `pattern`
 * (default: a login prompt) appears on its serial console, then powers it off. The disk is opened
 * with `snapshot=on` unless `writable`: the check leaves the kept disk as the install wrote it.
 * Resolves with whether it got there and how long it took; never throws for a guest that does
 * not boot (that is the answer), only LAB_FAILED when qemu cannot start.
 */
export async function bootDiskAlone(o: {
  disk: string;
  consoleLog: string;
  uefi?: boolean;
  kvm?: boolean;
  memMiB?: number;
  pattern?: RegExp;
  timeoutMs?: number;
  writable?: boolean;
}): Promise<{ ok: boolean; ms: number; line?: string; tail: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'sbvms-disk-'));
  try {
    await writeFile(o.consoleLog, '');
    let uefi: { code: string; vars: string } | undefined;
    if (o.uefi) {
      uefi = { code: OVMF_CODE, vars: join(dir, 'OVMF_VARS.fd') };
      await copyFile(OVMF_VARS, uefi.vars);
    }
    const args = qemuArgs({ mac: '', disk: o.disk, consoleLog: o.consoleLog, memMiB: o.memMiB ?? 1024, uefi, kvm: o.kvm, serconFile: o.uefi ? undefined : await serconFile(dir), snapshot: !o.writable });
    const vm = await launchVm({ id: 'disk-check', mac: '', dir, disk: o.disk, consoleLog: o.consoleLog, argv: [QEMU, ...args] });
    try {
      const hit = await vm.console.waitFor(o.pattern ?? /login:/, { timeoutMs: o.timeoutMs ?? 10 * 60_000 });
      return { ok: true, ms: hit.atMs, line: hit.text, tail: vm.console.tail() };
    } catch (err) {
      if ((err as { code?: string }).code === 'VM_EXITED' && vm.console.lines.length === 0) {
        throw new SwarmbootError('LAB_FAILED', `qemu did not start for ${o.disk}: ${(err as Error).message}`, { cause: err });
      }
      return { ok: false, ms: Date.now() - (vm.powerOnAt ?? Date.now()), tail: vm.console.tail() };
    } finally {
      await vm.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
