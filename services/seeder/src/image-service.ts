import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Events, SwarmbootError, type ImageAdded, type ImageFormat, type ImageRecord } from '@swarmboot/contracts';
import type { EventBus, ImageCatalog, Logger } from '@swarmboot/kit';
import type { ImagePaths, ImageStore } from './adapters/image-store.js';
import type { TorrentSwarm } from './adapters/swarm.js';
import { infoHashOf, makeTorrent } from './adapters/torrent-file.js';
import { checkFileName, checkImageName } from './domain/names.js';
import { HEAD_BYTES, resolveImageFormat } from './domain/image-format.js';
import { pieceLengthFor } from './domain/piece-length.js';

/** What the uploader says of an image (seeder `PUT /v1/images/:name?format=…&bootable=…`). */
export interface ImageTraits {
  /** declared format; when absent it is read from the bytes (and the name for compressed files) */
  format?: ImageFormat | undefined;
  /** it boots on its own from a disk (default false) */
  bootable?: boolean | undefined;
}

/** An image this seeder holds on disk and seeds. */
export interface LocalImage {
  record: ImageRecord;
  paths: ImagePaths;
}

export interface ImageServiceDeps {
  log: Logger;
  store: ImageStore;
  catalog: ImageCatalog;
  bus: EventBus;
  swarm: TorrentSwarm;
  /** public base URL of this seeder, no trailing slash */
  publicUrl: string;
  /** tracker announce URL */
  announceUrl: string;
  onAdded?: () => void;
}

/** Adding, replacing and re-seeding images: the seeder's one path from bytes to a seeded torrent. */
export class ImageService {
  private readonly local = new Map<string, LocalImage>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly log: Logger;

  constructor(private readonly deps: ImageServiceDeps) {
    this.log = deps.log.child({ component: 'images' });
  }

  /** The image as seeded here, if this seeder holds it. */
  localImage(name: string): LocalImage | undefined {
    return this.local.get(name);
  }

  /** URLs of an image on this seeder (BEP 19: a single-file torrent's web seed is the file's own URL). */
  urls(name: string, file: string): { torrentUrl: string; webSeedUrl: string } {
    const base = `${this.deps.publicUrl}/v1/images/${encodeURIComponent(name)}`;
    return { torrentUrl: `${base}/torrent`, webSeedUrl: `${base}/file/${encodeURIComponent(file)}` };
  }

  /**
   * Stores `body` as image `name` (file name `file`), hashes it, makes its .torrent, records it
   * in the catalog, seeds it and publishes `Events.imageAdded`. Replaces an image of the same name.
   * Errors: IMAGE_NAME_INVALID, IMAGE_FILE_INVALID, IMAGE_EMPTY, STORAGE_FULL, IMAGE_UPLOAD_ABORTED,
   * IMAGE_FORMAT_UNKNOWN, IMAGE_FORMAT_MISMATCH, TORRENT_CREATE_FAILED, SEEDER_SEED_FAILED.
   */
  async add(name: string, file: string, body: Readable, traits: ImageTraits = {}): Promise<ImageRecord> {
    checkImageName(name);
    checkFileName(file);
    return this.exclusive(name, () => this.addLocked(name, file, body, traits));
  }

  private async addLocked(name: string, file: string, body: Readable, traits: ImageTraits): Promise<ImageRecord> {
    const log = this.log.child({ image: name });
    const started = Date.now();
    const staged = await this.deps.store.receive(body, file).catch((err: unknown) => {
      throw uploadError(err);
    });
    let installed = false;
    try {
      if (staged.size === 0) throw new SwarmbootError('IMAGE_EMPTY', 'the request body (the image) is empty');
      const format = resolveImageFormat(traits.format, await readHead(staged.filePath), file);
      const pieceLength = pieceLengthFor(staged.size);
      const urls = this.urls(name, file);
      const { torrent, infoHash } = await makeTorrent(staged.filePath, { name: file, pieceLength, announceUrl: this.deps.announceUrl, webSeedUrl: urls.webSeedUrl });
      await this.deps.store.writeStagedTorrent(staged, torrent);

      const previous = await this.deps.catalog.get(name);
      const old = this.local.get(name);
      if (old) {
        this.local.delete(name);
        await this.deps.swarm.stop(old.record.infoHash);
      }
      const paths = await this.deps.store.install(name, staged);
      installed = true;
      const st = await this.deps.store.statFile(paths.filePath);
      if (st) await this.deps.store.writeState(paths, { infoHash, size: st.size, mtimeMs: st.mtimeMs });

      const added: ImageAdded = { name, file, format, bootable: traits.bootable ?? false, size: staged.size, sha256: staged.sha256, infoHash, pieceLength, ...urls };
      const record: ImageRecord = { ...added, addedAt: new Date().toISOString() };
      // catalog first: the tracker admits the seeder's own first announce only once the infohash is
      // registered (put also unregisters the replaced image's infohash, so its dead swarm is refused)
      await this.deps.catalog.put(record);
      // we hashed these bytes a moment ago: no need to read them a second time
      await this.deps.swarm.seed(torrent, paths.dir, { skipVerify: true, name });
      this.local.set(name, { record, paths });
      await this.deps.bus.publish(Events.imageAdded, added);
      this.deps.onAdded?.();
      log.info({ infoHash, size: staged.size, pieceLength, replaced: previous?.infoHash, ms: Date.now() - started }, 'image added');
      return record;
    } finally {
      if (!installed) await this.deps.store.discard(staged);
    }
  }

