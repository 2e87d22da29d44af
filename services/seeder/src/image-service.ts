import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Events, SwarmbootError, type ImageAdded, type ImageFormat, type ImageRecord } from '@swarmboot/contracts';
import type { EventBus, ImageCatalog, Logger } from '@swarmboot/kit';
import type { ImagePaths, ImageStore, StagedImage } from './adapters/image-store.js';
import type { Download, TorrentSwarm } from './adapters/swarm.js';
import { infoHashOf, makeTorrent } from './adapters/torrent-file.js';
import { checkFileName, checkImageName } from './domain/names.js';
import { HEAD_BYTES, resolveImageFormat } from './domain/image-format.js';
import { pieceLengthFor } from './domain/piece-length.js';
import { RETRY_AFTER_UNKNOWN_S, retryAfterSeconds } from './domain/retry-after.js';

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

/**
 * What a web seed request for an image gets on this replica: the local copy when it is the
 * catalog's version (or the catalog has no record), else a wait while the catalog's version is
 * fetched from the swarm (503 IMAGE_NOT_READY with Retry-After, never the wrong bytes).
 */
export type Servable = { kind: 'serve'; local: LocalImage } | { kind: 'wait'; retryAfterSeconds: number };

/** A fetch of the catalog's version of an image from the swarm (a replica catching up). */
interface Fetch {
  /** 40 hex digits: the version fetched */
  infoHash: string;
  abort: AbortController;
  /** set once the download runs (after the image's lock) */
  download?: Download;
  task?: Promise<void>;
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
  /** a fetch from the swarm ended: the image is seeded here, or it failed (it is tried again at the next event or start) */
  onReplicated?: (outcome: 'done' | 'failed') => void;
}

/**
 * Adding, replacing, re-seeding and replicating images: the seeder's one path from bytes to a
 * seeded torrent. Replicas share the catalog (Redis) but not a disk: an image stored by one is
 * fetched by the others from the swarm (`sync`), each keeping its own copy.
 */
export class ImageService {
  private readonly local = new Map<string, LocalImage>();
  private readonly fetches = new Map<string, Fetch>();
  private closed = false;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly log: Logger;

  constructor(private readonly deps: ImageServiceDeps) {
    this.log = deps.log.child({ component: 'images' });
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
   * IMAGE_FORMAT_UNKNOWN, IMAGE_FORMAT_MISMATCH, IMAGE_DUPLICATE (the same bytes and file name are
   * another image already), TORRENT_CREATE_FAILED, SEEDER_SEED_FAILED.
   */
  async add(name: string, file: string, body: Readable, traits: ImageTraits = {}): Promise<ImageRecord> {
    checkImageName(name);
    checkFileName(file);
    // an upload supersedes whatever version this replica was fetching (a stalled fetch must not hold the upload)
    this.fetches.get(name)?.abort.abort(new Error('replaced by an upload'));
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
      // one infohash, one image: the catalog maps the infohash back to its image (the tracker's
      // admission), and a swarm cannot be seeded twice
      const owner = await this.deps.catalog.nameByInfoHash(infoHash);
      if (owner !== undefined && owner !== name) {
        throw new SwarmbootError('IMAGE_DUPLICATE', `these bytes, as ${file}, are already image ${owner} (infohash ${infoHash}): deploy ${owner}, or upload them under another file name`, { context: { image: owner, infoHash } });
      }
      await this.deps.store.writeStagedTorrent(staged, torrent);

      const previous = await this.deps.catalog.get(name);
      const paths = await this.installStaged(name, staged);
      installed = true;

      const added: ImageAdded = { name, file, format, bootable: traits.bootable ?? false, size: staged.size, sha256: staged.sha256, infoHash, pieceLength, ...urls };
      const record: ImageRecord = { ...added, addedAt: new Date().toISOString() };
      // catalog first: the tracker admits the seeder's own first announce only once the infohash is
      // registered (put also unregisters the replaced image's infohash, so its dead swarm is refused).
      // The .torrent goes with the record: the other replicas fetch the image with it.
      await this.deps.catalog.put(record, torrent);
      await this.seedInstalled(record, paths, torrent);
      await this.deps.bus.publish(Events.imageAdded, added);
      this.deps.onAdded?.();
      log.info({ infoHash, size: staged.size, pieceLength, replaced: previous?.infoHash, ms: Date.now() - started }, 'image added');
      return record;
    } finally {
      if (!installed) await this.deps.store.discard(staged);
    }
  }

  /** Stops seeding the image `name` held here and moves the staged one in its place. */
  private async installStaged(name: string, staged: StagedImage): Promise<ImagePaths> {
    const old = this.local.get(name);
    if (old) {
      this.local.delete(name);
      await this.deps.swarm.stop(old.record.infoHash);
    }
    return this.deps.store.install(name, staged);
  }

  /** Seeds an installed image whose bytes were just hashed (no need to read them a second time) and serves it from now on. */
  private async seedInstalled(record: ImageRecord, paths: ImagePaths, torrent: Uint8Array): Promise<void> {
    const st = await this.deps.store.statFile(paths.filePath);
    if (st) await this.deps.store.writeState(paths, { infoHash: record.infoHash, size: st.size, mtimeMs: st.mtimeMs });
    await this.deps.swarm.seed(torrent, paths.dir, { skipVerify: true, name: record.name });
    this.local.set(record.name, { record, paths });
  }

