import { readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { SwarmbootError } from '@swarmboot/contracts';
import { normalizeRequestPath } from '../domain/paths.js';

/** A file resolved inside the root and read into memory. */
export interface StoredFile {
  /** the file's realpath */
  readonly path: string;
  readonly data: Buffer;
  readonly mtimeMs: number;
}

export interface FileStoreOptions {
  /** the served directory (must exist; its realpath is the boundary) */
  readonly root: string;
  /** memory budget of the cache (bytes); a file larger than this is served but not cached */
  readonly cacheBytes: number;
}

/**
 * Read-only files under one root, cached in memory: a small LRU keyed by realpath + mtime + size,
 * so a replaced file is read again and a boot storm asking the same kernel reads it once (reads in
 * flight are shared). Throws SwarmbootError `TFTP_ACCESS_VIOLATION` (path leaves the root, by `..`
 * or by a symlink; not a regular file; unreadable) or `TFTP_FILE_NOT_FOUND`.
 */
export class FileStore {
  private rootReal: string | undefined;
  private readonly cache = new Map<string, StoredFile>();
  private readonly inflight = new Map<string, Promise<StoredFile>>();
  private cachedBytes = 0;

  constructor(private readonly opts: FileStoreOptions) {}

  /** Resolves the root's realpath once (throws TFTP_ROOT_INVALID when it is not a directory). */
  async init(): Promise<void> {
    try {
      const real = await realpath(this.opts.root);
      if (!(await stat(real)).isDirectory()) throw new Error('not a directory');
      this.rootReal = real;
    } catch (err) {
      throw new SwarmbootError('TFTP_ROOT_INVALID', `TFTP root ${this.opts.root} is not a readable directory`, { cause: err, context: { root: this.opts.root } });
    }
  }

  /** Number of cached files and their bytes (for tests and metrics). */
  get stats(): { files: number; bytes: number } {
    return { files: this.cache.size, bytes: this.cachedBytes };
  }

  async open(filename: string): Promise<StoredFile> {
    const root = this.rootReal;
    if (root === undefined) throw new Error('FileStore.init() was not awaited');
    const relative = normalizeRequestPath(filename);
    if (relative === undefined) throw new SwarmbootError('TFTP_ACCESS_VIOLATION', 'path leaves the TFTP root', { context: { filename } });
    let real: string;
    try {
      real = await realpath(join(root, relative));
    } catch (err) {
      throw fsError(err, filename);
    }
    // A symlink may point anywhere; what counts is where it resolves.
    if (real !== root && !real.startsWith(root + sep)) {
      throw new SwarmbootError('TFTP_ACCESS_VIOLATION', 'path resolves outside the TFTP root', { context: { filename } });
    }
    let st;
    try {
      st = await stat(real);
    } catch (err) {
      throw fsError(err, filename);
    }
    if (!st.isFile()) throw new SwarmbootError('TFTP_ACCESS_VIOLATION', 'not a regular file', { context: { filename } });
    const key = `${real}\0${st.mtimeMs}\0${st.size}`;
    const hit = this.cache.get(key);
    if (hit) {
      // LRU: a Map iterates in insertion order, so re-inserting marks the entry most recent.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.load(key, real, st.mtimeMs, filename).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async load(key: string, real: string, mtimeMs: number, filename: string): Promise<StoredFile> {
    let data: Buffer;
    try {
      data = await readFile(real);
    } catch (err) {
      throw fsError(err, filename);
    }
    const file: StoredFile = { path: real, data, mtimeMs };
    if (data.length <= this.opts.cacheBytes) {
      // drop older versions of the same file: they will never be asked for again
      for (const [k, v] of this.cache) if (v.path === real) this.evict(k);
      this.cache.set(key, file);
      this.cachedBytes += data.length;
      for (const k of this.cache.keys()) {
        if (this.cachedBytes <= this.opts.cacheBytes) break;
        this.evict(k);
      }
    }
    return file;
  }

  private evict(key: string): void {
    const v = this.cache.get(key);
    if (!v) return;
    this.cache.delete(key);
    this.cachedBytes -= v.data.length;
  }
}

function fsError(err: unknown, filename: string): SwarmbootError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new SwarmbootError('TFTP_FILE_NOT_FOUND', 'file not found', { cause: err, context: { filename } });
  return new SwarmbootError('TFTP_ACCESS_VIOLATION', 'file not readable', { cause: err, context: { filename, errno: code } });
}
