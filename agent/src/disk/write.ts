import { randomBytes, randomUUID } from 'node:crypto';
import { access, mkdir, mkdtemp, open, readFile, readdir, realpath, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { isSwarmbootError } from '@swarmboot/contracts';
import type { Logger } from '@swarmboot/kit';
import { diskError } from './errors.js';
import { decompressor, inspectImage, LAYOUT, type ImageFormat, type ImageInfo } from './format.js';
import { isRegularFile } from './list.js';
import { run, streamThrough } from './spawn.js';

export interface WriteOptions {
  /** a block device (/dev/vda), or a regular file: then attached with `losetup -P` and detached after */
  device: string;
  /** the image file (verified before: writeImage trusts its content, checks only its format) */
  image: string;
  format: ImageFormat;
  log: Logger;
  signal?: AbortSignal;
  /** decompressed bytes delivered so far, of total (the decompressed size) */
  onProgress?: (bytes: number, total: number) => void;
}

export interface WriteResult {
  /** the block device written (the loop device when options.device was a file; detached by now) */
  device: string;
  format: ImageFormat;
  /** e.g. '/dev/vda3': rootfs-tar's ext4 root, raw-disk's last partition */
  rootPartition: string;
  /** ext4 UUID of rootPartition (raw-disk: read from its superblock; absent when it is not ext2/3/4) */
  rootUuid?: string;
  /** rootfs-tar: what grub-install installed; raw-disk: what the image carries (boot code in the MBR → bios, an ESP → uefi) */
  bootloaders: ('bios' | 'uefi')[];
  /** the EFI system partition, e.g. '/dev/vda2' (absent when the disk has none) */
  espPartition?: string;
  /** decompressed image bytes delivered (to tar, or onto the device) */
  bytesWritten: number;
  ms: number;
}

/** GPT partition type GUIDs (UEFI 2.10 §5.3.3 for the ESP; the BIOS boot partition is GRUB's; Linux filesystem data is the Discoverable Partitions Specification's). */
const GPT_TYPE = {
  biosBoot: '21686148-6449-6E6F-744E-656564454649',
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
} as const;
const MiB = 1024 * 1024;
/** How long to wait for the kernel (devtmpfs) to create partition nodes after a re-read; losetup -P and virtio take < 100 ms here. */
const PARTITION_WAIT_MS = 10_000;
/** PATH inside the image's chroot (the agent's own PATH may be the initramfs' /bin only). */
const CHROOT_ENV = { ...process.env, PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

async function exists(path: string): Promise<boolean> {
  try { await access(path); return true; } catch { return false; }
}

/** Re-reads the partition table (BLKRRPART; partx -u where the kernel refuses) and waits for the nodes of the partitions it reports. */
async function rereadPartitions(dev: string, log: Logger, signal?: AbortSignal): Promise<Map<number, string>> {
  // Both: BLKRRPART alone returned 0 here (kernel 6.18, loop device with partscan) yet created no partitions until
  // `partx -u` (BLKPG per partition) ran; partx -u alone cannot drop a partition that is in use. Fails if both fail.
  const rr = await run('blockdev', ['--rereadpt', dev], { signal }).then(() => undefined, (err: unknown) => err);
  const px = await run('partx', ['-u', dev], { signal }).then(() => undefined, (err: unknown) => err);
  if (rr && px) throw px;
  if (rr || px) log.debug({ err: rr ?? px }, 'one of blockdev --rereadpt / partx -u refused');
  const name = basename(dev);
  const deadline = Date.now() + PARTITION_WAIT_MS;
  for (;;) {
    const parts = new Map<number, string>();
    for (const child of await readdir(join('/sys/block', name)).catch(() => [] as string[])) {
      if (!child.startsWith(name)) continue;
      const n = Number((await readFile(join('/sys/block', name, child, 'partition'), 'utf8').catch(() => '')).trim());
      if (n > 0) parts.set(n, join('/dev', child));
    }
    const present = await Promise.all([...parts.values()].map(exists));
    if (parts.size > 0 && present.every(Boolean)) return parts;
    if (Date.now() > deadline) throw diskError('DISK_WRITE_FAILED', `${dev}: partition nodes did not appear within ${PARTITION_WAIT_MS} ms (sysfs: ${[...parts.values()].join(', ') || 'none'})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function formatUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** ext2/3/4 superblock at byte 1024: magic 0xEF53 at +56, UUID at +104 (16 bytes). undefined when not ext*. */
async function ext4Uuid(part: string): Promise<string | undefined> {
  const fh = await open(part, 'r');
  try {
    const sb = Buffer.alloc(1024);
    await fh.read(sb, 0, 1024, 1024);
    return sb.readUInt16LE(56) === 0xef53 ? formatUuid(sb.subarray(104, 120)) : undefined;
  } finally { await fh.close(); }
}

/** Mounts in order and unmounts in reverse, also after a failure (lazily when a plain umount is refused). */
class Mounts {
  private readonly stack: string[] = [];
  constructor(private readonly log: Logger) {}
  async mount(args: string[], target: string): Promise<void> {
    await mkdir(target, { recursive: true });
    await run('mount', [...args, target]);
    this.stack.push(target);
  }
  async releaseAll(): Promise<void> {
    while (this.stack.length > 0) {
      const t = this.stack.pop()!;
      try { await run('umount', [t]); } catch (err) {
        this.log.warn({ err, target: t }, 'umount refused, detaching lazily');
        await run('umount', ['-l', t]).catch((e: unknown) => this.log.error({ err: e, target: t }, 'umount -l failed'));
      }
    }
  }
}

async function deviceBytes(dev: string, signal?: AbortSignal): Promise<number> {
  return Number((await run('blockdev', ['--getsize64', dev], { signal })).trim());
}

/**
 * Writes an image onto a disk.
 *
 * rootfs-tar (tar, tar.gz, tar.zst by magic bytes): wipefs -a; GPT by sfdisk — 1 MiB BIOS boot, 256 MiB ESP (FAT32),
 * the rest ext4 root, with a vfat volume id and an ext4 UUID generated here (no blkid needed); GNU tar -x -p
 * --numeric-owner --xattrs into the root; /etc/fstab by UUID; then, from the image's own chroot (/dev, /proc, /sys
 * bound), `grub-install --target=i386-pc DISK` when the image has /usr/lib/grub/i386-pc, `grub-install
 * --target=x86_64-efi --efi-directory=/boot/efi --removable --no-nvram` when it has /usr/lib/grub/x86_64-efi, and
 * grub-mkconfig. An image without grub gets no bootloader (bootloaders: []): whether that is an error is the
 * caller's call. Files the tar has under /boot/efi are shadowed by the ESP mounted there.
 *
 * raw-disk (raw, .zst, .gz by magic): streamed decompressed onto the device and fsynced; for GPT the backup header
 * is moved to the disk's end; the last partition is grown to the end and its filesystem with it when ext2/3/4
 * (e2fsck -fy, resize2fs).
 *
 * A regular file as device is attached with `losetup -f -P` (how make-raw builds raw images) and detached after.
 * Mounts, binds and loop devices are always released, also on failure.
 *
 * @throws SwarmbootError IMAGE_FORMAT_INVALID image is neither of the format nor of a known compression;
 *   DISK_TOO_SMALL raw-disk image larger than the device; DISK_WRITE_FAILED a tool (sfdisk, mkfs, tar, zstd, …)
 *   failed, partition nodes did not appear, or the device could not be written (message: command and stderr tail);
 *   BOOTLOADER_FAILED grub-install or grub-mkconfig failed in the chroot.
 */
export async function writeImage(o: WriteOptions): Promise<WriteResult> {
  const t0 = Date.now();
  const info = await inspectImage(o.image, o.format);
  let dev = o.device;
  let loop: string | undefined;
  if (await isRegularFile(o.device)) {
    loop = (await run('losetup', ['-f', '--show', '-P', o.device], { signal: o.signal })).trim();
    dev = loop;
    o.log.info({ file: o.device, loop }, 'image file attached');
  } else {
    dev = await realpath(o.device);
  }
  try {
    const r = o.format === 'rootfs-tar' ? await writeRootfsTar(dev, info, o) : await writeRawDisk(dev, info, o);
    return { device: dev, format: o.format, ...r, ms: Date.now() - t0 };
  } catch (err) {
    // Keep the closed set: a file-system error of our own (mkdir, writeFile, open of the device) is a write failure.
    if (isSwarmbootError(err)) throw err;
    throw diskError('DISK_WRITE_FAILED', `${dev}: ${(err as Error).message}`, { cause: err });
  } finally {
    if (loop) await run('losetup', ['-d', loop]).catch((err: unknown) => o.log.error({ err, loop }, 'losetup -d failed'));
  }
}

type Written = Omit<WriteResult, 'device' | 'format' | 'ms'>;

async function writeRootfsTar(dev: string, info: ImageInfo, o: WriteOptions): Promise<Written> {
  const { log, signal } = o;
  const minimum = LAYOUT.leadBytes + LAYOUT.biosBootBytes + LAYOUT.espBytes + 64 * MiB + LAYOUT.tailBytes;
  const size = await deviceBytes(dev, signal);
  if (size < minimum) throw diskError('DISK_TOO_SMALL', `${dev}: ${size} bytes, the GPT layout alone needs ${minimum}`, { context: { dev, size } });
  await run('wipefs', ['-a', dev], { signal });
  // sfdisk starts the first partition at 1 MiB (2048 sectors) and keeps 1 MiB alignment.
  const table = [
    'label: gpt',
    `size=${LAYOUT.biosBootBytes / 1024}KiB, type=${GPT_TYPE.biosBoot}, name="bios-boot"`,
    `size=${LAYOUT.espBytes / 1024}KiB, type=${GPT_TYPE.esp}, name="esp"`,
    `type=${GPT_TYPE.linux}, name="root"`,
  ].join('\n') + '\n';
  await run('sfdisk', ['--quiet', '--wipe', 'always', '--wipe-partitions', 'always', dev], { input: table, signal });
  const parts = await rereadPartitions(dev, log, signal);
  const esp = parts.get(2);
  const rootPart = parts.get(3);
  if (!esp || !rootPart) throw diskError('DISK_WRITE_FAILED', `${dev}: partitions 2 and 3 missing after sfdisk (found ${[...parts.values()].join(', ')})`);
  const rootUuid = randomUUID();
  const volId = randomBytes(4).toString('hex').toUpperCase();
  await run('mkfs.vfat', ['-F', '32', '-n', 'EFI', '-i', volId, esp], { signal });
  await run('mkfs.ext4', ['-q', '-F', '-U', rootUuid, '-L', 'root', rootPart], { signal });
  log.info({ dev, esp, rootPart, rootUuid }, 'partitioned and formatted');

  const mnt = await mkdtemp(join(tmpdir(), 'swarmboot-root-'));
  const mounts = new Mounts(log);
  let madeLink: string | undefined;
  try {
    await mounts.mount([rootPart], mnt);
    const bytesWritten = await streamThrough({
      source: o.image,
      decompress: decompressor(info.compression),
      sink: { cmd: 'tar', args: ['-x', '-p', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-f', '-', '-C', mnt] },
      onBytes: o.onProgress && ((n) => o.onProgress!(n, info.contentBytes)),
      signal,
    });
    log.info({ bytesWritten }, 'image unpacked');
    const espDir = join(mnt, 'boot/efi');
    const staged = await mountEsp(mounts, esp, espDir, log);
    const espUuid = `${volId.slice(0, 4)}-${volId.slice(4)}`;
    await mkdir(join(mnt, 'etc'), { recursive: true });
    await writeFile(join(mnt, 'etc/fstab'), [
      '# written by the swarmboot agent',
      `UUID=${rootUuid}\t/\text4\terrors=remount-ro\t0\t1`,
      `UUID=${espUuid}\t/boot/efi\tvfat\tumask=0077\t0\t2`,
      '',
    ].join('\n'));

    const bootloaders: ('bios' | 'uefi')[] = [];
    const hasGrub = (await exists(join(mnt, 'usr/sbin/grub-install'))) || (await exists(join(mnt, 'sbin/grub-install')));
    const bios = hasGrub && (await exists(join(mnt, 'usr/lib/grub/i386-pc')));
    const uefi = hasGrub && (await exists(join(mnt, 'usr/lib/grub/x86_64-efi')));
    if (bios || uefi) {
      await mounts.mount(['--bind', '/dev'], join(mnt, 'dev'));
      await mounts.mount(['-t', 'proc', 'proc'], join(mnt, 'proc'));
      await mounts.mount(['-t', 'sysfs', 'sysfs'], join(mnt, 'sys'));
      // grub-mkconfig writes root=UUID=… only when /dev/disk/by-uuid/<uuid> exists (10_linux); without udev (the
      // initramfs, this build host) nobody makes it, so make it for the run and take it away after.
      const link = join('/dev/disk/by-uuid', rootUuid);
      if (!(await exists(link))) {
        await mkdir('/dev/disk/by-uuid', { recursive: true });
        await symlink(join('../..', basename(rootPart)), link);
        madeLink = link;
      }
      const chroot = (args: string[]) => run('chroot', [mnt, ...args], { code: 'BOOTLOADER_FAILED', env: CHROOT_ENV, signal });
      if (bios) {
        await chroot(['grub-install', '--target=i386-pc', dev]);
        bootloaders.push('bios');
      }
      if (uefi) {
        await chroot(['grub-install', '--target=x86_64-efi', '--efi-directory=/boot/efi', '--removable', '--no-nvram']);
        bootloaders.push('uefi');
      }
      await chroot(['grub-mkconfig', '-o', '/boot/grub/grub.cfg']);
      if (staged) await copyIntoFat(esp, espDir, signal);
      log.info({ bootloaders }, 'grub installed');
    } else {
      log.warn({ hasGrub }, 'the image has no grub: no bootloader installed');
    }
    return { rootPartition: rootPart, rootUuid, espPartition: esp, bootloaders, bytesWritten };
  } finally {
    if (madeLink) {
      await rm(madeLink, { force: true });
      for (const d of ['/dev/disk/by-uuid', '/dev/disk']) await rmdir(d).catch(() => { /* not empty: someone else's */ });
    }
    await mounts.releaseAll();
    await rmdir(mnt).catch(() => { /* still mounted lazily: leave the empty dir */ });
    await run('blockdev', ['--flushbufs', dev]).catch(() => { /* best effort: umount already wrote everything */ });
  }
}

/** True when the running kernel can mount FAT (after a failed mount, which has already asked for the module). */
async function kernelHasVfat(): Promise<boolean> {
  return /\tvfat$/m.test(await readFile('/proc/filesystems', 'utf8').catch(() => ''));
}

/**
 * Mounts the ESP at dir. Where the kernel has no FAT driver (this project's build host: its kernel has neither vfat
 * built in nor modules), mounts a tmpfs there instead whose mount source names the ESP: grub-install checks that
 * --efi-directory is FAT by opening that source with grub's own FAT driver, then writes plain files into the tmpfs,
 * which copyIntoFat puts into the FAT with mtools afterwards. The install environment has vfat and never stages.
 * @returns true when staged
 */
async function mountEsp(mounts: Mounts, esp: string, dir: string, log: Logger): Promise<boolean> {
  try {
    await mounts.mount(['-t', 'vfat', esp], dir);
    return false;
  } catch (err) {
    if (await kernelHasVfat()) throw err;
    log.warn({ esp }, 'the kernel cannot mount vfat: staging the ESP on a tmpfs, copied in with mcopy');
    await mounts.mount(['-t', 'tmpfs', '-o', 'mode=0700,size=256m', esp], dir);
    return true;
  }
}

/** Copies the staged ESP tree (see mountEsp) into the FAT filesystem on esp with mtools' mcopy. */
async function copyIntoFat(esp: string, dir: string, signal?: AbortSignal): Promise<void> {
  const entries = await readdir(dir);
  if (entries.length === 0) return;
  await run('mcopy', ['-s', '-o', '-Q', '-i', esp, ...entries.map((e) => join(dir, e)), '::/'], { signal, env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
}

interface SfdiskJson { partitiontable: { label: string; partitions?: { node: string; start: number; size: number; type: string }[] } }

async function writeRawDisk(dev: string, info: ImageInfo, o: WriteOptions): Promise<Written> {
  const { log, signal } = o;
  const size = await deviceBytes(dev, signal);
  if (size < info.contentBytes) throw diskError('DISK_TOO_SMALL', `${dev}: ${size} bytes, the image is ${info.contentBytes}`, { context: { dev, size, need: info.contentBytes } });
  const bytesWritten = await streamThrough({
    source: o.image,
    decompress: decompressor(info.compression),
    sink: { file: dev },
    onBytes: o.onProgress && ((n) => o.onProgress!(n, info.contentBytes)),
    signal,
  });
  if (bytesWritten !== info.contentBytes) throw diskError('DISK_WRITE_FAILED', `${dev}: wrote ${bytesWritten} bytes, the image has ${info.contentBytes}`);
  const fh = await open(dev, 'r+');
  try { await fh.sync(); } finally { await fh.close(); }
  log.info({ dev, bytesWritten }, 'image streamed');

  let pt = (JSON.parse(await run('sfdisk', ['-J', dev], { signal })) as SfdiskJson).partitiontable;
  if (pt.label === 'gpt' && size > info.contentBytes) {
    // The backup GPT header sits at the image's end, in the middle of a larger disk (UEFI 2.10 §5.3.2).
    await run('sfdisk', ['--relocate', 'gpt-bak-std', dev], { signal });
  }
  const last = [...(pt.partitions ?? [])].sort((a, b) => b.start - a.start)[0];
  if (!last) throw diskError('DISK_WRITE_FAILED', `${dev}: the image has no partitions`);
  const num = Number(/(\d+)$/.exec(last.node)?.[1]);
  if (size > info.contentBytes) await run('sfdisk', ['--quiet', '-N', String(num), dev], { input: ', +\n', signal });
  const parts = await rereadPartitions(dev, log, signal);
  const rootPart = parts.get(num);
  if (!rootPart) throw diskError('DISK_WRITE_FAILED', `${dev}: partition ${num} has no node after re-reading`);
  const rootUuid = await ext4Uuid(rootPart);
  if (rootUuid && size > info.contentBytes) {
    await run('e2fsck', ['-f', '-y', rootPart], { signal, okExit: [1, 2] });
    await run('resize2fs', [rootPart], { signal });
    log.info({ rootPart }, 'last partition and its filesystem grown');
  }
  pt = (JSON.parse(await run('sfdisk', ['-J', dev], { signal })) as SfdiskJson).partitiontable;
  const bootloaders: ('bios' | 'uefi')[] = [];
  const mbr = Buffer.alloc(440);
  const fh2 = await open(dev, 'r');
  try { await fh2.read(mbr, 0, 440, 0); } finally { await fh2.close(); }
  if (mbr.some((b) => b !== 0)) bootloaders.push('bios');
  const esp = (pt.partitions ?? []).find((p) => p.type.toUpperCase() === GPT_TYPE.esp || p.type.toLowerCase() === 'ef');
  if (esp) bootloaders.push('uefi');
  return { rootPartition: rootPart, ...(rootUuid ? { rootUuid } : {}), ...(esp ? { espPartition: esp.node } : {}), bootloaders, bytesWritten };
}
