import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSwarmbootError } from '@swarmboot/contracts';
import { createLogger } from '@swarmboot/kit';
import { listDisks, requiredDiskBytes, selectDisk, writeImage, type WriteResult } from '../../src/disk/index.js';
import { run } from '../../src/disk/spawn.js';

// Real loop devices, real sfdisk/mkfs/tar/zstd, the real sample image (scripts/build-assets.sh --sample-only).
// Needs root. Every loop device and mount made here is released in after(), also when a test fails.
const MiB = 1024 * 1024;
const cache = process.env.SWARMBOOT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'swarmboot');
const sample = join(cache, 'image', 'sample-tzdata.tar');
const log = createLogger('disk-test', (process.env.SB_TEST_LOG as 'debug' | undefined) ?? 'silent');
const makeRawJs = join(fileURLToPath(new URL('.', import.meta.url)), '../../src/disk/make-raw.js');

let work: string;
const loops: string[] = [];
const mounts: string[] = [];

async function sparseFile(name: string, bytes: number): Promise<string> {
  const path = join(work, name);
  const fh = await open(path, 'w');
  try { await fh.truncate(bytes); } finally { await fh.close(); }
  return path;
}

async function attach(file: string): Promise<string> {
  const dev = (await run('losetup', ['-f', '--show', '-P', file])).trim();
  loops.push(dev);
  await run('partx', ['-u', dev]).catch(() => { /* no partition table yet */ });
  return dev;
}

async function mountRo(dev: string, name: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await run('mount', ['-o', 'ro', dev, dir]);
  mounts.push(dir);
  return dir;
}

async function unmount(dir: string): Promise<void> {
  await run('umount', [dir]);
  mounts.splice(mounts.indexOf(dir), 1);
}

/** exit code of a checker (fsck, tar --compare) with its output, for the assertion message */
async function check(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try { return { code: 0, out: await run(cmd, args) }; } catch (err) {
    return { code: Number((err as { context?: { exitCode?: number } }).context?.exitCode ?? -1), out: (err as Error).message };
  }
}

function errCode(err: unknown): string {
  return isSwarmbootError(err) ? err.code : `not a SwarmbootError: ${String(err)}`;
}

interface Sfdisk { partitiontable: { label: string; lastlba: number; partitions: { node: string; start: number; size: number; type: string }[] } }

/** The checks a written rootfs-tar disk must pass, none of which uses the writer's code. */
async function verifyRootfsDisk(dev: string, r: WriteResult, tarball: string): Promise<void> {
  const verify = await run('sfdisk', ['--verify', dev]);
  assert.match(verify, /No errors detected/, verify);
  const pt = (JSON.parse(await run('sfdisk', ['-J', dev])) as Sfdisk).partitiontable;
  assert.equal(pt.label, 'gpt');
  // partition types by the names util-linux gives their GUIDs (sfdisk -T), not by our constants
  const typeNames = new Map((await run('sfdisk', ['-T', '-X', 'gpt'])).split('\n').map((l) => /^\s*([0-9A-F-]{36})\s+(.+?)\s*$/i.exec(l)).filter((m): m is RegExpExecArray => m !== null).map((m) => [m[1]!.toUpperCase(), m[2]!]));
  assert.deepEqual(pt.partitions.map((p) => [typeNames.get(p.type.toUpperCase()) ?? p.type, p.size * 512]), [
    ['BIOS boot', MiB],
    ['EFI System', 256 * MiB],
    ['Linux filesystem', pt.partitions[2]!.size * 512],
  ]);
  const end = pt.partitions[2]!.start + pt.partitions[2]!.size - 1;
  assert.ok(end <= pt.lastlba && pt.lastlba - end < 2048, `root runs to the end of the disk, less sfdisk's 1 MiB alignment: ends ${end}, last usable ${pt.lastlba}`);
  const [esp, root] = [`${dev}p2`, `${dev}p3`];
  const fsckExt = await check('fsck.ext4', ['-n', '-f', root]);
  assert.equal(fsckExt.code, 0, fsckExt.out);
  const fsckFat = await check('fsck.vfat', ['-n', esp]);
  assert.equal(fsckFat.code, 0, fsckFat.out);
  const uuid = /Filesystem UUID:\s+(\S+)/.exec(await run('dumpe2fs', ['-h', root]))?.[1];
  assert.equal(uuid, r.rootUuid);
  // FAT32 boot sector: volume serial number at byte 67, little-endian (Microsoft FAT specification, BS_VolID).
  const bs = Buffer.alloc(512);
  const fh = await open(esp, 'r');
  try { await fh.read(bs, 0, 512, 0); } finally { await fh.close(); }
  const volId = bs.readUInt32LE(67).toString(16).toUpperCase().padStart(8, '0');
  const mnt = await mountRo(root, `root-${basename(dev)}`);
  try {
    const diff = await check('tar', ['--compare', '--numeric-owner', '-f', tarball, '-C', mnt]);
    assert.equal(diff.code, 0, `tar --compare: ${diff.out}`);
    const fstab = await readFile(join(mnt, 'etc/fstab'), 'utf8');
    assert.match(fstab, new RegExp(`^UUID=${r.rootUuid}\\s+/\\s+ext4\\s`, 'm'));
    const espLine = /^UUID=([0-9A-F]{4})-([0-9A-F]{4})\s+\/boot\/efi\s+vfat\s/m.exec(fstab);
    assert.ok(espLine, fstab);
    assert.equal(`${espLine[1]}-${espLine[2]}`, `${volId.slice(0, 4)}-${volId.slice(4)}`, 'fstab names the ESP by its volume id');
  } finally { await unmount(mnt); }
}

