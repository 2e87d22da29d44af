import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Where an image lives: `<data>/images/<name>/<file>`, its .torrent beside it as `<file>.torrent`. */
export interface ImagePaths {
  dir: string;
  filePath: string;
  torrentPath: string;
  /** `.seed-state.json`: size and mtime of the file when it was last hashed (see SeedState) */
  statePath: string;
}

/** A directory `<data>/incoming/<uuid>/` for one image file on its way in (an upload or a download). */
export interface StagingArea {
  stagingDir: string;
  file: string;
  filePath: string;
}

/** An image received into its staging area and hashed, not yet in place. */
export interface StagedImage extends StagingArea {
  /** bytes */
  size: number;
  /** 64 hex digits */
  sha256: string;
}

/**
 * What the seeder knew about the file the last time it was hashed. When size and mtime still
 * match, a restart seeds it without hashing it again (webtorrent `skipVerify`).
 */
export interface SeedState {
  /** 40 hex digits */
  infoHash: string;
  /** bytes */
  size: number;
  mtimeMs: number;
}

/** The seeder's data directory. Uploads land in `incoming/` and are renamed into `images/` whole. */
export class ImageStore {
  readonly imagesDir: string;
  private readonly incomingDir: string;

  constructor(dataDir: string) {
    const root = resolve(dataDir);
    this.imagesDir = join(root, 'images');
    this.incomingDir = join(root, 'incoming');
  }

  /** Creates the directories and removes what interrupted uploads left behind. */
  async init(): Promise<void> {
    await mkdir(this.imagesDir, { recursive: true });
    await rm(this.incomingDir, { recursive: true, force: true });
    await mkdir(this.incomingDir, { recursive: true });
  }

  /** Paths of image `name` with file `file` (both already validated: single path components). */
  paths(name: string, file: string): ImagePaths {
    const dir = join(this.imagesDir, name);
    return { dir, filePath: join(dir, file), torrentPath: join(dir, `${file}.torrent`), statePath: join(dir, '.seed-state.json') };
  }

  /**
   * Streams `source` to a staging file, hashing it (SHA-256) on the way: the image is never held
   * in memory. The file is flushed to disk before this resolves. On error nothing is left behind.
   */
  async receive(source: Readable, file: string): Promise<StagedImage> {
    const { stagingDir, filePath } = await this.stage(file);
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        // flush: fsync before close, so the torrent made from this file describes what is on disk after a crash
        createWriteStream(filePath, { flags: 'wx', flush: true }),
      );
    } catch (err) {
      await rm(stagingDir, { recursive: true, force: true });
      throw err;
    }
    return { stagingDir, file, filePath, size, sha256: hash.digest('hex') };
  }

  /** A fresh staging directory for file `file` (a download from the swarm writes there). */
  async stage(file: string): Promise<StagingArea> {
    const stagingDir = join(this.incomingDir, randomUUID());
    await mkdir(stagingDir);
    return { stagingDir, file, filePath: join(stagingDir, file) };
  }

  /** A staged file written by someone else (a download): its size and SHA-256, read once. */
  async hashStaged(area: StagingArea): Promise<StagedImage> {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(area.filePath) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
    }
    return { ...area, size, sha256: hash.digest('hex') };
  }

  async writeStagedTorrent(staged: StagedImage, torrent: Uint8Array): Promise<void> {
    await writeFile(join(staged.stagingDir, `${staged.file}.torrent`), torrent, { flush: true });
  }

  async discard(staged: StagingArea): Promise<void> {
    await rm(staged.stagingDir, { recursive: true, force: true });
  }

  /**
   * Puts a staged image in place of whatever image `name` held (its old files are removed).
   * Two renames on one file system: readers see the old directory or the new one, never a mix.
   */
  async install(name: string, staged: StagedImage): Promise<ImagePaths> {
    const paths = this.paths(name, staged.file);
    const old = `${staged.stagingDir}.old`;
    let hadOld = true;
    try {
      await rename(paths.dir, old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      hadOld = false;
    }
    await rename(staged.stagingDir, paths.dir);
    if (hadOld) await rm(old, { recursive: true, force: true });
    return paths;
  }

  /** Size and mtime of a file, or undefined when it does not exist. */
  async statFile(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    try {
      const s = await stat(path);
      return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async readTorrent(paths: ImagePaths): Promise<Buffer | undefined> {
    try {
      return await readFile(paths.torrentPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async writeState(paths: ImagePaths, state: SeedState): Promise<void> {
    await writeFile(paths.statePath, JSON.stringify(state));
  }

  /** The recorded SeedState, or undefined when missing or unreadable (then the file gets hashed). */
  async readState(paths: ImagePaths): Promise<SeedState | undefined> {
    try {
      const s = JSON.parse(await readFile(paths.statePath, 'utf8')) as Partial<SeedState>;
      if (typeof s.infoHash === 'string' && typeof s.size === 'number' && typeof s.mtimeMs === 'number') return { infoHash: s.infoHash, size: s.size, mtimeMs: s.mtimeMs };
    } catch {
      /* missing or corrupt: verify instead */
    }
    return undefined;
  }
}
