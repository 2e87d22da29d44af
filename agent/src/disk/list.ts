import { readFile, readdir, readlink, stat } from 'node:fs/promises';
import { join, basename } from 'node:path';
import type { BlockDisk } from './select.js';

/** Kernel names that are never an install target: RAM disks, optical drives, device-mapper and md (their members are listed), network block devices, eMMC boot areas. */
const SKIP = /^(ram|zram|sr|fd|dm-|md|nbd|mmcblk\d+boot|mmcblk\d+rpmb)/;

async function readText(path: string): Promise<string | undefined> {
  try { return (await readFile(path, 'utf8')).trim(); } catch { return undefined; }
}

async function readBytes(path: string): Promise<Buffer | undefined> {
  try { return await readFile(path); } catch { return undefined; }
}

async function list(path: string): Promise<string[]> {
  try { return await readdir(path); } catch { return []; }
}

/** Serial number from VPD page 0x80 (unit serial number): 4-byte header, byte 3 = length. */
function vpd80Serial(page: Buffer | undefined): string | undefined {
  if (!page || page.length < 4) return undefined;
  const s = page.subarray(4, 4 + page[3]!).toString('latin1').replace(/\0/g, '').trim();
  return s || undefined;
}

/**
 * udev's path_id (ID_PATH) from the sysfs device path, for the buses an install target sits on:
 * - virtio-blk: 'pci-0000:00:04.0'
 * - NVMe:       'pci-0000:01:00.0-nvme-<nsid>'
 * - ATA (AHCI): 'pci-0000:00:1f.2-ata-<port_no>' (udev ≥ 252 appends '.0', the link; selectDisk ignores it)
 * - SCSI (virtio-scsi, megaraid, …): 'pci-0000:00:05.0-scsi-H:C:T:L'
 * Anything else (USB, SAS expanders, MMC, loop): undefined — name such a disk by /dev/NAME, serial or wwn.
 * The PCI address is the last PCI function on the path (the controller, after any bridges).
 */
export async function computeByPath(name: string, devicePath: string, sysRoot: string): Promise<{ byPath?: string; pciAddress?: string }> {
  const parts = devicePath.split('/');
  const pcis = parts.filter((p) => /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(p));
  const pciAddress = pcis.at(-1);
  if (!pciAddress) return {};
  const pci = `pci-${pciAddress}`;
  if (parts.some((p) => p.startsWith('usb'))) return { pciAddress };
  if (/^nvme\d+n\d+$/.test(name)) {
    const nsid = (await readText(join(sysRoot, 'block', name, 'nsid'))) ?? /n(\d+)$/.exec(name)![1]!;
    return { byPath: `${pci}-nvme-${nsid}`, pciAddress };
  }
  const ata = parts.find((p) => /^ata\d+$/.test(p));
  if (ata) {
    const port = (await readText(join(sysRoot, 'class', 'ata_port', ata, 'port_no'))) ?? ata.slice(3);
    return { byPath: `${pci}-ata-${port}`, pciAddress };
  }
  const hctl = parts.find((p) => /^\d+:\d+:\d+:\d+$/.test(p));
  if (hctl) return { byPath: `${pci}-scsi-${hctl}`, pciAddress };
  if (parts.some((p) => /^virtio\d+$/.test(p)) && /^vd[a-z]+$/.test(name)) return { byPath: pci, pciAddress };
  return { pciAddress };
}

interface Node { name: string; dev?: string }

/** The disk, its partitions and (recursively) their holders (dm, md, …), as kernel names with their maj:min. */
async function family(sysRoot: string, name: string): Promise<Node[]> {
  const out: Node[] = [];
  const seen = new Set<string>();
  const visit = async (dir: string, n: string): Promise<void> => {
    if (seen.has(n)) return;
    seen.add(n);
    out.push({ name: n, dev: await readText(join(dir, 'dev')) });
    for (const child of await list(dir)) {
      if (child.startsWith(n) && (await readText(join(dir, child, 'partition'))) !== undefined) await visit(join(dir, child), child);
    }
    for (const holder of await list(join(dir, 'holders'))) await visit(join(sysRoot, 'class', 'block', holder), holder);
  };
  await visit(join(sysRoot, 'block', name), name);
  return out;
}

