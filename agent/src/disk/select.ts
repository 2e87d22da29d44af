import { diskError } from './errors.js';

/**
 * One block disk as the kernel shows it in /sys/block (no udev needed). Sizes in bytes.
 * byPath is udev's path_id form computed from the sysfs device path (see listDisks for what is covered).
 */
export interface BlockDisk {
  /** kernel name, e.g. 'vda', 'sda', 'nvme0n1', 'loop3' */
  name: string;
  /** '/dev/' + name */
  path: string;
  sizeBytes: number;
  removable: boolean;
  readOnly: boolean;
  serial?: string;
  /** as the kernel spells it (wwid), e.g. 'naa.5000c500a1b2c3d4', 'eui.0025388b71b1c2d3' */
  wwn?: string;
  /** e.g. 'pci-0000:00:04.0' (virtio-blk), 'pci-0000:01:00.0-nvme-1', 'pci-0000:00:1f.2-ata-1' */
  byPath?: string;
  /** the PCI address of the controller the disk hangs off, e.g. '0000:00:04.0' */
  pciAddress?: string;
  model?: string;
  /** mount points (or 'swap') of the disk or any of its partitions/holders; empty when unused */
  mounted: string[];
}

const UNITS: Record<string, number> = {
  '': 1, B: 1,
  K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5,
  KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3, TIB: 1024 ** 4, PIB: 1024 ** 5,
  KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, PB: 1e15,
};

/**
 * Parses a size: '20G' (binary: K M G T P = 1024^n, also KiB…), '500GB' (decimal: KB MB GB TB PB = 1000^n), '4096'.
 * Returns bytes or undefined when it is not a size.
 */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toUpperCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

/** Canonical WWN for comparison: lower case, no 'naa.'/'eui.'/'t10.'/'0x' prefix ('wwn:0x5000…' and 'naa.5000…' match). */
export function normalizeWwn(text: string): string {
  return text.trim().toLowerCase().replace(/^(naa\.|eui\.|t10\.|nvme\.|0x)/, '');
}

export type DiskHint =
  | { kind: 'path'; path: string }
  | { kind: 'by-path'; value: string }
  | { kind: 'serial'; value: string }
  | { kind: 'wwn'; value: string }
  | { kind: 'size'; min: number; max: number };

/** Parses a disk hint (see selectDisk); throws DISK_NOT_FOUND for a hint it does not understand. */
export function parseDiskHint(hint: string): DiskHint {
  const h = hint.trim();
  if (h.startsWith('/dev/disk/by-path/')) return { kind: 'by-path', value: h.slice('/dev/disk/by-path/'.length) };
  if (h.startsWith('by-path:')) return { kind: 'by-path', value: h.slice('by-path:'.length).trim() };
  if (h.startsWith('serial:')) return { kind: 'serial', value: h.slice('serial:'.length).trim() };
  if (h.startsWith('wwn:')) return { kind: 'wwn', value: normalizeWwn(h.slice('wwn:'.length)) };
  if (h.startsWith('size')) {
    let min = 0;
    let max = Number.POSITIVE_INFINITY;
    for (const rule of h.split(',')) {
      const m = /^\s*size\s*(>=|<=)\s*(.+)$/.exec(rule);
      const bytes = m ? parseSize(m[2]!) : undefined;
      if (!m || bytes === undefined) throw diskError('DISK_NOT_FOUND', `disk hint ${JSON.stringify(hint)}: a size rule is size>=N or size<=N (N like 20G, 2T, 500GB)`);
      if (m[1] === '>=') min = Math.max(min, bytes);
      else max = Math.min(max, bytes);
    }
    return { kind: 'size', min, max };
  }
  if (/^\/dev\/[^/]+$/.test(h)) return { kind: 'path', path: h };
  throw diskError('DISK_NOT_FOUND', `disk hint ${JSON.stringify(hint)} not understood: use /dev/NAME, /dev/disk/by-path/… or by-path:…, serial:…, wwn:…, size>=N / size<=N`);
}

/** by-path forms compared without udev ≥ 252's '.0' ATA link suffix ('…-ata-1.0' = '…-ata-1'). */
function samePath(a: string, b: string): boolean {
  const strip = (s: string) => s.replace(/(-ata-\d+)\.0$/, '$1');
  return strip(a) === strip(b);
}

