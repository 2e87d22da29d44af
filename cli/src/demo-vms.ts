import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { SwarmbootError, type AfterInstall, type Deployment, type ImageFormat, type Node, type TransferStats } from '@swarmboot/contracts';
import { SwarmbootClient } from '@swarmboot/kit';
import { assetPaths, ensureAssets } from './assets.js';
import { brokenBootSettings, BrokenBoots, corruptCatalogSha256, type BrokenBoot } from './broken-boot.js';
import { mb, waitUntil } from './demo.js';
import { defaultPorts, startStack, type Stack } from './stack.js';
import { bootDiskAlone, createLab, labUnavailable, LabNet, type Lab, type Vm } from './vm-lab.js';

const pexec = promisify(execFile);

export interface VmDemoOptions {
  /** qemu VMs, 1..32 */
  vms: number;
  /** OVMF instead of SeaBIOS */
  uefi?: boolean;
  /** what each VM does once released: reboot through its firmware (default), or kexec into the installed kernel */
  afterInstall?: AfterInstall;
  /** keep DIR/vms/<id>/{disk.raw,console.log,sink.jsonl (the log sink's lines of the node)} and DIR/logs/ here (default: a temp dir, removed after a clean run) */
  work?: string | undefined;
  /** bootable image (default: the cached debian-12-bootable.tar.zst); the seeder reads its format from the bytes */
  image?: string | undefined;
  /** install environment directory with vmlinuz and initrd.img (default: $cache/bootenv) */
  bootenvDir?: string | undefined;
  /** guest RAM, MiB (default 2048: the install environment holds itself and the image in RAM) */
  memMiB?: number;
  /** each VM's empty disk, bytes (default 4 GiB, sparse) */
  diskBytes?: number;
  /** -accel kvm (default tcg) */
  kvm?: boolean;
  /** seeder upload cap, bytes/s (default 20 MB/s, as `demo --nodes`) */
  seederUploadLimit?: number;
  /** power-on → installed, per VM (ms, default 20 min) */
  installTimeoutMs?: number;
  /** deployment created → the VM powered on by the power service, per VM (ms, default 20 min: later waves wait for capacity) */
  powerTimeoutMs?: number;
  /** release → login prompt from its own disk, per VM (ms, default 10 min) */
  bootTimeoutMs?: number;
  /** boot each installed disk again alone, without network, to a login prompt (default true) */
  checkDisks?: boolean;
  /**
   * between two power-ons (ms, default 1500): a boot storm is not what this demo shows. The power
   * service spaces them: SWARMBOOT_POWER_RATE_PER_SECOND = 1000 / staggerMs
   */
  staggerMs?: number;
  /** break every VM's install on purpose, one known way (broken-boot.ts): its failure and reason are the point */
  break?: BrokenBoot | undefined;
  /**
   * Watches the run from outside (the broken-boot test, the dashboard): awaited once every VM is
   * installed, failed or given up, before the release, so the stack is still up. Its error fails the demo.
   */
  observe?: (run: { apiUrl: string; deploymentId: string; nodeIds: string[] }) => Promise<void>;
  say: (msg: string) => void;
}

export interface VmResult {
  id: string;
  mac: string;
  ip?: string | undefined;
  state: string;
  reason?: string | undefined;
  /** when the VM began to run (its first QMP RESUME: the power service's `cont`); absent when never */
  powerOnAt?: string | undefined;
  /** the node's power requests and results (its timeline, source power) */
  power: VmPower;
  /** power-on → the node reported installed (from its timeline), ms */
  installedMs?: number | undefined;
  /** power-on → login prompt after the reboot, from its own disk, ms */
  firstDiskBootMs?: number | undefined;
  /** the node's state changes, ms after power-on */
  timeline: { state: string; atMs: number; reason?: string | undefined }[];
  /** milestones read on the serial console, ms after power-on */
  console: { dhcpMs?: number | undefined; bootScriptMs?: number | undefined; kernelMs?: number | undefined };
  stats?: TransferStats | undefined;
  /** the kept disk booted again alone, without network */
  diskCheck?: { ok: boolean; ms: number } | undefined;
  /** last console lines when the VM did not get through */
  consoleTail?: string[] | undefined;
}

