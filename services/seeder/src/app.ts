import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Counter, Gauge } from 'prom-client';
import { Type, type Static } from '@sinclair/typebox';
import { ApiError, Events, ImageFormatSchema, ImageList, ImageRecord, SignedImageManifest, SwarmbootError, httpStatusOf, type ErrorCode } from '@swarmboot/contracts';
import { ImageCatalog, bearerAuth, checkManifestMatches, httpErrors, type EventBus, type Logger, type Registry, type TokenSet } from '@swarmboot/kit';
import { ImageStore } from './adapters/image-store.js';
import { TorrentSwarm } from './adapters/swarm.js';
import { FILE_NAME_PATTERN, IMAGE_NAME_PATTERN, checkFileName, checkImageName } from './domain/names.js';
import { seederPeerId } from './domain/peer-id.js';
import { ImageService } from './image-service.js';

export interface SeederAppConfig {
  /** data directory; images at `<dataDir>/images/<name>/<file>` */
  dataDir: string;
  /** base URL peers and nodes reach this seeder's HTTP API at (torrent and web seed URLs start with it) */
  publicUrl: string;
  /** tracker announce URL written into every .torrent and announced to */
  announceUrl: string;
  /** BitTorrent upload cap over all torrents (bytes/s); 0 for none */
  uploadLimit: number;
  /** BitTorrent TCP port; 0 picks a free one */
  torrentPort: number;
  /** super-seeding (BEP 16): pieces offered to each peer at a time; 0 = plain seeding (default 4) */
  superSeedPieces?: number;
}

export interface SeederDeps {
  log: Logger;
  bus: EventBus;
  redis: Redis;
  registry: Registry;
  config: SeederAppConfig;
  /** the fatal path: the BitTorrent listener failed after start (runService's `onFatal`) */
  onFatal?: (err: Error) => void;
  /** bearer tokens; an upload needs one with scope deploy (kit's `bearerAuth`). Undefined: no authentication, logged once as a warning */
  tokens?: TokenSet | undefined;
}

const NameParams = Type.Object({ name: Type.String({ description: `image name, ${IMAGE_NAME_PATTERN}` }) });
const FileParams = Type.Object({ name: Type.String(), file: Type.String({ description: `file name, ${FILE_NAME_PATTERN}` }) });
const PutQuery = Type.Object({
  file: Type.Optional(Type.String({ description: `file name of the image, ${FILE_NAME_PATTERN}` })),
  format: Type.Optional(ImageFormatSchema),
  bootable: Type.Optional(Type.Boolean({ description: 'the image boots on its own from a disk (kernel and boot loader inside); default false' })),
});

/**
 * The seeder's HTTP app (built, not started): the image API, the .torrent files and the BEP 19
 * web seed. `ready()` prepares the data directory, starts the BitTorrent client, re-seeds
 * every catalogued image found on disk, then follows `image.added` and fetches from the swarm
 * every catalogued image it lacks (replicas share no disk); `close()` stops fetching and seeding.
 *
 * - `PUT /v1/images/:name?file=F` (application/octet-stream body, streamed) → 201 ImageRecord;
 *   scope `deploy`, checked before the first byte is read
 * - `PUT /v1/images/:name/manifest` (JSON SignedImageManifest) → 200 ImageRecord; scope `deploy`;
 *   422 IMAGE_MANIFEST_MISMATCH when it does not describe the catalog's version, 409 CONFLICT when
 *   the image was replaced meanwhile
 * - `GET /v1/images` → ImageList; `GET /v1/images/:name` → ImageRecord; scope `read`
 * - `GET /v1/images/:name/torrent` → the .torrent (application/x-bittorrent), from the catalog; public (nodes)
 * - `GET|HEAD /v1/images/:name/file/:file` → the image, with Range (206) — the web seed URL;
 *   503 IMAGE_NOT_READY with Retry-After while this replica fetches the catalog's version; public (nodes)
 */
