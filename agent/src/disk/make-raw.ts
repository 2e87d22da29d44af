import { open, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger } from '@swarmboot/kit';
import { requiredDiskBytes } from './format.js';
import { writeImage } from './write.js';

/**
 * `node agent/dist/src/disk/make-raw.js --tar IN --out OUT.raw --size BYTES`: a raw disk image (format raw-disk)
 * made from a rootfs tarball by the agent's own writer on a sparse file, so one code path makes both formats.
 * Refuses a size smaller than requiredDiskBytes. Removes OUT on failure. Needs root (losetup, mount, chroot).
 */
export async function makeRaw(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { tar: { type: 'string' }, out: { type: 'string' }, size: { type: 'string' } } });
  const size = Number(values.size);
  if (!values.tar || !values.out || !Number.isInteger(size) || size <= 0) throw new Error('usage: make-raw --tar IN --out OUT.raw --size BYTES');
  const log = createLogger('make-raw');
  const need = await requiredDiskBytes(values.tar, 'rootfs-tar');
  if (size < need) throw new Error(`--size ${size}: the image needs at least ${need} bytes`);
  const fh = await open(values.out, 'w');
  try { await fh.truncate(size); } finally { await fh.close(); }
  try {
    const r = await writeImage({ device: values.out, image: values.tar, format: 'rootfs-tar', log });
    log.info({ ...r, out: values.out, size, need }, 'raw disk made');
  } catch (err) {
    await rm(values.out, { force: true });
    throw err;
  }
}

// Run as a program only under its own name: bundled into the agent's single file, import.meta.url is the bundle's,
// which equals argv[1] when the agent runs.
const self = process.argv[1];
if (self && basename(self) === 'make-raw.js' && import.meta.url === pathToFileURL(self).href) {
  makeRaw(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