/** Unescapes the octal escapes of /proc mount tables ('\040' = space). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

interface MountTable { byDev: Map<string, string[]>; byName: Map<string, string[]>; swaps: Set<string> }

async function mountTable(procRoot: string): Promise<MountTable> {
  const byDev = new Map<string, string[]>();
  const byName = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, k: string, v: string) => m.set(k, [...(m.get(k) ?? []), v]);
  // mountinfo gives maj:min of every mount, which also catches '/dev/root' and names from other namespaces;
  // /proc/self/mounts is the fallback (by device name).
  const info = await readText(join(procRoot, 'self', 'mountinfo'));
  if (info !== undefined) {
    for (const line of info.split('\n')) {
      const f = line.split(' ');
      const sep = f.indexOf('-');
      if (f.length < 5 || sep < 0) continue;
      add(byDev, f[2]!, unescape(f[4]!));
      const source = f[sep + 2];
      if (source?.startsWith('/dev/')) add(byName, basename(source), unescape(f[4]!));
    }
  } else {
    for (const line of (await readText(join(procRoot, 'self', 'mounts')))?.split('\n') ?? []) {
      const f = line.split(' ');
      if (f[0]?.startsWith('/dev/') && f[1]) add(byName, basename(f[0]), unescape(f[1]));
    }
  }
  const swaps = new Set<string>();
  for (const line of ((await readText(join(procRoot, 'swaps'))) ?? '').split('\n').slice(1)) {
    const dev = line.split(/\s+/)[0];
    if (dev?.startsWith('/dev/')) swaps.add(basename(dev));
  }
  return { byDev, byName, swaps };
}

/**
 * The block disks of this machine, read from sysfs and procfs only (works in an initramfs without udev).
 * Sources: /sys/block/X/{size (512-byte sectors), removable, ro, serial, wwid, nsid, device/{serial, wwid, model,
 * vpd_pg80}}, the /sys/block/X symlink target (by-path, see computeByPath), /sys/block/X/X*\/partition and holders/,
 * /proc/self/mountinfo (or mounts), /proc/swaps. Skips RAM disks, optical drives, dm/md/nbd, disks of size 0, and
 * loop devices unless includeLoop (then only attached ones). Sorted by name.
 * @param opts.sysRoot default '/sys'; opts.procRoot default '/proc'; opts.devRoot default '/dev' (BlockDisk.path)
 */
export async function listDisks(opts: { sysRoot?: string; procRoot?: string; devRoot?: string; includeLoop?: boolean } = {}): Promise<BlockDisk[]> {
  const sysRoot = opts.sysRoot ?? '/sys';
  const procRoot = opts.procRoot ?? '/proc';
  const devRoot = opts.devRoot ?? '/dev';
  const mounts = await mountTable(procRoot);
  const disks: BlockDisk[] = [];
  for (const name of (await list(join(sysRoot, 'block'))).sort()) {
    if (SKIP.test(name)) continue;
    if (name.startsWith('loop') && !opts.includeLoop) continue;
    const dir = join(sysRoot, 'block', name);
    const sectors = Number(await readText(join(dir, 'size')));
    if (!Number.isFinite(sectors) || sectors <= 0) continue;
    let target = '';
    try { target = await readlink(dir); } catch { /* a real directory (old sysfs layout): no path */ }
    const { byPath, pciAddress } = await computeByPath(name, target, sysRoot);
    const serial = (await readText(join(dir, 'serial'))) || (await readText(join(dir, 'device', 'serial'))) || vpd80Serial(await readBytes(join(dir, 'device', 'vpd_pg80')));
    const wwn = (await readText(join(dir, 'wwid'))) || (await readText(join(dir, 'device', 'wwid')));
    const model = await readText(join(dir, 'device', 'model'));
    const mounted: string[] = [];
    for (const n of await family(sysRoot, name)) {
      for (const m of [...(n.dev ? mounts.byDev.get(n.dev) ?? [] : []), ...(mounts.byName.get(n.name) ?? [])]) if (!mounted.includes(m)) mounted.push(m);
      if (mounts.swaps.has(n.name) && !mounted.includes('swap')) mounted.push('swap');
    }
    disks.push({
      name,
      path: join(devRoot, name),
      sizeBytes: sectors * 512,
      removable: (await readText(join(dir, 'removable'))) === '1',
      readOnly: (await readText(join(dir, 'ro'))) === '1',
      ...(serial ? { serial } : {}),
      ...(wwn ? { wwn } : {}),
      ...(byPath ? { byPath } : {}),
      ...(pciAddress ? { pciAddress } : {}),
      ...(model ? { model } : {}),
      mounted,
    });
  }
  return disks;
}

/** True when path is a regular file (an image file to attach with losetup) rather than a block device. */
export async function isRegularFile(path: string): Promise<boolean> {
  try { return (await stat(path)).isFile(); } catch { return false; }
}