export function buildSeederApp(deps: SeederDeps): FastifyInstance {
  const log = deps.log.child({ component: 'http' });
  const store = new ImageStore(deps.config.dataDir);
  const catalog = new ImageCatalog(deps.redis);
  const swarm = new TorrentSwarm({
    log: deps.log,
    peerId: seederPeerId(),
    torrentPort: deps.config.torrentPort,
    uploadLimit: deps.config.uploadLimit,
    superSeedPieces: deps.config.superSeedPieces ?? 4,
    announce: [deps.config.announceUrl],
    ...(deps.onFatal ? { onError: deps.onFatal } : {}),
  });
  const registers = [deps.registry];
  const added = new Counter({ name: 'swarmboot_seeder_images_added_total', help: 'images stored, hashed and seeded', registers });
  const webSeedRequests = new Counter({ name: 'swarmboot_seeder_webseed_requests_total', help: 'web seed (BEP 19) requests served', registers });
  const replicated = new Counter({
    name: 'swarmboot_seeder_images_replicated_total',
    help: 'images this replica fetched from the swarm after another replica stored them: done (verified, seeded) or failed',
    labelNames: ['outcome'] as const,
    registers,
  });
  const images = new ImageService({
    log: deps.log,
    store,
    catalog,
    bus: deps.bus,
    swarm,
    publicUrl: deps.config.publicUrl.replace(/\/+$/, ''),
    announceUrl: deps.config.announceUrl,
    onAdded: () => added.inc(),
    onReplicated: (outcome) => replicated.inc({ outcome }),
  });
  new Gauge({
    name: 'swarmboot_seeder_swarm',
    help: 'BitTorrent side of the seeder: torrents seeded or downloading, peers connected, bytes uploaded by those torrents, images being fetched from the swarm',
    labelNames: ['what'] as const,
    registers,
    collect() {
      const s = swarm.stats();
      this.set({ what: 'torrents' }, s.torrents);
      this.set({ what: 'peers' }, s.peers);
      this.set({ what: 'uploaded_bytes' }, s.uploadedBytes);
      this.set({ what: 'fetching' }, images.fetching());
    },
  });

  // typed as the base logger so the instance is a plain FastifyInstance for callers
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger });
  // before the routes: errors answer in the registry's vocabulary, never a framework code
  void app.register(httpErrors);
  void app.register(bearerAuth, { tokens: deps.tokens });
  // reply.sendFile for the web seed (Range, If-Range, ETag, HEAD); nothing served by prefix
  void app.register(fastifyStatic, { serve: false });

  let unfollow: (() => Promise<void>) | undefined;
  app.addHook('onReady', async () => {
    await store.init();
    await swarm.start();
    await images.reseedAll();
    // Replicas: every image.added (from any replica, this one included) brings that image here.
    // Follow first, then read the catalog: an image added in between is seen by one or the other.
    unfollow = await deps.bus.follow(Events.imageAdded, (data) => images.sync(data.name));
    void images.reconcile().catch((err: unknown) => log.error({ err }, 'reading the catalog to fetch missing images failed; the next image.added event fetches its image'));
  });
  app.addHook('onClose', async () => {
    await unfollow?.();
    await images.close();
    await swarm.destroy();
  });

  // JSON routes: their own scope, so the upload routes' parsers (raw bytes only) do not apply
  void app.register(async (json) => {
    // A signed manifest (issue 15) for the catalog's version of an image: checked against the
    // record here (the seeder holds no trusted keys; the scheduler and the agents verify the
    // signature against a deployment's), stored only while that version is still the catalog's.
    json.put<{ Params: { name: string }; Body: SignedImageManifest }>(
      '/v1/images/:name/manifest',
      {
        config: { scope: 'deploy' },
        schema: {
          params: NameParams,
          body: SignedImageManifest,
          response: { 200: ImageRecord, '4xx': ApiError, '5xx': ApiError },
        },
      },
      async (req) => {
        const name = checkImageName(req.params.name);
        const record = await catalog.get(name);
        if (!record) throw notFound(name);
        checkManifestMatches(req.body, record, 'catalog record');
        if (!(await catalog.putSignedManifest(name, record.infoHash, req.body))) throw new SwarmbootError('CONFLICT', `image ${name} was replaced while its manifest was stored; sign the new version`);
        log.info({ image: name, infoHash: record.infoHash, keyId: req.body.keyId }, 'signed manifest stored');
        return { ...record, signedManifest: req.body };
      },
    );
  });

  void app.register(async (api) => {
    // The image is the body: hand the raw stream to the handler instead of buffering it
    // (fastify's bodyLimit applies to parsers that buffer; this one does not).
    // Only raw bytes are an image: a JSON or text body is refused with 415 before the handler runs.
    api.removeAllContentTypeParsers();
    api.addContentTypeParser('application/octet-stream', (_req, _payload, done) => done(null));
    // any other type: the registry's 415, with what to send instead of fastify's bare "Unsupported Media Type"
    api.addContentTypeParser('*', (_req, _payload, done) => done(new SwarmbootError('UNSUPPORTED_MEDIA_TYPE', 'send the image as application/octet-stream'), undefined));

    api.put<{ Params: { name: string }; Querystring: Static<typeof PutQuery> }>(
      '/v1/images/:name',
      { config: { scope: 'deploy' }, schema: { params: NameParams, querystring: PutQuery, response: { 201: ImageRecord, '4xx': ApiError, '5xx': ApiError } } },
      async (req, reply) => {
        checkImageName(req.params.name);
        const file = checkFileName(req.query.file);
        const record = await images.add(req.params.name, file, req.raw, { format: req.query.format, bootable: req.query.bootable });
        return reply.code(201).send(record);
      },
    );

    api.get('/v1/images', { config: { scope: 'read' }, schema: { response: { 200: ImageList } } }, async () => ({ images: await catalog.list() }));

    api.get<{ Params: { name: string } }>('/v1/images/:name', { config: { scope: 'read' }, schema: { params: NameParams, response: { 200: ImageRecord, '4xx': ApiError } } }, async (req) => {
      const record = await catalog.get(checkImageName(req.params.name));
      if (!record) throw notFound(req.params.name);
      return record;
    });

    // From the catalog: any replica answers at once, whether it has fetched the image yet or not.
    api.get<{ Params: { name: string } }>('/v1/images/:name/torrent', { config: { scope: 'public' }, schema: { params: NameParams } }, async (req, reply) => {
      const name = checkImageName(req.params.name);
      const torrent = await images.torrentOf(name);
      if (!torrent) throw notFound(name);
      return reply.type('application/x-bittorrent').header('content-disposition', `attachment; filename="${name}.torrent"`).send(torrent);
    });

    // The web seed. For a single-file torrent BEP 19's url-list entry is the file's own URL and
    // webtorrent sends its Range requests to it unchanged (webtorrent lib/webconn.js), so the URL
    // ends in the file name. A request per block: logged at warn only.
    // A replica still fetching the catalog's version answers 503 with Retry-After rather than 404
    // (the image exists) or an older copy's bytes (a web seed's Range requests must all read one
    // version). There is nowhere to redirect: replicas share one Service URL.
    api.get<{ Params: { name: string; file: string } }>('/v1/images/:name/file/:file', { config: { scope: 'public' }, schema: { params: FileParams }, logLevel: 'warn' }, async (req, reply) => {
      const servable = await images.servable(checkImageName(req.params.name));
      if (servable?.kind === 'wait') {
        // answered here, not thrown: an expected wait, not a failure for the error log (kit's httpErrors logs every 5xx at error)
        const code: ErrorCode = 'IMAGE_NOT_READY';
        const message = `this seeder replica is still fetching ${req.params.name}; retry in ${servable.retryAfterSeconds} s`;
        return reply.code(httpStatusOf(code)).header('retry-after', String(servable.retryAfterSeconds)).send({ code, message });
      }
      const local = servable?.local;
      if (!local || local.record.file !== checkFileName(req.params.file)) throw notFound(req.params.name);
      webSeedRequests.inc();
      return reply.sendFile(local.record.file, local.paths.dir, { acceptRanges: true, etag: true, lastModified: true, cacheControl: false, dotfiles: 'deny' });
    });
  });

  return app;
}

function notFound(name: string): SwarmbootError {
  return new SwarmbootError('IMAGE_NOT_FOUND', `no image ${name} on this seeder`, { context: { name } });
}