/** A VM's power requests, as the scheduler's timeline recorded them. */
export interface VmPower {
  requests: number;
  completed: number;
  failed: number;
  /** the first request's event → its completed event, ms (NATS, the power service's queue, the QMP operation) */
  requestToCompletedMs?: number | undefined;
  /** the power service's own measure of that request: arrival → result, ms */
  serviceMs?: number | undefined;
  /** the first completed event → the VM running (its QMP RESUME), ms; negative: RESUME came first */
  completedToRunningMs?: number | undefined;
  /** the last failure's `CODE: message` */
  lastFailure?: string | undefined;
}

export interface VmDemoSummary {
  vms: number;
  firmware: 'bios' | 'uefi';
  installed: number;
  bootedFromDisk: number;
  failed: number;
  deploymentId: string;
  /** namespace + stack start-up until every /healthz answers, ms */
  stackStartMs: number;
  /** first power-on → last VM at its login prompt (or given up), ms */
  wallTimeMs: number;
  /** deployment created → first VM running (the scheduler's pxe-boot request through the power service), ms */
  deployToFirstPowerOnMs?: number | undefined;
  image: { name: string; file: string; format: ImageFormat; bytes: number; sha256: string };
  bytes: { fromSeeder: number; fromPeers: number; fromWebSeed: number; peerShare: number };
  nodes: VmResult[];
  workDir: string;
  kept: boolean;
  /** `--break`: what was broken and the reason code each VM should fail with */
  broken?: { kind: BrokenBoot; expected: string } | undefined;
}

/** VM i (1-based): id vm-NNN and a locally administered MAC 02:5b:01:… (demo --nodes uses 02:5b:00:…). */
export function vmNode(i: number): { id: string; mac: string; hostname: string; labels: Record<string, string> } {
  const id = `vm-${String(i).padStart(3, '0')}`;
  const mac = ['02', '5b', '01', '00', ((i >> 8) & 255).toString(16).padStart(2, '0'), (i & 255).toString(16).padStart(2, '0')].join(':');
  return { id, mac, hostname: id, labels: { demo: 'vms' } };
}

/** An image's format from its file name (pure). */
/** The catalog name of an image file: its base name without the archive suffixes (pure). */
export function imageName(file: string): string {
  return basename(file).replace(/(\.tar|\.raw)?(\.zst|\.xz|\.gz)?$/, '').replace(/[^A-Za-z0-9._-]/g, '-');
}

/**
 * The environment of the stack inside the lab (pure): every URL names the bridge's address; the
 * power service reads the VMs' QMP sockets from `powerBmcs` and starts at most
 * `powerPerSecond` power operations a second.
 */
export function labStackEnv(o: { seederUploadLimit: number; bootenvDir: string; powerBmcs: string; powerPerSecond: number }): { env: Record<string, string>; dhcp: Record<string, string>; power: Record<string, string> } {
  return {
    power: { SWARMBOOT_POWER_BMCS: o.powerBmcs, SWARMBOOT_POWER_RATE_PER_SECOND: String(o.powerPerSecond) },
    env: {
      SWARMBOOT_SEEDER_UPLOAD_LIMIT: String(o.seederUploadLimit),
      // served by the scheduler at /v1/bootenv/<file>: iPXE fetches kernel and initrd over HTTP
      SWARMBOOT_BOOTENV_DIR: o.bootenvDir,
    },
    dhcp: {
      // a socket bound to the bridge's address would not receive the clients' broadcasts
      SWARMBOOT_DHCP_LISTEN: '0.0.0.0:67',
      SWARMBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: LabNet.subnet, pool: `${LabNet.poolFirst}-${LabNet.poolLast}`, router: LabNet.host, nextServer: LabNet.host }]),
    },
  };
}

/** The power service's inventory for the lab (pure): node id → its VM's QMP socket (JSON, which YAML reads). */
export function labPowerInventory(nodes: readonly { id: string }[], qmpSocket: (id: string) => string): string {
  return `${JSON.stringify(Object.fromEntries(nodes.map((n) => [n.id, { driver: 'qmp', address: qmpSocket(n.id) }])), null, 2)}\n`;
}

const script = (name: string): string => fileURLToPath(new URL(`../../../scripts/${name}`, import.meta.url));

