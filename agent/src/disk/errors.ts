import { SwarmbootError, type ErrorCode } from '@swarmboot/contracts';

/**
 * The closed set of codes the disk module throws (as `SwarmbootError.code`), also usable as node failure
 * reasons; a subset of contracts' ErrorCodes (the registry gives each its meaning).
 * - DISK_NOT_FOUND: no block disk at all, or the hint matches none.
 * - DISK_TOO_SMALL: the chosen (or every) candidate disk is smaller than the image needs.
 * - DISK_MOUNTED: the chosen disk, one of its partitions or a holder is mounted or used as swap.
 * - DISK_WRITE_FAILED: partitioning, mkfs, unpacking, streaming or growing failed (context: tool, stderr tail).
 * - BOOTLOADER_FAILED: grub-install or grub-mkconfig failed inside the image's chroot.
 * - IMAGE_FORMAT_INVALID: the image is not a tar / raw disk in a known compression, or it is truncated.
 */
export const DiskErrorCode = {
  DISK_NOT_FOUND: 'DISK_NOT_FOUND',
  DISK_TOO_SMALL: 'DISK_TOO_SMALL',
  DISK_MOUNTED: 'DISK_MOUNTED',
  DISK_WRITE_FAILED: 'DISK_WRITE_FAILED',
  BOOTLOADER_FAILED: 'BOOTLOADER_FAILED',
  IMAGE_FORMAT_INVALID: 'IMAGE_FORMAT_INVALID',
} as const satisfies Record<string, ErrorCode>;
export type DiskErrorCode = (typeof DiskErrorCode)[keyof typeof DiskErrorCode];

export function diskError(code: DiskErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}): SwarmbootError {
  return new SwarmbootError(code, message, options);
}
