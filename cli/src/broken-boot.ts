import { createHash } from 'node:crypto';
import { SwarmbootError, type ErrorCode } from '@swarmboot/contracts';
import { connectRedis, createLogger, ImageCatalog } from '@swarmboot/kit';
import { SchedulerConfig } from '@swarmboot/scheduler';

/**
 * Deliberately broken VM boots of `swarmboot demo --vms N --break KIND` (issue 14): each makes
 * the install fail in one known way through the real stack, so that the log sink's failure rules
 * (services/logsink/rules/failure-rules.yaml) meet real kernel and agent lines, and a failed node
 * shows its reason in `swarmboot timeline` and on the dashboard.
 *
 * - `corrupt-image`: after the upload the catalog's sha256 of the image is replaced by another
 *   one, as if the bytes had changed after the sha256 was made (the .torrent's piece hashes stay
 *   right, so the download completes); the agent's check fails: IMAGE_CORRUPT.
 * - `small-disk`: each VM's disk is 64 MiB, smaller than the compressed image: the agent refuses
 *   the disk before the download: DISK_TOO_SMALL.
 * - `low-memory`: 384 MiB of RAM; the install environment keeps the image on a tmpfs (RAM), so the
 *   download fills the memory and the kernel's OOM killer ends the agent: OUT_OF_MEMORY (its
 *   lines reach the sink by netconsole).
 * - `kernel-panic`: `low-memory` with `sysctl.vm.panic_on_oom=1` on the install environment's
 *   command line: the kernel panics instead of killing: KERNEL_PANIC (netconsole).
 */
export const BrokenBoots = {
  'corrupt-image': { code: 'IMAGE_CORRUPT', what: "the catalog's sha256 of the image is changed after the upload" },
  'small-disk': { code: 'DISK_TOO_SMALL', what: "each VM's disk is 64 MiB, smaller than the image" },
  'low-memory': { code: 'OUT_OF_MEMORY', what: '384 MiB of RAM: the image on the RAM-backed work directory fills it' },
  'kernel-panic': { code: 'KERNEL_PANIC', what: '384 MiB of RAM and sysctl.vm.panic_on_oom=1: out of memory panics the kernel' },
} as const satisfies Record<string, { code: ErrorCode; what: string }>;
export type BrokenBoot = keyof typeof BrokenBoots;

export const isBrokenBoot = (v: string): v is BrokenBoot => Object.hasOwn(BrokenBoots, v);

/** The VM disk of `small-disk`, bytes: below any bootable image (debian-12-bootable.tar.zst is 190 MB). */
export const SMALL_DISK_BYTES = 64 * 1024 ** 2;
/**
 * The RAM of `low-memory` and `kernel-panic`, MiB: the install environment unpacks (130 MB) and
 * runs, and the 190 MB image it downloads to its tmpfs does not fit beside them. 640 MiB was
 * measured to be enough for the whole download (demo --vms 1, debian-12-bootable.tar.zst).
 */
export const LOW_MEMORY_MIB = 384;
/** The scheduler's default SWARMBOOT_BOOTENV_CMDLINE (its config schema), which `kernel-panic` extends. */
const BOOTENV_CMDLINE: string = SchedulerConfig.properties.SWARMBOOT_BOOTENV_CMDLINE.default;

/**
 * What a broken boot changes in the VM demo (pure): the VM's disk size and RAM, and extra
 * environment for the scheduler (the install environment's kernel command line).
 */
export function brokenBootSettings(kind: BrokenBoot | undefined): { diskBytes?: number; memMiB?: number; schedulerEnv: Record<string, string> } {
  switch (kind) {
    case 'small-disk':
      return { diskBytes: SMALL_DISK_BYTES, schedulerEnv: {} };
    case 'low-memory':
      return { memMiB: LOW_MEMORY_MIB, schedulerEnv: {} };
    case 'kernel-panic':
      // sysctl.* boot parameters set sysctls at boot (kernel 5.8+; Documentation/admin-guide/kernel-parameters.txt)
      return { memMiB: LOW_MEMORY_MIB, schedulerEnv: { SWARMBOOT_BOOTENV_CMDLINE: `${BOOTENV_CMDLINE} sysctl.vm.panic_on_oom=1` } };
    default:
      return { schedulerEnv: {} };
  }
}

/** Another sha256 (64 hex digits) than `sha256`, derived from it (pure). */
export function otherSha256(sha256: string): string {
  return createHash('sha256').update(`corrupt:${sha256}`).digest('hex');
}

/**
 * `corrupt-image`: rewrites the catalog record of image `name` (Redis at `redisUrl`) with another
 * sha256; infohash and .torrent stay, so the swarm still delivers the bytes. Returns the sha256
 * the catalog now names. Throws IMAGE_NOT_FOUND, REDIS_UNAVAILABLE.
 */
export async function corruptCatalogSha256(redisUrl: string, name: string): Promise<string> {
  const redis = await connectRedis(redisUrl, createLogger('cli', 'warn'));
  try {
    const catalog = new ImageCatalog(redis);
    const entry = await catalog.entry(name);
    if (!entry) throw new SwarmbootError('IMAGE_NOT_FOUND', `no image ${name} in the catalog`);
    const sha256 = otherSha256(entry.record.sha256);
    await catalog.put({ ...entry.record, sha256 }, entry.torrent);
    return sha256;
  } finally {
    redis.disconnect();
  }
}