/**
 * The cached inputs of the VM demo, built when missing: the iPXE loaders (build-assets.sh), the
 * bootable image (build-assets.sh --bootable) and the install environment (build-bootenv.sh).
 * Throws ASSETS_FAILED naming the script that failed or is missing.
 */
async function ensureVmAssets(o: { image?: string | undefined; bootenvDir?: string | undefined; say: (m: string) => void }): Promise<{ image: string; bootenvDir: string; tftpRoot: string }> {
  await ensureAssets({ sampleOnly: true, say: o.say });
  const a = assetPaths();
  const image = resolve(o.image ?? a.bootableImage);
  const bootenvDir = resolve(o.bootenvDir ?? a.bootenvDir);
  const run = async (name: string, args: string[], makes: string): Promise<void> => {
    const file = script(name);
    if (!existsSync(file)) throw new SwarmbootError('ASSETS_FAILED', `${makes} is missing and ${file} does not exist to build it`);
    o.say(`${makes}: ${name} ${args.join(' ')} (cached in ${a.cache}; skipped when up to date)`);
    try {
      await pexec('bash', [file, ...args], { maxBuffer: 64 * 1024 * 1024 });
    } catch (err) {
      throw new SwarmbootError('ASSETS_FAILED', `scripts/${name} ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr?.slice(-2000) ?? String(err)}`, { cause: err });
    }
  };
  if (!existsSync(image)) {
    if (o.image !== undefined) throw new SwarmbootError('DEMO_INVALID', `image ${image} does not exist`);
    await run('build-assets.sh', ['--bootable'], `the bootable image ${image}`);
    if (!existsSync(image)) throw new SwarmbootError('ASSETS_FAILED', `scripts/build-assets.sh --bootable did not make ${image}`);
  }
  const bootenvFiles = ['vmlinuz', 'initrd.img'].map((f) => join(bootenvDir, f));
  if (o.bootenvDir !== undefined) {
    if (!bootenvFiles.every((f) => existsSync(f))) throw new SwarmbootError('DEMO_INVALID', `${bootenvDir} does not hold vmlinuz and initrd.img`);
  } else {
    // always: the script skips in seconds when its inputs (the agent bundle among them) are unchanged,
    // and rebuilds an environment cached by an older checkout, whose agent would not match this stack
    await run('build-bootenv.sh', [], `the install environment ${bootenvDir}`);
    if (!bootenvFiles.every((f) => existsSync(f))) throw new SwarmbootError('ASSETS_FAILED', `scripts/build-bootenv.sh did not make ${bootenvFiles.join(' and ')}`);
  }
  return { image, bootenvDir, tftpRoot: a.tftpRoot };
}

const secs = (ms: number | undefined): string => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

interface Tracked {
  node: ReturnType<typeof vmNode>;
  vm?: Vm;
  /** console line index when the node was first seen installed: its login prompt comes after */
  installedMark?: number;
  state: string;
  reason?: string | undefined;
  giveUp?: string;
  loginMs?: number;
  /** console lines up to here were looked at for `swarmboot:` progress lines */
  seen: number;
}

/**
 * `swarmboot demo --vms N`: the real counterpart of `demo --nodes`. In a lab namespace (vm-lab.ts)
 * it starts the whole stack on the bridge's address (dhcp 67, tftp 69; the power service with the
 * VMs' QMP sockets as their BMCs), registers the bootable image and N nodes through the public
 * API, starts N qemu VMs powered off, and deploys: the scheduler's `pxe-boot` requests make the
 * power service power each admitted VM on over QMP (the demo powers none itself). The VMs PXE-boot
 * the install environment and write their disks; the demo releases the deployment once every node is installed
 * (or failed), waits for each VM's login prompt from its own disk, then boots each kept disk once
 * more alone without network. Returns the summary; failures are in it (with the reason and the
 * last console lines), not thrown. Throws DEMO_INVALID (not root, bad options), ASSETS_FAILED,
 * STACK_START_FAILED, LAB_FAILED, DEMO_SERVICE_DIED.
 */
