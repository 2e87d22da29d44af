import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { isSwarmbootError } from '@swarmboot/contracts';
import { resolveImageFormat, sniffContainer } from '../src/domain/image-format.js';

/** A one-entry POSIX tar header block (magic `ustar` at 257, POSIX.1-1988). */
function tarHead(): Buffer {
  const b = Buffer.alloc(1024);
  b.write('etc/hostname', 0, 'latin1');
  b.write('ustar\u000000', 257, 'latin1');
  return b;
}
/** A protective MBR (55 aa at 510) and a GPT header (`EFI PART` at LBA 1). */
function gptHead(): Buffer {
  const b = Buffer.alloc(1024);
  b[510] = 0x55;
  b[511] = 0xaa;
  b.write('EFI PART', 512, 'latin1');
  return b;
}
const zstdHead = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0, 0]);

test('sniffContainer: tar, disk, gzip, zstd, xz, unknown, short input', () => {
  assert.equal(sniffContainer(tarHead()), 'tar');
  assert.equal(sniffContainer(gptHead()), 'disk');
  assert.equal(sniffContainer(gptHead().subarray(0, 512)), 'disk', 'an MBR alone is a disk');
  assert.equal(sniffContainer(gzipSync(tarHead())), 'gzip');
  assert.equal(sniffContainer(zstdHead), 'zstd');
  assert.equal(sniffContainer(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00])), 'xz');
  assert.equal(sniffContainer(Buffer.from('hello world')), 'unknown');
  assert.equal(sniffContainer(Buffer.alloc(0)), 'unknown');
  for (let n = 0; n < 300; n += 7) assert.doesNotThrow(() => sniffContainer(tarHead().subarray(0, n)));
});

test('resolveImageFormat: from the bytes, from the name for compressed files, a declared format that fits', () => {
  assert.equal(resolveImageFormat(undefined, tarHead(), 'root.tar'), 'rootfs-tar');
  assert.equal(resolveImageFormat(undefined, gptHead(), 'disk.img'), 'raw-disk');
  assert.equal(resolveImageFormat(undefined, zstdHead, 'debian.tar.zst'), 'rootfs-tar');
  assert.equal(resolveImageFormat(undefined, gzipSync(tarHead()), 'debian.tgz'), 'rootfs-tar');
  assert.equal(resolveImageFormat(undefined, zstdHead, 'debian.raw.zst'), 'raw-disk');
  assert.equal(resolveImageFormat('rootfs-tar', zstdHead, 'debian.zst'), 'rootfs-tar');
  assert.equal(resolveImageFormat('raw-disk', gptHead(), 'x'), 'raw-disk');
  assert.equal(resolveImageFormat('raw-disk', Buffer.alloc(1024), 'ext4-whole-disk.img'), 'raw-disk', 'a declared disk without a partition table');
});

test('resolveImageFormat: a declared format the bytes contradict, or unknown bytes, are refused with codes', () => {
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      if (isSwarmbootError(err)) return err.code;
      throw err;
    }
    return 'none';
  };
  assert.equal(code(() => resolveImageFormat('raw-disk', tarHead(), 'root.tar')), 'IMAGE_FORMAT_MISMATCH');
  assert.equal(code(() => resolveImageFormat('rootfs-tar', gptHead(), 'disk.raw')), 'IMAGE_FORMAT_MISMATCH');
  assert.equal(code(() => resolveImageFormat(undefined, Buffer.from('#!/bin/sh\n'), 'x.tar')), 'IMAGE_FORMAT_UNKNOWN');
});
