import { spawn } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { ImageFormat } from '@swarmboot/contracts';
import { diskError } from './errors.js';

export type { ImageFormat } from '@swarmboot/contracts';
export type Compression = 'zstd' | 'gzip' | 'none';

const MiB = 1024 * 1024;
/** Partition layout of rootfs-tar (write.ts): 1 MiB before the first partition, BIOS boot, ESP; 1 MiB for the backup GPT and alignment at the end. */
export const LAYOUT = { leadBytes: MiB, biosBootBytes: MiB, espBytes: 256 * MiB, tailBytes: MiB } as const;

/** By magic bytes, not by name: zstd frame 28 B5 2F FD (RFC 8878 §3.1.1), gzip 1F 8B (RFC 1952 §2.3.1). */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  return 'none';
}

/** The decompressor child's argv for a compression (zstd, since Node 20 has none; gzip as a child too, for one path). */
export function decompressor(c: Compression): readonly [string, ...string[]] | undefined {
  return c === 'zstd' ? ['zstd', '-dc', '-q'] : c === 'gzip' ? ['gzip', '-dc'] : undefined;
}

async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally { await fh.close(); }
}

/** A readable of the decompressed bytes of file (zstd through a child; the child is killed when the stream is destroyed). */
export function decompressedStream(file: string, c: Compression): Readable {
  if (c === 'none') return createReadStream(file);
  if (c === 'gzip') return createReadStream(file).pipe(createGunzip());
  const child = spawn('zstd', ['-dc', '-q', file], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.on('error', () => { /* reported as a short read by the reader */ });
  const out = child.stdout;
  out.on('close', () => child.kill());
  return out;
}

/** The first n decompressed bytes (fewer when the content is shorter). */
export async function peekDecompressed(file: string, c: Compression, n: number): Promise<Buffer> {
  if (c === 'none') return readAt(file, 0, n);
  const s = decompressedStream(file, c);
  const chunks: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of s) {
      chunks.push(chunk as Buffer);
      got += (chunk as Buffer).length;
      if (got >= n) break;
    }
  } catch { /* corrupt input: the caller judges what came */ } finally { s.destroy(); }
  return Buffer.concat(chunks).subarray(0, n);
}