  /**
   * Seeds again every catalogued image whose file is in the data directory (start-up). A file is
   * hashed only when its size or mtime changed since it was last hashed; one that no longer
   * matches its torrent is not seeded. Images are taken one at a time (hashing is disk-bound).
   */
  async reseedAll(): Promise<{ seeded: string[]; skipped: { name: string; reason: string }[] }> {
    const seeded: string[] = [];
    const skipped: { name: string; reason: string }[] = [];
    for (const record of await this.deps.catalog.list()) {
      const reason = await this.exclusive(record.name, () => this.reseed(record)).catch((err: unknown) => `failed: ${err instanceof Error ? err.message : String(err)}`);
      if (reason === undefined) seeded.push(record.name);
      else skipped.push({ name: record.name, reason });
    }
    this.log.info({ seeded, skipped }, 're-seeded the catalogued images found in the data directory');
    return { seeded, skipped };
  }

  /** Seeds one catalogued image from disk; a reason when it cannot. */
  private async reseed(record: ImageRecord): Promise<string | undefined> {
    if (this.local.get(record.name)?.record.infoHash === record.infoHash) return undefined;
    const log = this.log.child({ image: record.name });
    let paths: ImagePaths;
    try {
      paths = this.deps.store.paths(checkImageName(record.name), checkFileName(record.file));
    } catch {
      return 'name or file not valid here';
    }
    const st = await this.deps.store.statFile(paths.filePath);
    if (!st) return 'file not in the data directory';
    const torrent = await this.deps.store.readTorrent(paths);
    if (!torrent) {
      log.warn({ path: paths.torrentPath }, 'image file present but its .torrent is missing; not seeding');
      return '.torrent missing';
    }
    if ((await infoHashOf(torrent)) !== record.infoHash) {
      log.warn({ infoHash: record.infoHash }, 'the file on disk is an older copy than the catalog record; not seeding');
      return 'stale copy';
    }
    const state = await this.deps.store.readState(paths);
    const unchanged = state !== undefined && state.infoHash === record.infoHash && state.size === st.size && state.mtimeMs === st.mtimeMs && st.size === record.size;
    const result = await this.deps.swarm.seed(torrent, paths.dir, { skipVerify: unchanged, name: record.name });
    if (!result.complete) {
      log.error({ infoHash: record.infoHash, path: paths.filePath }, 'image file does not match its torrent; not seeding');
      return 'file does not match its torrent';
    }
    if (!unchanged) await this.deps.store.writeState(paths, { infoHash: record.infoHash, size: st.size, mtimeMs: st.mtimeMs });
    this.local.set(record.name, { record, paths });
    return undefined;
  }

  /** Runs `fn` after every earlier call for the same image name has settled. */
  private exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(name, settled);
    void settled.then(() => {
      if (this.locks.get(name) === settled) this.locks.delete(name);
    });
    return next;
  }
}

function uploadError(err: unknown): SwarmbootError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new SwarmbootError('STORAGE_FULL', 'no space left in the seeder data directory', { cause: err });
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'ECONNABORTED') {
    return new SwarmbootError('IMAGE_UPLOAD_ABORTED', 'the upload ended before the request body did', { cause: err });
  }
  return err instanceof SwarmbootError ? err : new SwarmbootError('IMAGE_STORE_FAILED', `cannot store the image: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(HEAD_BYTES), 0, HEAD_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