before(async () => {
  await access(sample).catch(() => { throw new Error(`${sample} is missing: run scripts/build-assets.sh --sample-only`); });
  work = await mkdtemp(join(tmpdir(), 'swarmboot-disk-'));
});

after(async () => {
  for (const m of mounts.reverse()) await run('umount', ['-l', m]).catch(() => undefined);
  for (const l of loops) await run('losetup', ['-d', l]).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

test('rootfs-tar onto a loop device: GPT BIOS boot + ESP + ext4, content equal to the tar, fstab by UUID, no grub in the image → no bootloader', async () => {
  const need = await requiredDiskBytes(sample, 'rootfs-tar');
  const dev = await attach(await sparseFile('a.img', need));
  let last = 0;
  let total = 0;
  const r = await writeImage({ device: dev, image: sample, format: 'rootfs-tar', log, onProgress: (b, t) => { last = b; total = t; } });
  assert.equal(r.device, dev);
  assert.equal(r.rootPartition, `${dev}p3`);
  assert.deepEqual(r.bootloaders, []);
  assert.equal(r.bytesWritten, (await readFile(sample)).length);
  assert.equal(last, r.bytesWritten);
  assert.equal(total, r.bytesWritten);
  await verifyRootfsDisk(dev, r, sample);
});

test('rootfs-tar from a .tar.zst onto an image file (attached and detached by the writer)', async () => {
  const zst = join(work, 'sample.tar.zst');
  await run('zstd', ['-q', '-3', '-o', zst, sample]);
  const file = await sparseFile('b.img', 512 * MiB);
  const r = await writeImage({ device: file, image: zst, format: 'rootfs-tar', log });
  assert.match(r.device, /^\/dev\/loop\d+$/);
  const stillAttached = await run('losetup', ['-j', file]);
  assert.equal(stillAttached.trim(), '', 'the writer detached its loop device');
  await verifyRootfsDisk(await attach(file), r, sample);
});

test('raw-disk: a raw disk made by make-raw, zstd-compressed, onto a larger loop device: backup GPT at the end, last partition and ext4 grown', async () => {
  const raw = join(work, 'made.raw');
  await run(process.execPath, [makeRawJs, '--tar', sample, '--out', raw, '--size', String(448 * MiB)]);
  const origBlocks = Number(/Block count:\s+(\d+)/.exec(await (async () => { const l = await attach(raw); const o = await run('dumpe2fs', ['-h', `${l}p3`]); await run('losetup', ['-d', l]); loops.splice(loops.indexOf(l), 1); return o; })())![1]);
  await run('zstd', ['-q', '-3', '--rm', '-o', `${raw}.zst`, raw]);
  const dev = await attach(await sparseFile('c.img', 640 * MiB));
  const r = await writeImage({ device: dev, image: `${raw}.zst`, format: 'raw-disk', log });
  assert.equal(r.bytesWritten, 448 * MiB);
  assert.equal(r.rootPartition, `${dev}p3`);
  assert.ok(r.rootUuid);
  const verify = await run('sfdisk', ['--verify', dev]);
  assert.match(verify, /No errors detected/, verify);
  const pt = (JSON.parse(await run('sfdisk', ['-J', dev])) as Sfdisk).partitiontable;
  assert.equal(pt.lastlba, 640 * MiB / 512 - 34, 'the backup GPT (33 sectors) sits at the disk end');
  const root = pt.partitions[2]!;
  assert.equal(root.start + root.size - 1, pt.lastlba, 'the last partition grew to the end');
  const fsck = await check('fsck.ext4', ['-n', '-f', `${dev}p3`]);
  assert.equal(fsck.code, 0, fsck.out);
  const sb = await run('dumpe2fs', ['-h', `${dev}p3`]);
  const blocks = Number(/Block count:\s+(\d+)/.exec(sb)![1]);
  const blockSize = Number(/Block size:\s+(\d+)/.exec(sb)![1]);
  assert.ok(blocks > origBlocks, `ext4 grew: ${origBlocks} → ${blocks} blocks`);
  assert.ok(root.size * 512 - blocks * blockSize < 4 * MiB, 'ext4 fills its partition');
  assert.equal(/Filesystem UUID:\s+(\S+)/.exec(sb)?.[1], r.rootUuid);
  const mnt = await mountRo(`${dev}p3`, 'raw-root');
  try {
    const diff = await check('tar', ['--compare', '--numeric-owner', '-f', sample, '-C', mnt]);
    assert.equal(diff.code, 0, diff.out);
  } finally { await unmount(mnt); }
});

test('refusals: a mounted disk (seen through listDisks), a disk too small, no disk, an image of neither format', async () => {
  const need = await requiredDiskBytes(sample, 'rootfs-tar');
  // A loop device with an ext4 that is mounted: listDisks must report it in use, selectDisk refuse it.
  const busyFile = await sparseFile('busy.img', 64 * MiB);
  await run('mkfs.ext4', ['-q', '-F', busyFile]);
  const busy = await attach(busyFile);
  const mnt = await mountRo(busy, 'busy');
  const small = await attach(await sparseFile('small.img', 64 * MiB));
  try {
    const disks = await listDisks({ includeLoop: true });
    const seen = disks.find((d) => d.path === busy);
    assert.ok(seen, `${busy} in ${disks.map((d) => d.path).join(', ')}`);
    assert.deepEqual(seen.mounted, [mnt]);
    assert.equal(seen.sizeBytes, 64 * MiB);
    assert.throws(() => selectDisk(disks, { hint: busy, minBytes: MiB }), (e) => errCode(e) === 'DISK_MOUNTED');
    assert.throws(() => selectDisk(disks, { hint: small, minBytes: need }), (e) => errCode(e) === 'DISK_TOO_SMALL');
    assert.ok(!(await listDisks()).some((d) => d.name.startsWith('loop')), 'loop devices only when asked for');
  } finally { await unmount(mnt); }
  const empty = await mkdtemp(join(work, 'nosys-'));
  assert.throws(() => selectDisk([], { minBytes: need }), (e) => errCode(e) === 'DISK_NOT_FOUND');
  assert.deepEqual(await listDisks({ sysRoot: empty, procRoot: empty }), []);
  // The writer refuses too: a raw image larger than the device, a GPT layout that cannot fit, a file of neither format.
  const rawImg = await sparseFile('big.raw', 128 * MiB);
  await run('sfdisk', ['--quiet', rawImg], { input: 'label: gpt\n,\n' });
  await assert.rejects(writeImage({ device: small, image: rawImg, format: 'raw-disk', log }), (e) => errCode(e) === 'DISK_TOO_SMALL');
  await assert.rejects(writeImage({ device: small, image: sample, format: 'rootfs-tar', log }), (e) => errCode(e) === 'DISK_TOO_SMALL');
  const junk = join(work, 'junk.bin');
  await writeFile(junk, Buffer.alloc(4096, 7));
  await assert.rejects(writeImage({ device: small, image: junk, format: 'rootfs-tar', log }), (e) => errCode(e) === 'IMAGE_FORMAT_INVALID');
  await assert.rejects(writeImage({ device: small, image: sample, format: 'raw-disk', log }), (e) => errCode(e) === 'IMAGE_FORMAT_INVALID');
  await assert.rejects(requiredDiskBytes(rawImg, 'rootfs-tar'), (e) => errCode(e) === 'IMAGE_FORMAT_INVALID');
});