/** A tar header block: 'ustar' magic at 257 (POSIX and GNU) and a valid header checksum (POSIX.1-1988 §10.1.1). */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  if (block.toString('latin1', 257, 262) !== 'ustar') return false;
  const want = parseInt(block.toString('latin1', 148, 156).replace(/\0/g, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return sum === want;
}

/** A disk image: MBR boot signature 55 AA at 510, or a GPT header 'EFI PART' at LBA 1 (UEFI 2.10 §5.3.2). */
export function isDiskImage(head: Buffer): boolean {
  return (head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa) || (head.length >= 520 && head.toString('latin1', 512, 520) === 'EFI PART');
}

export interface ImageInfo { compression: Compression; /** bytes after decompression */ contentBytes: number }

/**
 * Checks that file holds the format (magic bytes, not the name) and returns its compression and decompressed size.
 * @throws SwarmbootError IMAGE_FORMAT_INVALID not a tar / not a disk image (MBR or GPT), unknown compression, truncated zstd
 */
export async function inspectImage(file: string, format: ImageFormat): Promise<ImageInfo> {
  const compression = detectCompression(await readAt(file, 0, 4));
  const head = await peekDecompressed(file, compression, 1024);
  const ok = format === 'rootfs-tar' ? isTarHeader(head.subarray(0, 512)) : isDiskImage(head);
  if (!ok) {
    throw diskError('IMAGE_FORMAT_INVALID', `${file}: not a ${format === 'rootfs-tar' ? 'tar archive' : 'disk image (no MBR signature, no GPT header)'}${compression === 'none' ? '' : ` inside ${compression}`}`, { context: { file, format, compression } });
  }
  return { compression, contentBytes: await contentSize(file, compression) };
}

/**
 * Decompressed size of a zstd file from its frame headers (RFC 8878 §3.1.1.1), walking every frame's blocks
 * (§3.1.1.2) so concatenated frames add up and a truncated file is caught. undefined when a frame does not
 * record its content size (zstd from a pipe): the caller then counts.
 */
export async function zstdContentSize(file: string): Promise<number | undefined> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(18);
    let pos = 0;
    let total = 0;
    const bad = (why: string) => diskError('IMAGE_FORMAT_INVALID', `${file}: zstd ${why} at byte ${pos}`, { context: { file } });
    while (pos < size) {
      const { bytesRead } = await fh.read(buf, 0, 18, pos);
      if (bytesRead < 8) throw bad('truncated frame header');
      const magic = buf.readUInt32LE(0);
      if ((magic & 0xfffffff0) === 0x184d2a50) { pos += 8 + buf.readUInt32LE(4); continue; } // skippable frame
      if (magic !== 0xfd2fb528) throw bad('bad frame magic');
      const fhd = buf[4]!;
      const fcsFlag = fhd >> 6;
      const single = (fhd >> 5) & 1;
      const checksum = (fhd >> 2) & 1;
      const didSize = [0, 1, 2, 4][fhd & 3]!;
      const fcsSize = [single ? 1 : 0, 2, 4, 8][fcsFlag]!;
      let p = 5 + (single ? 0 : 1) + didSize;
      if (fcsSize === 0) return undefined;
      const fcs = fcsSize === 1 ? buf[p]! : fcsSize === 2 ? buf.readUInt16LE(p) + 256 : fcsSize === 4 ? buf.readUInt32LE(p) : Number(buf.readBigUInt64LE(p));
      p += fcsSize;
      total += fcs;
      pos += p;
      for (;;) {
        const { bytesRead: n } = await fh.read(buf, 0, 3, pos);
        if (n < 3) throw bad('truncated block header');
        const bh = buf.readUIntLE(0, 3);
        const last = bh & 1;
        const type = (bh >> 1) & 3;
        const bsize = bh >>> 3;
        if (type === 3) throw bad('reserved block type');
        pos += 3 + (type === 1 ? 1 : bsize);
        if (last) break;
      }
      pos += checksum ? 4 : 0;
      if (pos > size) throw bad('truncated frame');
    }
    return total;
  } finally { await fh.close(); }
}

/** Counts the decompressed bytes (the fallback when no header records the size). */
async function countDecompressed(file: string, c: Compression): Promise<number> {
  let n = 0;
  try {
    for await (const chunk of decompressedStream(file, c)) n += (chunk as Buffer).length;
  } catch (e) {
    throw diskError('IMAGE_FORMAT_INVALID', `${file}: ${c} data is corrupt: ${(e as Error).message}`, { cause: e });
  }
  return n;
}

/**
 * Decompressed size in bytes: zstd from the frame headers; gzip from ISIZE (RFC 1952 §2.3.1, the size mod 2^32),
 * trusted only while the file is too small to hold 4 GiB (deflate expands at most ~1032:1), else counted;
 * uncompressed: the file size.
 */
export async function contentSize(file: string, c: Compression): Promise<number> {
  const size = (await stat(file)).size;
  if (c === 'none') return size;
  if (c === 'zstd') return (await zstdContentSize(file)) ?? countDecompressed(file, c);
  if (size < 2 ** 32 / 1032) return (await readAt(file, size - 4, 4)).readUInt32LE(0);
  return countDecompressed(file, c);
}

/** Parses a tar numeric field: octal text, or GNU base-256 (high bit of the first byte set). */
function tarNumber(field: Buffer): number {
  if (field[0]! & 0x80) {
    let v = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i]!;
    return v;
  }
  const t = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return t ? parseInt(t, 8) : 0;
}

export interface TarUsage { files: number; dirs: number; others: number; /** sum of regular file sizes, bytes */ dataBytes: number; /** the same, each rounded up to 4 KiB blocks */ blockBytes: number }

