import { posix } from 'node:path';

/**
 * Turns a requested TFTP filename into a path relative to the server root, or undefined when it
 * would leave the root. Backslashes (sent by some PXE ROMs with DOS-style names) count as
 * separators, so `..\..\x` is caught like `../../x`; leading `/` are stripped, so absolute paths
 * are taken relative to the root (as tftp-hpa does with `-s`). Returns `.` for the root itself.
 * This is the lexical check only; symlinks are checked against the root's realpath by the file store.
 */
export function normalizeRequestPath(filename: string): string | undefined {
  const slashed = filename.replace(/\\/g, '/').replace(/^\/+/, '');
  const normalized = posix.normalize(slashed === '' ? '.' : slashed).replace(/\/+$/, '');
  if (normalized === '..' || normalized.startsWith('../')) return undefined;
  return normalized === '' ? '.' : normalized;
}
