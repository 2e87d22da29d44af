import { createConnection, type Socket } from 'node:net';
import { SwarmbootError, type PowerAction } from '@swarmboot/contracts';
import type { BmcTarget } from '../domain/inventory.js';
import { encodeQmpCommand, parseQmpMessage, QmpLineSplitter, type QmpMessage } from '../protocol/qmp.js';
import type { DriverResult, PowerDriver } from './driver.js';

/** Time limit of the QMP driver. */
export interface QmpOptions {
  /** limit of one whole operation (connect, greeting, every command, the RESET event), ms */
  timeoutMs: number;
}

type QmpEvent = Extract<QmpMessage, { kind: 'event' }>;

/**
 * One QMP connection to a qemu monitor socket: greeting, `qmp_capabilities`, then commands one at
 * a time (each with an `id`, its answer matched by it) and the events QEMU sends meanwhile, kept
 * in order for `waitEvent`. Every failure is a SwarmbootError: BMC_UNREACHABLE (no socket,
 * nobody listening, the connection closed), BMC_AUTH_FAILED (the socket's permissions refuse us),
 * BMC_TIMEOUT (`signal` fired because of the time limit), BMC_RESPONSE_INVALID (not QMP),
 * BMC_REJECTED (QEMU answered a command with an error: its class and desc). When `signal` aborts
 * for another reason (shutdown) its reason is thrown as is.
 */
export class QmpSession {
  private readonly events: QmpEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void; what: string }>();
  private greeting: { resolve: (m: Extract<QmpMessage, { kind: 'greeting' }>) => void; reject: (e: unknown) => void } | undefined;
  private failure: unknown;
  private nextId = 1;

  private constructor(
    private readonly socket: Socket,
    readonly path: string,
    private readonly signal: AbortSignal,
    private readonly timedOut: () => boolean,
  ) {}

  /**
   * Connects to the monitor at `path`, reads the greeting and leaves capabilities negotiation
   * mode (no capability enabled: no out-of-band commands). `timedOut()` tells a time limit apart
   * from a shutdown when `signal` aborts.
   */
  static async open(path: string, signal: AbortSignal, timedOut: () => boolean): Promise<QmpSession> {
    signal.throwIfAborted();
    const socket = createConnection(path);
    const s = new QmpSession(socket, path, signal, timedOut);
    const greeted = new Promise<Extract<QmpMessage, { kind: 'greeting' }>>((resolve, reject) => (s.greeting = { resolve, reject }));
    const splitter = new QmpLineSplitter();
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const line of splitter.push(chunk)) s.dispatch(parseQmpMessage(line));
      } catch (err) {
        s.fail(err);
      }
    });
    socket.on('error', (err) => s.fail(connectionError(path, err)));
    socket.on('close', () => s.fail(new SwarmbootError('BMC_UNREACHABLE', `${path}: QEMU closed the QMP connection`)));
    const onAbort = (): void => s.fail(s.timedOut() ? new SwarmbootError('BMC_TIMEOUT', `${path}: no QMP answer in time${s.greeting === undefined ? '' : ' (no greeting: qemu serves one QMP client at a time — is another connected?)'}`) : signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => signal.removeEventListener('abort', onAbort));
    try {
      await greeted;
      await s.execute('qmp_capabilities');
    } catch (err) {
      s.close();
      throw err;
    }
    return s;
  }

  /** Runs one command; resolves with its `return` value. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    const what = `${command}${args === undefined ? '' : ` ${JSON.stringify(args)}`}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, what });
      this.socket.write(encodeQmpCommand(command, args, id));
    });
  }

  /** Index of the next event: pass it to `waitEvent` to match only what comes after now. */
  mark(): number {
    return this.events.length;
  }

  /** The events QEMU sent from index `from` on, in order. */
  eventsSince(from = 0): readonly QmpEvent[] {
    return this.events.slice(from);
  }

  /** The first event named `name` at index ≥ `from`, once it arrives (bounded by the session's signal). */
  async waitEvent(name: string, from: number): Promise<QmpEvent> {
    for (let i = from; ; ) {
      for (; i < this.events.length; i++) if (this.events[i]!.event === name) return this.events[i]!;
      if (this.failure !== undefined) throw this.failure;
      await new Promise<void>((resolve) => this.waiters.add(resolve));
    }
  }

  /** Ends the connection (QEMU then serves its next client). */
  close(): void {
    this.failure ??= new SwarmbootError('BMC_UNREACHABLE', `${this.path}: QMP session closed`);
    this.socket.destroy();
  }

  private dispatch(m: QmpMessage): void {
    switch (m.kind) {
      case 'greeting':
        this.greeting?.resolve(m);
        this.greeting = undefined;
        return;
      case 'event':
        this.events.push(m);
        for (const w of this.waiters) w();
        this.waiters.clear();
        return;
      case 'return':
      case 'error': {
        const p = typeof m.id === 'number' ? this.pending.get(m.id) : undefined;
        if (p === undefined) throw new SwarmbootError('BMC_RESPONSE_INVALID', `${this.path}: a QMP answer to no command we sent (id ${JSON.stringify(m.id)})`);
        this.pending.delete(m.id as number);
        if (m.kind === 'return') p.resolve(m.value);
        else p.reject(new SwarmbootError('BMC_REJECTED', `${this.path}: ${p.what}: ${m.errorClass}: ${m.desc}`, { context: { qmpClass: m.errorClass } }));
        return;
      }
    }
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.greeting?.reject(err);
    this.greeting = undefined;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const w of this.waiters) w();
    this.waiters.clear();
    this.socket.destroy();
  }
}

