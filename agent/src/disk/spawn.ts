import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { diskError, type DiskErrorCode } from './errors.js';

/**
 * The external tools the disk writer runs, so the install-environment builder can include exactly these (the
 * util-linux, e2fsprogs, dosfstools, tar, zstd and gzip binaries of Debian 12; busybox's tar, mount and losetup lack
 * options used here: GNU tar --xattrs, mount --bind of /dev). grub-install and grub-mkconfig come from the image's
 * own chroot. sgdisk is not needed: sfdisk relocates the backup GPT. blkid is not needed: the ids are generated.
 * Kernel side: ext4, vfat with nls_cp437 and nls_utf8 (Debian's FAT defaults), loop (image files only), the disk
 * drivers. Where the kernel has no vfat at all (this project's build host), the writer also needs mtools' mcopy
 * (DISK_TOOLS_NO_VFAT) to fill the ESP.
 */
export const DISK_TOOLS = [
  'sfdisk', 'wipefs', 'blockdev', 'partx', 'losetup', 'mkfs.ext4', 'e2fsck', 'resize2fs', 'mkfs.vfat',
  'tar', 'zstd', 'gzip', 'mount', 'umount', 'chroot',
] as const;

/** Needed besides DISK_TOOLS only where the kernel cannot mount vfat (see write.ts mountEsp). */
export const DISK_TOOLS_NO_VFAT = ['mcopy'] as const;

/** How many bytes of a tool's stderr are kept for the error message. */
const STDERR_TAIL = 2000;

export interface RunOptions {
  /** code of the SwarmbootError thrown when the tool fails (default DISK_WRITE_FAILED) */
  code?: DiskErrorCode;
  signal?: AbortSignal;
  /** bytes written to the tool's stdin */
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** exit codes that count as success besides 0 (e2fsck: 1 and 2 mean "errors corrected") */
  okExit?: readonly number[];
}

/**
 * Runs `cmd args…` (no shell) and resolves with its stdout. A non-zero exit, a spawn error (tool missing) or an abort
 * rejects with SwarmbootError(o.code ?? DISK_WRITE_FAILED) whose message holds the command line and the stderr tail.
 */
export function run(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], signal: o.signal, env: o.env ?? process.env });
    const line = [cmd, ...args].join(' ');
    // the 'error' listener first: a spawn that fails for lack of descriptors (EMFILE) sets up no
    // stdio and emits 'error' on the next tick — unheard, it would take the process down (as
    // untar in agent.ts did under bench/admission)
    child.on('error', (e) => reject(diskError(o.code ?? 'DISK_WRITE_FAILED', `${line}: ${e.message}`, { cause: e, context: { tool: cmd } })));
    const out: Buffer[] = [];
    let err = '';
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-STDERR_TAIL); });
    child.stdin?.on('error', () => { /* the tool may exit before reading its input; the exit code tells */ });
    child.stdin?.end(o.input ?? '');
    child.on('close', (code, sig) => {
      if (code === 0 || (code !== null && o.okExit?.includes(code))) resolve(Buffer.concat(out).toString());
      else reject(diskError(o.code ?? 'DISK_WRITE_FAILED', `${line}: exited ${code ?? sig}: ${err.trim()}`, { context: { tool: cmd, exitCode: code, stderr: err } }));
    });
  });
}

/** Counts the bytes that pass and reports them (bytes so far) to onBytes. */
export function byteCounter(onBytes: (n: number) => void): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) { n += chunk.length; onBytes(n); cb(null, chunk); },
  });
}

/**
 * Streams `source` through an optional decompressor child (`zstd -dc` / `gzip -dc`; Node 20 has no zstd) into
 * `sink` — a tool's stdin (tar) or a file/device opened for writing in place. onBytes sees the decompressed bytes
 * delivered to the sink so far. Resolves with that count; rejects with DISK_WRITE_FAILED naming every failing
 * stage and its stderr tail.
 */
export async function streamThrough(opts: {
  source: string;
  decompress?: readonly [string, ...string[]];
  sink: { file: string } | { cmd: string; args: readonly string[] };
  onBytes?: (n: number) => void;
  signal?: AbortSignal;
}): Promise<number> {
  const failures: string[] = [];
  const waits: Promise<void>[] = [];
  const children: ChildProcess[] = [];
  const startChild = (cmd: string, args: readonly string[], stdout: 'pipe' | 'ignore') => {
    const child = spawn(cmd, args, { stdio: ['pipe', stdout, 'pipe'], signal: opts.signal });
    children.push(child);
    let err = '';
    // listeners before any stdio is touched (see run: on EMFILE there is no stdio, only 'error')
    waits.push(new Promise((resolve) => {
      child.on('error', (e) => { failures.push(`${cmd}: ${e.message}`); resolve(); });
      child.on('close', (code, sig) => { if (code !== 0) failures.push(`${[cmd, ...args].join(' ')}: exited ${code ?? sig}: ${err.trim()}`); resolve(); });
    }));
    child.stderr?.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-STDERR_TAIL); });
    return child;
  };
  /** The child's stdio, or — when it could not be spawned — DISK_WRITE_FAILED once its 'error' is in. */
  const stdio = async <T>(s: T | null | undefined): Promise<T> => {
    if (s) return s;
    // the others started would wait for input for ever. Only those with a pid: Node keeps the
    // handle of a spawn that failed with EMFILE, with pid 0, and its kill() is kill(0, SIGTERM) —
    // the whole process group (it took the CI run down with it)
    for (const c of children) if (c.pid !== undefined && c.pid > 0) c.kill();
    await Promise.all(waits);
    throw diskError('DISK_WRITE_FAILED', failures.join('; ') || 'a tool could not be started', { context: { failures } });
  };
  // the children first, the files after: a child that cannot start (EMFILE) then leaves no file
  // stream open, whose own 'error' nobody would hear
  let decoder: { cmd: string; stdin: Writable; stdout: Readable } | undefined;
  if (opts.decompress) {
    const [cmd, ...args] = opts.decompress;
    const dec = startChild(cmd, args, 'pipe');
    decoder = { cmd, stdin: await stdio(dec.stdin), stdout: await stdio(dec.stdout) };
  }
  // 'r+': write a block device (or an image file) in place, never truncate it.
  const tail: Writable = 'file' in opts.sink ? createWriteStream(opts.sink.file, { flags: 'r+' }) : await stdio(startChild(opts.sink.cmd, opts.sink.args, 'ignore').stdin);
  let head: Readable = createReadStream(opts.source);
  if (decoder) {
    const { cmd } = decoder;
    waits.push(pipeline(head, decoder.stdin, { signal: opts.signal }).catch((e: Error) => { failures.push(`${cmd} stdin: ${e.message}`); }));
    head = decoder.stdout;
  }
  let total = 0;
  const counter = byteCounter((n) => { total = n; opts.onBytes?.(n); });
  await pipeline(head, counter, tail, { signal: opts.signal }).catch((e: Error) => { failures.push(`write: ${e.message}`); });
  await Promise.all(waits);
  if (failures.length > 0) throw diskError('DISK_WRITE_FAILED', failures.join('; '), { context: { failures } });
  return total;
}