  /**
   * What a web seed request for `name` gets here (see Servable); undefined when neither the
   * catalog nor this replica has the image.
   */
  async servable(name: string): Promise<Servable | undefined> {
    const local = this.local.get(name);
    const record = await this.deps.catalog.get(name);
    if (local && (!record || record.infoHash === local.record.infoHash)) return { kind: 'serve', local };
    if (!record) return undefined;
    const fetch = this.fetches.get(name);
    const p = fetch?.infoHash === record.infoHash ? fetch.download?.progress() : undefined;
    return { kind: 'wait', retryAfterSeconds: p ? retryAfterSeconds(p.length - p.downloaded, p.bytesPerSecond) : RETRY_AFTER_UNKNOWN_S };
  }

  /**
   * The .torrent of the catalog's version of `name`, from the catalog, so every replica answers
   * whether it has fetched the image yet or not; for an image catalogued without one, this
   * replica's copy on disk when it is that version. Undefined when there is none.
   */
  async torrentOf(name: string): Promise<Buffer | undefined> {
    const entry = await this.deps.catalog.entry(name);
    if (entry?.torrent) return entry.torrent;
    const local = this.local.get(name);
    if (!local || (entry && entry.record.infoHash !== local.record.infoHash)) return undefined;
    return this.deps.store.readTorrent(local.paths);
  }

  /** Images being fetched from the swarm now (for /metrics). */
  fetching(): number {
    return this.fetches.size;
  }

  /**
   * Brings image `name` on this replica to the catalog's version: nothing when it holds that
   * version or is fetching it already; else it starts fetching it from the swarm (aborting the
   * fetch of an older version) and returns without waiting for the download. Called for every
   * `image.added` event and, at start, for every catalogued image (`reconcile`). A fetch that
   * fails is logged and counted; the next event or start tries again.
   */
  async sync(name: string): Promise<void> {
    if (this.closed) return;
    const entry = await this.deps.catalog.entry(name);
    if (!entry) return;
    const { record, torrent } = entry;
    if (this.local.get(name)?.record.infoHash === record.infoHash) return;
    const running = this.fetches.get(name);
    if (running?.infoHash === record.infoHash) return;
    running?.abort.abort(new Error('a newer version is in the catalog'));
    const log = this.log.child({ image: name, infoHash: record.infoHash });
    if (!torrent) {
      log.warn('the catalog has no .torrent for this image; the replica that holds it adds it when it starts');
      return;
    }
    const fetch: Fetch = { infoHash: record.infoHash, abort: new AbortController() };
    this.fetches.set(name, fetch);
    fetch.task = this.exclusive(name, () => this.fetchLocked(record, torrent, fetch))
      .then(
        (fetched) => {
          if (fetched) this.deps.onReplicated?.('done');
        },
        (err: unknown) => {
          if (fetch.abort.signal.aborted) return;
          log.error({ err }, 'fetching the image from the swarm failed; the next image.added event or start tries again');
          this.deps.onReplicated?.('failed');
        },
      )
      .finally(() => {
        if (this.fetches.get(name) === fetch) this.fetches.delete(name);
      });
  }

  /** Starts fetching every catalogued image this replica lacks or holds an older version of (start-up, after reseedAll). */
  async reconcile(): Promise<void> {
    for (const record of await this.deps.catalog.list()) await this.sync(record.name);
  }

  /** Aborts the fetches (their partial files are removed) and waits for them. */
  async close(): Promise<void> {
    this.closed = true;
    const running = [...this.fetches.values()];
    for (const f of running) f.abort.abort(new Error('seeder closing'));
    await Promise.all(running.map((f) => f.task));
  }

  /**
   * Downloads the catalog's version of an image from the swarm into a staging directory, checks
   * it against the record (size, sha256: the pieces' SHA-1 only prove the .torrent's bytes), puts
   * it in place of any older copy and seeds it. False when there was nothing to do.
   * Errors: TORRENT_INVALID, IMAGE_REPLICA_MISMATCH, SEEDER_SEED_FAILED, file system errors.
   */
  private async fetchLocked(record: ImageRecord, torrent: Buffer, fetch: Fetch): Promise<boolean> {
    const { signal } = fetch.abort;
    // an upload of the same bytes may have got the lock first
    if (signal.aborted || this.local.get(record.name)?.record.infoHash === record.infoHash) return false;
    // the record comes from Redis: its names become paths only once checked
    const name = checkImageName(record.name);
    const file = checkFileName(record.file);
    if ((await infoHashOf(torrent)) !== record.infoHash) throw new SwarmbootError('TORRENT_INVALID', `the catalog's .torrent of ${name} is not the record's infohash`);
    const log = this.log.child({ image: name, infoHash: record.infoHash });
    const started = Date.now();
    log.info({ size: record.size }, 'fetching the image from the swarm');
    const area = await this.deps.store.stage(file);
    let installed = false;
    try {
      const download = this.deps.swarm.download(torrent, area.stagingDir, { name, signal });
      fetch.download = download;
      await download.done;
      const staged = await this.deps.store.hashStaged(area);
      if (staged.size !== record.size || staged.sha256 !== record.sha256) {
        throw new SwarmbootError('IMAGE_REPLICA_MISMATCH', `fetched ${name}: ${staged.size} bytes, sha256 ${staged.sha256}; the catalog says ${record.size} bytes, sha256 ${record.sha256}`);
      }
      if (signal.aborted) return false;
      await this.deps.store.writeStagedTorrent(staged, torrent);
      const paths = await this.installStaged(name, staged);
      installed = true;
      await this.seedInstalled(record, paths, torrent);
      log.info({ size: record.size, ms: Date.now() - started }, 'image fetched from the swarm, verified and seeded');
      return true;
    } finally {
      if (!installed) await this.deps.store.discard(area);
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
    // images catalogued before the catalog kept .torrents: add this copy's, so other replicas can fetch it
    await this.deps.catalog.putTorrent(record.name, record.infoHash, torrent);
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