/** Maps a socket error of the connection to a BMC_* code. */
function connectionError(path: string, err: NodeJS.ErrnoException): SwarmbootError {
  if (err.code === 'ENOENT') return new SwarmbootError('BMC_UNREACHABLE', `${path}: no QMP socket there (is the VM's qemu running with -qmp unix:${path},server=on,wait=off?)`, { cause: err });
  if (err.code === 'ECONNREFUSED') return new SwarmbootError('BMC_UNREACHABLE', `${path}: nobody listens on the QMP socket (qemu gone, the file left behind)`, { cause: err });
  if (err.code === 'EACCES' || err.code === 'EPERM') return new SwarmbootError('BMC_AUTH_FAILED', `${path}: the socket's permissions refuse this process (${err.code})`, { cause: err });
  if (err.code === 'ENOTSOCK') return new SwarmbootError('BMC_UNREACHABLE', `${path}: not a socket`, { cause: err });
  return new SwarmbootError('BMC_UNREACHABLE', `${path}: ${err.message}`, { cause: err });
}

/** A device with a `bootindex` property: its QOM path, its boot index (-1: not in the boot order), whether it is a NIC. */
export interface BootDevice {
  path: string;
  bootindex: number;
  nic: boolean;
}

/** qom-set steps: each device to its new boot index, in order. */
export interface BootOverridePlan {
  /** the NIC the override puts first */
  nic: string;
  apply: { path: string; bootindex: number }[];
  /** the old indexes back (after an `apply` that failed half-way) */
  restore: { path: string; bootindex: number }[];
}

/**
 * The boot-order change that puts a NIC first (pure): the NIC with the lowest boot index (the
 * first one listed when none has one) gets 0, the other devices in the order keep their order
 * after it (1, 2, …). Only devices whose index changes are in the plan; `apply` is empty when the
 * NIC is first already. QEMU refuses a boot index another device holds ("The bootindex N has
 * already been used", softmmu/bootdevice.c check_boot_index), so `apply` first takes every
 * changed device out of the order (-1), then gives each its new index; `restore` does the same
 * with the old ones. Throws BMC_REJECTED when there is no NIC.
 */