/** Walks the tar headers of the decompressed stream (ustar, GNU long names 'L'/'K', pax 'x'/'g' with size=). */
export async function tarUsage(file: string, c: Compression): Promise<TarUsage> {
  const u: TarUsage = { files: 0, dirs: 0, others: 0, dataBytes: 0, blockBytes: 0 };
  let pending: Buffer = Buffer.alloc(0);
  let skip = 0; // bytes of entry data still to pass over
  let paxSize: number | undefined;
  let collectPax: { left: number; parts: Buffer[] } | undefined;
  const s = decompressedStream(file, c);
  let ended = false;
  outer: for await (const chunk of s) {
    pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, pending.length);
        if (collectPax) { collectPax.parts.push(pending.subarray(0, Math.min(n, collectPax.left))); collectPax.left -= Math.min(n, collectPax.left); }
        pending = pending.subarray(n);
        skip -= n;
        if (skip > 0) break;
        if (collectPax) {
          const m = /(?:^|\n)\d+ size=(\d+)\n/.exec(Buffer.concat(collectPax.parts).toString('utf8'));
          if (m) paxSize = Number(m[1]);
          collectPax = undefined;
        }
      }
      if (pending.length < 512) break;
      const h = pending.subarray(0, 512);
      pending = pending.subarray(512);
      if (h.every((b) => b === 0)) { ended = true; break outer; }
      if (!isTarHeader(h)) throw diskError('IMAGE_FORMAT_INVALID', `${file}: bad tar header after ${u.files + u.dirs + u.others} entries`, { context: { file } });
      const type = String.fromCharCode(h[156]!);
      const size = paxSize ?? tarNumber(h.subarray(124, 136));
      const padded = Math.ceil(size / 512) * 512;
      if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        if (type === 'x') collectPax = { left: size, parts: [] };
        skip = padded;
        continue; // paxSize applies to the next real entry
      }
      paxSize = undefined;
      if (type === '0' || type === '\0' || type === '7') {
        u.files++; u.dataBytes += size; u.blockBytes += Math.ceil(size / 4096) * 4096;
        skip = padded;
      } else if (type === '5') u.dirs++;
      else { u.others++; skip = type === '1' || type === '2' ? 0 : padded; }
    }
  }
  s.destroy();
  if (!ended && skip > 0) throw diskError('IMAGE_FORMAT_INVALID', `${file}: tar archive is truncated`, { context: { file } });
  return u;
}

/**
 * Bytes of the ext4 root filesystem that holds this tar's content: file blocks + one 4 KiB block per directory,
 * + 1/16 for ext4 metadata (inode tables at mke2fs' default 1 inode per 16 KiB, 256-byte inodes, bitmaps, extent
 * trees), + 5 % reserved for root, + 128 MiB journal (mke2fs' size for filesystems of 4 GiB and more), + 20 % margin
 * so the first boot has room (logs, machine-id, apt).
 */
export function rootFsBytes(u: TarUsage): number {
  const content = u.blockBytes + u.dirs * 4096;
  return Math.ceil((content * (1 + 1 / 16) / 0.95 + 128 * MiB) * 1.2);
}

/**
 * Bytes a disk needs for this image.
 * rootfs-tar: the GPT layout (1 MiB lead, 1 MiB BIOS boot, 256 MiB ESP, 1 MiB tail) + rootFsBytes (the tar is read
 * through once, decompressed). raw-disk: the decompressed size (see contentSize).
 * @throws SwarmbootError IMAGE_FORMAT_INVALID see inspectImage, tarUsage
 */
export async function requiredDiskBytes(imageFile: string, format: ImageFormat): Promise<number> {
  const info = await inspectImage(imageFile, format);
  if (format === 'raw-disk') return info.contentBytes;
  const u = await tarUsage(imageFile, info.compression);
  const bytes = LAYOUT.leadBytes + LAYOUT.biosBootBytes + LAYOUT.espBytes + rootFsBytes(u) + LAYOUT.tailBytes;
  return Math.ceil(bytes / MiB) * MiB;
}