function matchesByPath(disks: BlockDisk[], value: string): BlockDisk[] {
  const exact = disks.filter((d) => d.byPath !== undefined && samePath(d.byPath, value));
  if (exact.length > 0) return exact;
  // 'pci-ADDR' alone names the controller: accepted when exactly one disk hangs off it (one NVMe namespace, one
  // SATA port in use) — never a guess among several.
  const pci = /^pci-([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$/i.exec(value);
  if (pci) {
    const onIt = disks.filter((d) => d.pciAddress?.toLowerCase() === pci[1]!.toLowerCase());
    if (onIt.length === 1) return onIt;
  }
  return [];
}

function describe(d: BlockDisk): string {
  return `${d.path} (${d.sizeBytes} bytes${d.byPath ? `, ${d.byPath}` : ''}${d.serial ? `, serial ${d.serial}` : ''})`;
}

function checkUsable(d: BlockDisk, minBytes: number): BlockDisk {
  if (d.readOnly) throw diskError('DISK_NOT_FOUND', `${describe(d)} is read-only`, { context: { disk: d.name } });
  if (d.mounted.length > 0) throw diskError('DISK_MOUNTED', `${describe(d)} is in use: ${d.mounted.join(', ')}`, { context: { disk: d.name, mounted: d.mounted } });
  if (d.sizeBytes < minBytes) throw diskError('DISK_TOO_SMALL', `${describe(d)} is smaller than the ${minBytes} bytes the image needs`, { context: { disk: d.name, sizeBytes: d.sizeBytes, minBytes } });
  return d;
}

/**
 * Picks the disk to write. Pure.
 *
 * hint (from the node's inventory) names one disk:
 * - '/dev/vda' — the kernel name;
 * - '/dev/disk/by-path/pci-0000:00:04.0' or 'by-path:pci-0000:00:04.0' — compared with BlockDisk.byPath (udev's
 *   path_id form; a trailing '.0' of the ATA link is ignored), or a bare 'pci-ADDR' when exactly one disk hangs off
 *   that PCI function;
 * - 'serial:XYZ' (exact, surrounding blanks ignored), 'wwn:0x5000…' / 'wwn:naa.5000…' (prefix and case ignored);
 * or restricts the candidates by size: 'size>=20G', 'size<=2T', both comma-separated ('size>=20G,size<=2T').
 * A named disk must be writable, unused and big enough (a removable one is accepted because it was named).
 * Without a hint (or with a size rule): the smallest non-removable, writable, unused disk of at least minBytes
 * (ties by name) — the smallest so that a big data disk is never taken for the OS.
 *
 * @param minBytes what the image needs (requiredDiskBytes)
 * @throws SwarmbootError DISK_NOT_FOUND no disk, hint not understood or matching nothing (or read-only);
 *   DISK_TOO_SMALL the named disk, or every candidate, is smaller than minBytes;
 *   DISK_MOUNTED the named disk is in use, or every candidate big enough is in use.
 */
export function selectDisk(disks: BlockDisk[], opts: { hint?: string; minBytes: number }): BlockDisk {
  const hint = opts.hint?.trim() ? parseDiskHint(opts.hint) : undefined;
  if (hint && hint.kind !== 'size') {
    let found: BlockDisk[];
    switch (hint.kind) {
      case 'path': found = disks.filter((d) => d.path === hint.path); break;
      case 'by-path': found = matchesByPath(disks, hint.value); break;
      case 'serial': found = disks.filter((d) => d.serial !== undefined && d.serial.trim() === hint.value); break;
      case 'wwn': found = disks.filter((d) => d.wwn !== undefined && normalizeWwn(d.wwn) === hint.value); break;
    }
    if (found.length === 0) throw diskError('DISK_NOT_FOUND', `no disk matches ${JSON.stringify(opts.hint)} among ${disks.map(describe).join(', ') || 'none'}`, { context: { hint: opts.hint } });
    if (found.length > 1) throw diskError('DISK_NOT_FOUND', `${JSON.stringify(opts.hint)} matches ${found.length} disks (${found.map((d) => d.path).join(', ')}), not one`, { context: { hint: opts.hint } });
    return checkUsable(found[0]!, opts.minBytes);
  }
  const min = hint?.kind === 'size' ? hint.min : 0;
  const max = hint?.kind === 'size' ? hint.max : Number.POSITIVE_INFINITY;
  const candidates = disks.filter((d) => !d.removable && !d.readOnly && d.sizeBytes >= min && d.sizeBytes <= max);
  if (candidates.length === 0) {
    throw diskError('DISK_NOT_FOUND', `no fixed writable disk${hint ? ` matching ${JSON.stringify(opts.hint)}` : ''} among ${disks.map(describe).join(', ') || 'none'}`, { context: { hint: opts.hint } });
  }
  const bigEnough = candidates.filter((d) => d.sizeBytes >= opts.minBytes);
  const free = bigEnough.filter((d) => d.mounted.length === 0).sort((a, b) => a.sizeBytes - b.sizeBytes || a.name.localeCompare(b.name));
  if (free.length > 0) return free[0]!;
  if (bigEnough.length > 0) {
    throw diskError('DISK_MOUNTED', `every disk big enough is in use: ${bigEnough.map((d) => `${describe(d)}: ${d.mounted.join(', ')}`).join('; ')}`, { context: { disks: bigEnough.map((d) => d.name) } });
  }
  const largest = Math.max(...candidates.map((d) => d.sizeBytes));
  throw diskError('DISK_TOO_SMALL', `the largest candidate disk has ${largest} bytes, the image needs ${opts.minBytes}`, { context: { largest, minBytes: opts.minBytes } });
}
