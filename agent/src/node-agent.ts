import { mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { SwarmbootError, type AfterInstall, type TransferStats } from '@swarmboot/contracts';
import { AgentApiClient, parseHostPort, type Logger } from '@swarmboot/kit';
import { createSyslogSender } from '@swarmboot/logsink';
import { failureReason, installFromSwarm, reportFailure, type Say } from './install.js';
import { listDisks, requiredDiskBytes, selectDisk, writeImage, type BlockDisk, type WriteResult } from './disk/index.js';
import { run } from './disk/spawn.js';
import { bootInstalledNext } from './uefi-boot.js';

export interface NodeAgentOptions {
  /** scheduler base URL (`swarmboot.api=` on the kernel command line) */
  api: string;
  nodeId: string;
  deploymentId: string;
  /** the address DHCP gave the node (syslog is sent from it); undefined: the kernel picks */
  localAddress?: string | undefined;
  /** tmpfs the image is downloaded to and seeded from */
  workDir: string;
  log: Logger;
  signal?: AbortSignal | undefined;
  /** the disk module's view of /sys, /proc and /dev (tests) */
  disks?: { sysRoot?: string; procRoot?: string; devRoot?: string; includeLoop?: boolean } | undefined;
  releasePollMs?: number | undefined;
}

/** What /init does after the agent: `reboot`, `kexec` (a kernel is loaded), or `retry` (reboot into the install environment again). */
export type NextStep = AfterInstall | 'retry';

export interface NodeAgentResult {
  next: NextStep;
  disk?: string;
  write?: WriteResult;
  stats?: TransferStats;
  /** the failure, when next is `retry` */
  reason?: string;
}

/**
 * The agent in the install environment (mode `node`): reports `booted`, reads its install
 * manifest, picks the disk (the inventory's root-disk hint, else the smallest non-removable disk
 * large enough), checks the image's signed manifest when the deployment trusts keys (before the
 * download: a refusal writes nothing), joins the swarm, verifies the sha256, writes the disk (`rootfs-tar`: GPT, ext4,
 * fstab, grub from the image's chroot; `raw-disk`: streamed, backup GPT moved, last partition
 * grown), reports `installed`, seeds until released or the linger time passed, and says what
 * comes next (reboot or kexec). A bootable `rootfs-tar` image that brings no grub fails with
 * BOOTLOADER_MISSING. Disk refusals fail before the download: DISK_NOT_FOUND, DISK_TOO_SMALL,
 * DISK_MOUNTED. Every failure is reported `failed` with its code; when the scheduler answers
 * `retry`, the result is `{ next: 'retry' }` (reboot into the environment), otherwise it throws.
 */
export async function runNodeAgent(o: NodeAgentOptions): Promise<NodeAgentResult> {
  const log = o.log.child({ component: 'agent', mode: 'node', nodeId: o.nodeId, deploymentId: o.deploymentId });
  const client = new AgentApiClient(o.api.replace(/\/+$/, ''), o.nodeId, o.deploymentId, o.signal);
  await client.report({ stage: 'booted' });
  const manifest = await client.manifest();
  const syslog = createSyslogSender({ target: parseHostPort(manifest.syslog, 'syslog target'), ...(o.localAddress ? { localAddress: o.localAddress } : {}), hostname: o.nodeId, app: 'swarmboot-agent' });
  const say = (severity: number, msg: string): void => {
    syslog.send(severity, msg);
    log.info({ severity }, msg);
  };
  say(6, `install environment up on ${o.nodeId}${o.localAddress ? ` at ${o.localAddress}` : ''}: image ${manifest.image.name} (${manifest.image.format})`);
  const image = manifest.image;
  let disk: BlockDisk;
  try {
    // Fail before the download when no disk can take even the compressed image.
    disk = selectDisk(await listDisks(o.disks), { ...(manifest.rootDisk ? { hint: manifest.rootDisk } : {}), minBytes: image.size });
    say(6, `disk ${disk.path}: ${disk.sizeBytes} bytes${disk.serial ? `, serial ${disk.serial}` : ''}${manifest.rootDisk ? ` (hint ${manifest.rootDisk})` : ''}`);
  } catch (err) {
    return failed(client, say, err, syslog);
  }
  let write: WriteResult | undefined;
  try {
    await mkdir(o.workDir, { recursive: true });
    const stats = await installFromSwarm({
      client,
      manifest,
      imageDir: join(o.workDir, 'image'),
      log,
      say,
      signal: o.signal,
      lingerMs: manifest.lingerMs,
      releasePollMs: o.releasePollMs,
      write: async (file) => {
        const need = await requiredDiskBytes(file, image.format);
        if (disk.sizeBytes < need) throw new SwarmbootError('DISK_TOO_SMALL', `${disk.path} has ${disk.sizeBytes} bytes; image ${image.name} needs ${need}`);
        write = await writeImage({ device: disk.path, image: file, format: image.format, log });
        if (image.bootable && image.format === 'rootfs-tar' && write.bootloaders.length === 0) {
          throw new SwarmbootError('BOOTLOADER_MISSING', `image ${image.name} is marked bootable but brings no grub (grub-pc-bin or grub-efi-amd64-bin) to install`);
        }
        const uefi = write.espPartition !== undefined ? `; UEFI: ${await bootInstalledNext(disk.path, write.espPartition, log)}` : '';
        return `wrote ${image.format} to ${disk.path} in ${write.ms} ms (${write.bytesWritten} bytes; root ${write.rootPartition}${write.bootloaders.length ? `; grub for ${write.bootloaders.join(' and ')}` : ''})${uefi}`;
      },
    });
    const next = manifest.afterInstall === 'kexec' && write ? await loadInstalledKernel(write, log).then(() => 'kexec' as const, (err: unknown) => {
      say(4, `kexec not possible (${failureReason(err)}); rebooting instead`);
      return 'reboot' as const;
    }) : 'reboot';
    say(6, `next: ${next}`);
    await syslog.close();
    return { next, disk: disk.path, ...(write ? { write } : {}), stats };
  } catch (err) {
    return failed(client, say, err, syslog);
  }
}

async function failed(client: AgentApiClient, say: Say, err: unknown, syslog: { close(): Promise<void> }): Promise<NodeAgentResult> {
  const reply = await reportFailure(client, say, err);
  await syslog.close();
  if (reply?.retry === true) return { next: 'retry', reason: failureReason(err) };
  throw err;
}

/**
 * Loads the installed system's kernel for `kexec -e` (kexec-tools): Debian's `vmlinuz` and
 * `initrd.img` symlinks (in / since bookworm, in /boot with `link_in_boot`) of the new root,
 * `root=UUID=… ro` and the consoles of this environment. Throws KEXEC_FAILED.
 */
async function loadInstalledKernel(w: WriteResult, log: Logger): Promise<void> {
  const mnt = await mkdtemp('/tmp/swarmboot-root-');
  try {
    await run('mount', ['-o', 'ro', w.rootPartition, mnt]);
    try {
      const consoles = (await readFile('/proc/cmdline', 'utf8')).split(/\s+/).filter((a) => a.startsWith('console='));
      const root = w.rootUuid ? `root=UUID=${w.rootUuid}` : `root=${w.rootPartition}`;
      const kernel = await inRoot(mnt, ['vmlinuz', 'boot/vmlinuz']);
      const initrd = await inRoot(mnt, ['initrd.img', 'boot/initrd.img']);
      await run('kexec', ['-l', kernel, `--initrd=${initrd}`, `--append=${[root, 'ro', ...consoles].join(' ')}`]);
      log.info({ root }, 'installed kernel loaded for kexec');
    } finally {
      await run('umount', [mnt]).catch(() => undefined);
    }
  } catch (err) {
    throw new SwarmbootError('KEXEC_FAILED', err instanceof Error ? err.message : String(err), { cause: err });
  } finally {
    await rm(mnt, { recursive: true, force: true });
  }
}

/** The first of `paths` that exists under the mounted root `mnt`, symlinks resolved inside it (an absolute target means the new root's, not ours). */
async function inRoot(mnt: string, paths: string[]): Promise<string> {
  for (const p of paths) {
    let at = join(mnt, p);
    for (let hops = 0; hops < 8; hops++) {
      const target = await readlink(at).catch(() => undefined);
      if (target === undefined) break;
      at = isAbsolute(target) ? join(mnt, target) : join(dirname(at), target);
    }
    if (await stat(at).then((st) => st.isFile(), () => false)) return at;
  }
  throw new SwarmbootError('KEXEC_FAILED', `none of ${paths.join(', ')} in the installed system`);
}

/** Writes what /init does next (`reboot`, `kexec`, `retry`) where /init reads it. */
export async function writeNextStep(file: string, next: NextStep): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${next === 'retry' ? 'reboot' : next}\n`);
}