export function bootOverridePlan(devices: readonly BootDevice[]): BootOverridePlan {
  const nics = devices.filter((d) => d.nic);
  const ordered = (ds: readonly BootDevice[]) => ds.filter((d) => d.bootindex >= 0).sort((a, b) => a.bootindex - b.bootindex);
  const nic = ordered(nics)[0] ?? nics[0];
  if (nic === undefined) throw new SwarmbootError('BMC_REJECTED', 'the VM has no NIC (a device with a mac and a bootindex property) to PXE-boot from');
  const others = ordered(devices.filter((d) => d !== nic));
  if (nic.bootindex >= 0 && others.every((d) => d.bootindex > nic.bootindex)) return { nic: nic.path, apply: [], restore: [] };
  const target = new Map<string, number>([[nic.path, 0]]);
  others.forEach((d, i) => target.set(d.path, i + 1));
  const changed = devices.filter((d) => target.has(d.path) && target.get(d.path) !== d.bootindex);
  const steps = (to: (d: BootDevice) => number) => (changed.length === 0 ? [] : [...changed.map((d) => ({ path: d.path, bootindex: -1 })), ...changed.map((d) => ({ path: d.path, bootindex: to(d) }))]);
  return { nic: nic.path, apply: steps((d) => target.get(d.path)!), restore: steps((d) => d.bootindex) };
}

/** QEMU run states (qapi/run-state.json RunState) in which the machine counts as powered on. */
const OnStates: ReadonlySet<string> = new Set(['running', 'suspended']);
/** Run states a `cont` cannot leave without a reset first (qmp_cont: "Resetting the Virtual Machine is required"). */
const NeedsReset: ReadonlySet<string> = new Set(['shutdown', 'guest-panicked', 'internal-error']);

/**
 * The BMC of a qemu VM: QEMU's Machine Protocol on the VM's monitor socket (`address`, started
 * with `-qmp unix:PATH,server=on,wait=off`; `-S` starts it powered off). Power state from
 * `query-status`: `running` or `suspended` → On; `prelaunch`, `paused`, `shutdown` and the rest → Off.
 * - `on`: `cont` (after `system_reset` from `shutdown`/`guest-panicked`/`internal-error`, which
 *   `cont` refuses); nothing when on. From `paused` this resumes where the VM stopped.
 * - `off`: `stop`, then `system_reset` — the vCPUs halt at once (no guest cooperation, like Redfish
 *   ForceOff) and the reset leaves the VM in `prelaunch`, so the next `on` starts from the
 *   firmware like a cold boot. Not `system_powerdown` (an ACPI request the guest may ignore: a
 *   firmware, a boot loader or an installer does) and not `quit` (qemu would exit, and nothing
 *   could power it on again).
 * - `cycle`: `system_reset` (waiting for its RESET event), then `cont` unless running.
 * - `pxe-boot`: a boot override to the NIC, then as `cycle`. QEMU gives the firmware its boot
 *   order as fw_cfg file `bootorder`, rebuilt from the devices' `bootindex` at every reset
 *   (hw/nvram/fw_cfg.c fw_cfg_machine_reset); `bootindex` can be set at run time (qom-set). So:
 *   put the NIC first (bootOverridePlan; nothing when it is first already, as in the VM lab),
 *   `system_reset`, `cont`. The override stays — unlike Redfish's `BootSourceOverrideEnabled:
 *   Once`: QEMU has no one-time flag, and the firmware rebuilds the order at the resets SeaBIOS
 *   makes itself at the start of a warm reboot, so putting the old indexes back right after our
 *   reset raced them and lost (measured here, QEMU 7.2: the disk booted). A node whose NIC stays
 *   first still reaches its disk: the scheduler's boot script sends an installed node there
 *   (`exit`), and OVMF follows the BootNext the agent sets before the order.
 * - `status`: nothing.
 * Errors: those of QmpSession; BMC_REJECTED when pxe-boot finds no NIC.
 */
