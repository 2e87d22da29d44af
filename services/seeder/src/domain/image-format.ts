import { SwarmbootError, ImageFormat } from '@swarmboot/contracts';

/** What the first bytes of an image file are. */
export type Container = 'tar' | 'gzip' | 'zstd' | 'xz' | 'disk' | 'unknown';

/** Bytes of an image's head that `sniffContainer` needs (a tar header's magic ends at 263, an MBR at 512, a GPT header's signature at 520). */
export const HEAD_BYTES = 1024;

/**
 * The container of an image from its first bytes: gzip (RFC 1952 §2.3.1, 1f 8b), zstd (RFC 8878
 * §3.1.1, 28 b5 2f fd), xz (fd 37 7a 58 5a 00), POSIX tar (`ustar` at offset 257), a disk (GPT
 * header `EFI PART` at LBA 1, UEFI 2.10 §5.3.2, or an MBR boot signature 55 aa at 510).
 */
export function sniffContainer(head: Buffer): Container {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  if (head.length >= 520 && head.subarray(512, 520).toString('latin1') === 'EFI PART') return 'disk';
  if (head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa) return 'disk';
  return 'unknown';
}

/**
 * The format an image is recorded with. A declared format must fit the bytes (a tar is never a
 * `raw-disk`, a disk never a `rootfs-tar`); a compressed file is taken as declared, or by its
 * name when nothing is declared (`*.tar.*` is a root file system, anything else a disk).
 * Bytes that are none of these are a `raw-disk` only when declared so (a whole-disk file system).
 * Throws IMAGE_FORMAT_MISMATCH (declared format contradicts the bytes), IMAGE_FORMAT_UNKNOWN
 * (neither tar, disk nor a known compression, and not declared `raw-disk`).
 */
export function resolveImageFormat(declared: ImageFormat | undefined, head: Buffer, file: string): ImageFormat {
  const c = sniffContainer(head);
  // a whole-disk file system (mkfs on the bare device) has no partition table: only a declaration can say it is a disk
  if (c === 'unknown' && declared === ImageFormat.rawDisk) return declared;
  if (c === 'unknown') {
    throw new SwarmbootError('IMAGE_FORMAT_UNKNOWN', `${file} is neither a tar, a disk image (GPT/MBR) nor gzip/zstd/xz-compressed`, { context: { file } });
  }
  const fromBytes = c === 'tar' ? ImageFormat.rootfsTar : c === 'disk' ? ImageFormat.rawDisk : undefined;
  if (declared !== undefined && fromBytes !== undefined && declared !== fromBytes) {
    throw new SwarmbootError('IMAGE_FORMAT_MISMATCH', `${file} is a ${c === 'tar' ? 'tar archive' : 'disk image'}, not ${declared}`, { context: { file, declared } });
  }
  return declared ?? fromBytes ?? (/\.t(ar\.[a-z0-9]+|gz|zst|xz)$/i.test(file) ? ImageFormat.rootfsTar : ImageFormat.rawDisk);
}