export async function runVmDemo(o: VmDemoOptions): Promise<VmDemoSummary> {
  if (!Number.isInteger(o.vms) || o.vms < 1 || o.vms > 32) throw new SwarmbootError('DEMO_INVALID', `--vms must be 1..32 (got ${o.vms})`);
  const why = await labUnavailable({ uefi: o.uefi === true });
  if (why) throw new SwarmbootError('DEMO_INVALID', `demo --vms ${why}`);
  const keep = o.work !== undefined;
  const workDir = resolve(o.work ?? (await mkdtemp(join(tmpdir(), 'swarmboot-vms-'))));
  await mkdir(workDir, { recursive: true });
  const assets = await ensureVmAssets({ image: o.image, bootenvDir: o.bootenvDir, say: o.say });
  const name = imageName(assets.image);

  const t0 = Date.now();
  o.say(`creating the lab (network namespace, bridge ${LabNet.host}/${LabNet.prefix}) and starting the stack in it (logs in ${join(workDir, 'logs')})`);
  const lab: Lab = await createLab({ workDir });
  let stack: Stack | undefined;
  let clean = false;
  try {
    const ports = { ...defaultPorts(), dhcp: 67, tftp: 69, syslog: 514 };
    const nodes = Array.from({ length: o.vms }, (_, i) => vmNode(i + 1));
    // the VMs' BMCs: their QMP sockets, known before they start
    const powerBmcs = join(workDir, 'power-bmcs.json');
    await writeFile(powerBmcs, labPowerInventory(nodes, (id) => lab.qmpSocket(id)));
    const env = labStackEnv({ seederUploadLimit: o.seederUploadLimit ?? 20_000_000, bootenvDir: assets.bootenvDir, powerBmcs, powerPerSecond: 1000 / (o.staggerMs ?? 1500) });
    const broken = brokenBootSettings(o.break);
    if (o.break) o.say(`--break ${o.break}: ${BrokenBoots[o.break].what} (expected reason ${BrokenBoots[o.break].code})`);
    stack = await startStack({
      workDir, netns: lab.netns, bind: LabNet.host, host: LabNet.host, ports, tftpRoot: assets.tftpRoot,
      env: env.env, serviceEnv: { dhcp: env.dhcp, power: env.power, scheduler: broken.schedulerEnv }, say: o.say,
    });
    const apiUrl = `http://127.0.0.1:${await lab.forward(ports.scheduler)}`;
    const seederUrl = `http://127.0.0.1:${await lab.forward(ports.seeder)}`;
    const stackStartMs = Date.now() - t0;
    o.say(`stack up in ${secs(stackStartMs)} (API ${stack.apiUrl} in the lab, ${apiUrl} from here)`);
    const api = new SwarmbootClient(apiUrl, seederUrl);

    const size = (await stat(assets.image)).size;
    o.say(`registering image ${name} (${mb(size)}): upload, sha256, .torrent, seeding`);
    const image = await api.addImage(assets.image, name, { bootable: true });
    o.say(`image ${name}: ${image.format}, infohash ${image.infoHash}`);
    await waitUntil('the scheduler to list the image', async () => (await api.images()).images.some((i) => i.name === name), 30_000);
    if (o.break === 'corrupt-image') {
      const wrong = await corruptCatalogSha256(`redis://127.0.0.1:${await lab.forward(ports.redis, '127.0.0.1')}`, name);
      o.say(`--break corrupt-image: the catalog now names sha256 ${wrong} for ${name} (its bytes have ${image.sha256})`);
    }

    await api.importNodes(nodes);
    // every VM starts powered off: the deployment's power requests (scheduler → power service →
    // QMP) turn them on, as they would real machines through their BMCs
    const memMiB = broken.memMiB ?? o.memMiB ?? 2048;
    const tracked: Tracked[] = nodes.map((node) => ({ node, state: 'registered', seen: 0 }));
    for (const t of tracked) {
      t.vm = await lab.startVm({ id: t.node.id, mac: t.node.mac, memMiB, diskBytes: broken.diskBytes ?? o.diskBytes ?? 4 * 1024 ** 3, uefi: o.uefi === true, kvm: o.kvm === true, poweredOff: true });
    }
    o.say(`${o.vms} VM(s) powered off (${o.uefi ? 'UEFI' : 'BIOS'}, ${memMiB} MiB, ${o.kvm ? 'kvm' : 'tcg'}); their BMCs: QMP sockets in ${powerBmcs}`);
    // before the call: the canary's power request is carried out while the scheduler answers it
    const deployedAt = Date.now();
    const created = await api.deploy({ image: name, nodes: nodes.map((n) => n.id), target: 'node', afterInstall: o.afterInstall ?? 'reboot' });
    o.say(`deployment ${created.id}: the scheduler asks the power service to PXE-boot each admitted node`);
    for (const t of tracked) {
      t.vm!.poweredOn.then(
        (at) => o.say(`${t.node.id}: powered on by the power service (QMP cont) ${secs(at - deployedAt)} after the deployment`),
        () => undefined, // qemu ended before anyone powered it on: the loop below reports it
      );
    }
    const firstOn = (): number => Math.min(...tracked.map((t) => t.vm!.powerOnAt ?? Infinity), Date.now());

    // follow the deployment until every node is installed, failed or out of time
    const installTimeout = o.installTimeoutMs ?? 20 * 60_000;
    const powerTimeout = o.powerTimeoutMs ?? 20 * 60_000;
    let dep: Deployment = created;
    let lastLine = 0;
    for (;;) {
      dep = await api.deployment(created.id);
      const now = Date.now();
      for (const t of tracked) {
        // the install environment's own progress lines (/init, the agent) as they appear
        const lines = t.vm!.console.lines;
        for (; t.seen < lines.length; t.seen++) if (/swarmboot:/.test(lines[t.seen]!.text)) o.say(`${t.node.id} | ${lines[t.seen]!.text.trim()}`);
        const n = dep.nodes.find((x) => x.id === t.node.id);
        if (n) {
          t.state = n.state;
          t.reason = n.reason;
        }
        if ((t.state === 'installed' || t.state === 'released') && t.installedMark === undefined) {
          // console lines from the moment the node reported installed (its timeline), not from
          // this poll: a node that reboots at once must not have its firmware banner missed
          const at = await installedAt(apiUrl, t.node.id);
          t.installedMark = at === undefined ? t.vm!.console.mark() : t.vm!.console.markAt(at - (t.vm!.powerOnAt ?? at) - 1000);
        }
        if (t.giveUp === undefined && t.state !== 'installed' && t.state !== 'released' && t.state !== 'failed') {
          const on = t.vm!.powerOnAt;
          if (t.vm!.proc.exitCode !== null || t.vm!.proc.signalCode !== null) t.giveUp = 'qemu exited';
          else if (on === undefined && now - deployedAt > powerTimeout) t.giveUp = `not powered on ${Math.round(powerTimeout / 1000)} s after the deployment${await lastPowerFailure(apiUrl, t.node.id)}`;
          else if (on !== undefined && now - on > installTimeout) t.giveUp = `not installed ${Math.round(installTimeout / 1000)} s after power-on`;
        }
      }
      if (tracked.every((t) => t.installedMark !== undefined || t.state === 'failed' || t.giveUp !== undefined)) break;
      const dead = await Promise.race([stack.died, sleep(2000).then(() => undefined)]);
      if (dead) throw new SwarmbootError('DEMO_SERVICE_DIED', `service ${dead} died during the demo; see ${join(workDir, 'logs', `${dead}.log`)}`);
      if (Date.now() - lastLine >= 10_000) {
        lastLine = Date.now();
        o.say(progressLine(tracked, (Date.now() - firstOn()) / 1000));
      }
    }
    o.say(progressLine(tracked, (Date.now() - firstOn()) / 1000));
    await o.observe?.({ apiUrl, deploymentId: created.id, nodeIds: nodes.map((n) => n.id) });

    // released: each installed node reboots, the scheduler's boot script exits to its disk
    const installed = tracked.filter((t) => t.installedMark !== undefined);
    if (installed.length > 0) {
      await api.release(dep.id).catch((err: unknown) => o.say(`release ${dep.id}: ${(err as Error).message}`));
      o.say(`released ${dep.id}; waiting for ${installed.length} login prompt(s) from the VMs' own disks`);
      await Promise.all(
        installed.map(async (t) => {
          try {
            const timeoutMs = o.bootTimeoutMs ?? 10 * 60_000;
            const end = Date.now() + timeoutMs;
            // the reboot shows as the firmware starting a boot option again (iPXE's banner, or OVMF
            // going straight to the disk entry the agent made BootNext); the login prompt after it
            // comes from the disk, not the install environment (whose console prompt is `swarmboot#`)
            const reboot = await t.vm!.console.waitFor(REBOOT_BANNER, { from: t.installedMark!, timeoutMs });
            const hit = await t.vm!.console.waitFor(/login:/, { from: reboot.index, timeoutMs: Math.max(1000, end - Date.now()) });
            t.loginMs = hit.atMs;
            o.say(`${t.node.id}: login prompt from its disk ${secs(hit.atMs)} after power-on`);
          } catch (err) {
            t.giveUp = `no login prompt from its disk: ${(err as Error).message.split('\n')[0] ?? ''}`;
          }
        }),
      );
    }
    const wallTimeMs = Date.now() - firstOn();
    const runningAt = tracked.map((t) => t.vm!.powerOnAt).filter((x): x is number => x !== undefined);

    // the record: each node's timeline and transfer stats, through the API
    const results: VmResult[] = [];
    for (const t of tracked) {
      const vm = t.vm!;
      const on = vm.powerOnAt;
      const node = await getJson<Node>(`${apiUrl}/v1/nodes/${t.node.id}`).catch(() => undefined);
      await saveSinkLines(apiUrl, t.node.id, join(workDir, 'vms', t.node.id, 'sink.jsonl')).catch((err: unknown) => o.say(`${t.node.id}: its log lines were not saved: ${(err as Error).message}`));
      const tl = await getJson<{ entries: { at: string; to: string; reason?: string }[] }>(`${apiUrl}/v1/nodes/${t.node.id}/timeline?limit=1000&sources=state`).catch(() => ({ entries: [] }));
      // before the power-on (a VM started powered off): counted from the deployment
      const timeline = tl.entries.map((e) => ({ state: e.to, atMs: Date.parse(e.at) - (on ?? deployedAt), ...(e.reason ? { reason: e.reason } : {}) })).filter((e) => e.atMs >= -60_000);
      const inst = timeline.find((e) => e.state === 'installed');
      const dhcpLine = vm.console.lines.find((l) => /Configuring \(net0.*ok|DHCP.*ok|Station IP address/.test(l.text));
      const scriptLine = vm.console.lines.find((l) => /\/v1\/boot\/\S+\.\.\. ok/.test(l.text));
      const kernelLine = vm.console.lines.find((l) => /Linux version \d/.test(l.text));
      const failed = t.loginMs === undefined;
      results.push({
        id: t.node.id,
        mac: t.node.mac,
        ip: node?.ip,
        state: node?.state ?? t.state,
        reason: [t.giveUp, node?.reason ?? t.reason].filter(Boolean).join('; node: ') || undefined,
        powerOnAt: on === undefined ? undefined : new Date(on).toISOString(),
        power: await powerOf(apiUrl, t.node.id, on),
        installedMs: inst?.atMs,
        firstDiskBootMs: t.loginMs,
        timeline,
        console: { dhcpMs: dhcpLine?.atMs, bootScriptMs: scriptLine?.atMs, kernelMs: kernelLine?.atMs },
        stats: node?.stats,
        ...(failed ? { consoleTail: vm.console.tail(25) } : {}),
      });
    }

    await stack.stop();
    stack = undefined;
    await lab.destroy();

    if (o.checkDisks !== false) {
      for (const r of results.filter((x) => x.firstDiskBootMs !== undefined)) {
        o.say(`${r.id}: booting its disk alone, without network`);
        const c = await bootDiskAlone({ disk: join(workDir, 'vms', r.id, 'disk.raw'), consoleLog: join(workDir, 'vms', r.id, 'disk-check.log'), uefi: o.uefi === true, kvm: o.kvm === true, timeoutMs: o.bootTimeoutMs ?? 10 * 60_000 });
        r.diskCheck = { ok: c.ok, ms: c.ms };
      }
    }

    const sum = (f: (s: TransferStats) => number) => results.reduce((a, r) => a + (r.stats ? f(r.stats) : 0), 0);
    const fromSeeder = sum((s) => s.bytesFromSeeder);
    const fromPeers = sum((s) => s.bytesFromPeers);
    const fromWebSeed = sum((s) => s.bytesFromWebSeed);
    const all = fromSeeder + fromPeers + fromWebSeed;
    const summary: VmDemoSummary = {
      vms: o.vms,
      firmware: o.uefi ? 'uefi' : 'bios',
      installed: installed.length,
      bootedFromDisk: results.filter((r) => r.firstDiskBootMs !== undefined && (r.diskCheck?.ok ?? true)).length,
      failed: results.filter((r) => r.firstDiskBootMs === undefined || r.diskCheck?.ok === false).length,
      deploymentId: dep.id,
      stackStartMs,
      wallTimeMs,
      deployToFirstPowerOnMs: runningAt.length > 0 ? Math.min(...runningAt) - deployedAt : undefined,
      image: { name: image.name, file: image.file, format: image.format, bytes: image.size, sha256: image.sha256 },
      bytes: { fromSeeder, fromPeers, fromWebSeed, peerShare: all > 0 ? fromPeers / all : 0 },
      nodes: results,
      workDir,
      kept: false,
      ...(o.break ? { broken: { kind: o.break, expected: BrokenBoots[o.break].code } } : {}),
    };
    clean = summary.failed === 0;
    summary.kept = keep || !clean;
    return summary;
  } finally {
    await stack?.stop();
    await lab.destroy();
    if (!keep && clean) await rm(workDir, { recursive: true, force: true });
    else if (!keep) o.say(`kept for inspection: ${workDir} (vms/<id>/console.log, logs/)`);
  }
}

/**
 * A boot starting: iPXE's start-up line (each network boot, SeaBIOS and OVMF), OVMF's boot
 * manager starting a boot option (a UEFI reboot into BootNext skips the network), or a kernel
 * starting (kexec into the installed system skips the firmware).
 */
const REBOOT_BANNER = /iPXE initialising devices|iPXE \d+\.\d+\.\d+|BdsDxe: starting Boot|Linux version \d/;

type PowerTimelineEntry = { at: string; outcome: 'requested' | 'completed' | 'failed'; power: { durationMs?: number; code?: string; message?: string } };

/** The node's power requests and results from its timeline (source power); `runningAt`: its QMP RESUME. */
async function powerOf(apiUrl: string, id: string, runningAt: number | undefined): Promise<VmPower> {
  const tl = await getJson<{ entries: PowerTimelineEntry[] }>(`${apiUrl}/v1/nodes/${encodeURIComponent(id)}/timeline?limit=1000&sources=power`).catch(() => ({ entries: [] }));
  const by = (o: PowerTimelineEntry['outcome']) => tl.entries.filter((e) => e.outcome === o).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const [requested, completed, failed] = [by('requested'), by('completed'), by('failed')];
  const firstDone = completed[0];
  const lastFail = failed.at(-1);
  return {
    requests: requested.length,
    completed: completed.length,
    failed: failed.length,
    requestToCompletedMs: requested[0] && firstDone ? Date.parse(firstDone.at) - Date.parse(requested[0].at) : undefined,
    serviceMs: firstDone?.power.durationMs,
    completedToRunningMs: firstDone && runningAt !== undefined ? runningAt - Date.parse(firstDone.at) : undefined,
    lastFailure: lastFail ? `${lastFail.power.code ?? '?'}: ${lastFail.power.message ?? ''}` : undefined,
  };
}

/** `; last power failure CODE: message` from the node's timeline, or '' when it has none. */
async function lastPowerFailure(apiUrl: string, id: string): Promise<string> {
  const p = await powerOf(apiUrl, id, undefined);
  return p.lastFailure === undefined ? (p.requests === 0 ? '; no power request for it yet' : '') : `; last power failure ${p.lastFailure}`;
}

/** When the node's timeline says it became installed (ms since the epoch), if it does. */
async function installedAt(apiUrl: string, id: string): Promise<number | undefined> {
  const tl = await getJson<{ entries: { at: string; to: string }[] }>(`${apiUrl}/v1/nodes/${encodeURIComponent(id)}/timeline?limit=1000&sources=state`).catch(() => undefined);
  const e = tl?.entries.filter((x) => x.to === 'installed').pop();
  return e ? Date.parse(e.at) : undefined;
}

/**
 * Writes what the log sink stored for node `id` (GET /v1/nodes/:id/logs, every page: its kernel
 * lines by netconsole, the agent's and /init's by syslog) to `file`, one JSON LogLine a line —
 * next to the VM's console.log, and the source of services/logsink/test/fixtures/.
 */
async function saveSinkLines(apiUrl: string, id: string, file: string): Promise<void> {
  const out: string[] = [];
  let after: string | undefined;
  for (let page = 0; page < 100; page++) {
    const q = new URLSearchParams({ limit: '1000', ...(after ? { after } : {}) });
    const { lines } = await getJson<{ lines: { id: string; line: unknown }[] }>(`${apiUrl}/v1/nodes/${encodeURIComponent(id)}/logs?${q.toString()}`);
    for (const l of lines) out.push(JSON.stringify(l.line));
    if (lines.length < 1000) break;
    after = lines.at(-1)!.id;
  }
  await writeFile(file, out.map((l) => `${l}\n`).join(''));
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new SwarmbootError('API_ERROR', `GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

function progressLine(ts: Tracked[], seconds: number): string {
  const by = new Map<string, number>();
  for (const t of ts) {
    const k = t.giveUp !== undefined ? 'given up' : t.state;
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  return `[${seconds.toFixed(0).padStart(4)} s] ${[...by].map(([k, v]) => `${k} ${v}`).join(', ')}`;
}

/** The summary as a person reads it. */
export function formatVmSummary(s: VmDemoSummary): string {
  const lines = [
    `swarmboot demo --vms: ${s.vms} ${s.firmware.toUpperCase()} VM(s), image ${s.image.name} (${s.image.format}, ${mb(s.image.bytes)})`,
    `  installed ${s.installed}, booted from their own disk ${s.bootedFromDisk}, failed ${s.failed}; stack up in ${secs(s.stackStartMs)}, wall time ${secs(s.wallTimeMs)}`,
    `  bytes the nodes got: from each other ${mb(s.bytes.fromPeers)} (${(100 * s.bytes.peerShare).toFixed(0)}%), from the seeder ${mb(s.bytes.fromSeeder)}, from the web seed ${mb(s.bytes.fromWebSeed)}`,
    `  power (scheduler → power service → QMP): ${s.nodes.reduce((a, r) => a + r.power.requests, 0)} request(s), ${s.nodes.reduce((a, r) => a + r.power.completed, 0)} completed, ${s.nodes.reduce((a, r) => a + r.power.failed, 0)} failed; deployment → first VM running ${secs(s.deployToFirstPowerOnMs)}`,
    `  ${'node'.padEnd(8)} ${'power ms'.padStart(9)} ${'installed'.padStart(10)} ${'disk boot'.padStart(10)} ${'from peers'.padStart(11)} ${'from seeder'.padStart(12)}  alone`,
  ];
  for (const r of s.nodes) {
    lines.push(
      `  ${r.id.padEnd(8)} ${(r.power.requestToCompletedMs === undefined ? '—' : String(r.power.requestToCompletedMs)).padStart(9)} ${secs(r.installedMs).padStart(10)} ${secs(r.firstDiskBootMs).padStart(10)} ${(r.stats ? mb(r.stats.bytesFromPeers) : '—').padStart(11)} ${(r.stats ? mb(r.stats.bytesFromSeeder + r.stats.bytesFromWebSeed) : '—').padStart(12)}  ${r.diskCheck ? (r.diskCheck.ok ? `ok ${secs(r.diskCheck.ms)}` : 'FAILED') : '—'}`,
    );
  }
  for (const r of s.nodes.filter((x) => x.consoleTail)) {
    lines.push(`  FAILED ${r.id} (${r.state}): ${r.reason ?? 'unknown'}`, ...(r.consoleTail ?? []).slice(-10).map((l) => `    | ${l}`));
  }
  if (s.broken) {
    const as = s.nodes.filter((r) => r.state === 'failed' && (r.reason ?? '').startsWith(`${s.broken!.expected}:`)).length;
    lines.push(`  --break ${s.broken.kind}: ${as} of ${s.vms} VM(s) failed with the expected reason ${s.broken.expected}`);
  }
  if (s.kept) lines.push(`  disks and consoles: ${s.workDir}/vms/<node-id>/{disk.raw,console.log,sink.jsonl}; service logs: ${s.workDir}/logs/`);
  return lines.join('\n');
}