export class QmpDriver implements PowerDriver {
  readonly name = 'qmp' as const;
  constructor(private readonly opts: QmpOptions) {}

  async run(action: PowerAction, target: BmcTarget, signal: AbortSignal): Promise<DriverResult> {
    const limit = AbortSignal.timeout(this.opts.timeoutMs);
    const s = await QmpSession.open(target.ref.address, AbortSignal.any([signal, limit]), () => limit.aborted);
    try {
      const status = await queryStatus(s);
      const on = OnStates.has(status);
      switch (action) {
        case 'status':
          break;
        case 'on':
          if (!on) await powerOn(s, status);
          break;
        case 'off':
          if (on) {
            await s.execute('stop');
            await reset(s);
          }
          break;
        case 'cycle':
          await reset(s);
          if ((await queryStatus(s)) !== 'running') await s.execute('cont');
          break;
        case 'pxe-boot':
          await pxeBoot(s);
          break;
      }
      return { powerState: on ? 'On' : 'Off' };
    } finally {
      s.close();
    }
  }
}

async function queryStatus(s: QmpSession): Promise<string> {
  const r = (await s.execute('query-status')) as { status?: unknown } | undefined;
  if (typeof r?.status !== 'string') throw new SwarmbootError('BMC_RESPONSE_INVALID', `${s.path}: query-status answered ${JSON.stringify(r).slice(0, 120)}`);
  return r.status;
}

async function powerOn(s: QmpSession, status: string): Promise<void> {
  if (NeedsReset.has(status)) await reset(s);
  await s.execute('cont');
}

/** `system_reset`, resolved once QEMU reports the reset done (event RESET; it may come before the command's answer). */
async function reset(s: QmpSession): Promise<void> {
  const mark = s.mark();
  await s.execute('system_reset');
  await s.waitEvent('RESET', mark);
}

async function pxeBoot(s: QmpSession): Promise<void> {
  const plan = bootOverridePlan(await bootDevices(s));
  const set = async (steps: BootOverridePlan['apply']) => {
    for (const st of steps) await s.execute('qom-set', { path: st.path, property: 'bootindex', value: st.bootindex });
  };
  try {
    await set(plan.apply);
  } catch (err) {
    // half-way, a device may be out of the order (-1): put every index back as it was
    await set(plan.restore).catch(() => undefined);
    throw err;
  }
  await reset(s);
  if ((await queryStatus(s)) !== 'running') await s.execute('cont');
}
/** The devices of the VM with a `bootindex` property (`-device …` under /machine/peripheral, without id under /machine/peripheral-anon). */
async function bootDevices(s: QmpSession): Promise<BootDevice[]> {
  const out: BootDevice[] = [];
  for (const root of ['/machine/peripheral', '/machine/peripheral-anon']) {
    for (const child of await qomList(s, root)) {
      if (!child.type.startsWith('child<')) continue;
      const path = `${root}/${child.name}`;
      const props = new Set((await qomList(s, path)).map((p) => p.name));
      if (!props.has('bootindex')) continue;
      const bootindex = await s.execute('qom-get', { path, property: 'bootindex' });
      if (typeof bootindex !== 'number') throw new SwarmbootError('BMC_RESPONSE_INVALID', `${s.path}: ${path} bootindex is ${JSON.stringify(bootindex)}`);
      out.push({ path, bootindex, nic: props.has('mac') });
    }
  }
  return out;
}

async function qomList(s: QmpSession, path: string): Promise<{ name: string; type: string }[]> {
  const r = await s.execute('qom-list', { path });
  if (!Array.isArray(r)) throw new SwarmbootError('BMC_RESPONSE_INVALID', `${s.path}: qom-list ${path} answered ${JSON.stringify(r).slice(0, 120)}`);
  return r.filter((p): p is { name: string; type: string } => typeof (p as { name?: unknown }).name === 'string' && typeof (p as { type?: unknown }).type === 'string');
}
