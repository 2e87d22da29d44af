import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SwarmbootError } from '@swarmboot/contracts';

const pexec = promisify(execFile);

/**
 * Where scripts/build-assets.sh and scripts/build-bootenv.sh cache the real inputs ($SWARMBOOT_CACHE
 * or ~/.cache/swarmboot): the demo's minbase tarball and the tests' sample, the bootable Debian 12
 * image in both formats (`build-assets.sh --bootable`), the TFTP root, the install environment.
 */
export function assetPaths(): { cache: string; debianImage: string; sampleImage: string; bootableImage: string; bootableRawImage: string; tftpRoot: string; bootenvDir: string } {
  const cache = process.env['SWARMBOOT_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'swarmboot');
  return {
    cache,
    debianImage: join(cache, 'image', 'debian-12-minbase.tar'),
    sampleImage: join(cache, 'image', 'sample-tzdata.tar'),
    bootableImage: join(cache, 'image', 'debian-12-bootable.tar.zst'),
    bootableRawImage: join(cache, 'image', 'debian-12-bootable.raw.zst'),
    tftpRoot: join(cache, 'tftp'),
    bootenvDir: join(cache, 'bootenv'),
  };
}

/** Builds the cached assets when missing (debootstrap takes about a minute, once). Throws ASSETS_FAILED. */
export async function ensureAssets(o: { sampleOnly: boolean; say: (m: string) => void }): Promise<void> {
  const a = assetPaths();
  const need = [a.sampleImage, join(a.tftpRoot, 'debian', 'initrd.gz'), ...(o.sampleOnly ? [] : [a.debianImage])];
  if (need.every((f) => existsSync(f))) return;
  const script = fileURLToPath(new URL('../../../scripts/build-assets.sh', import.meta.url));
  o.say(`building the demo's assets (${script}) — once, cached in ${a.cache}`);
  try {
    await pexec('bash', [script, ...(o.sampleOnly ? ['--sample-only'] : [])], { maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    throw new SwarmbootError('ASSETS_FAILED', `scripts/build-assets.sh failed: ${(err as { stderr?: string }).stderr?.slice(-2000) ?? String(err)}`, { cause: err });
  }
}
