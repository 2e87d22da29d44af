import type { Redis } from 'ioredis';
import { Value } from '@sinclair/typebox/value';
import { ImageRecord, RedisKeys, SignedImageManifest } from '@swarmboot/contracts';
import { LuaScript } from './lua-script.js';

/**
 * KEYS: image hash, image name set, infohash index. ARGV: name, record JSON, infohash, .torrent
 * bytes ('' for none). The replaced record's infohash leaves the index only while it still names
 * this image (another image may have registered the same bytes since). The .torrent is written in
 * the same step, and a replaced image's .torrent never outlives its record. A signed manifest
 * describes one version: a put drops it (the new version is signed anew).
 */
const PUT_LUA = `
local old = redis.call('HGET', KEYS[1], 'json')
if old then
  local ok, rec = pcall(cjson.decode, old)
  if ok and type(rec) == 'table' and type(rec.infoHash) == 'string' and rec.infoHash ~= ARGV[3] and redis.call('HGET', KEYS[3], rec.infoHash) == ARGV[1] then
    redis.call('HDEL', KEYS[3], rec.infoHash)
  end
end
redis.call('HSET', KEYS[1], 'json', ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'torrent', ARGV[4]) else redis.call('HDEL', KEYS[1], 'torrent') end
redis.call('HDEL', KEYS[1], 'manifest')
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[1])
return 1
`;

/**
 * KEYS: image hash. ARGV: infohash, field, value. Sets `field` (the .torrent, the signed manifest)
 * only while the record is still the version with this infohash: a replica adding the .torrent of
 * its copy must not pair it with a newer record another replica put meanwhile, and an upload in
 * between must not get the old version's signature. Returns 1 when set.
 */
const setForVersion = new LuaScript(`
local json = redis.call('HGET', KEYS[1], 'json')
if not json then return 0 end
local ok, rec = pcall(cjson.decode, json)
if not ok or type(rec) ~= 'table' or rec.infoHash ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
`);

/** A catalog record with its .torrent, read together (they belong to the same version). */
export interface CatalogEntry {
  record: ImageRecord;
  /** the bencoded .torrent (BEP 3); absent for images put without one (before seeder replicas fetched images) */
  torrent: Buffer | undefined;
}

/**
 * The image catalog in Redis. The seeder writes it; the scheduler and the tracker read it.
 * A record is stored as JSON in field `json` of `RedisKeys.image(name)`; the infohash index in
 * `RedisKeys.imageInfoHashes` is written in the same script.
 */
export class ImageCatalog {
  constructor(private readonly redis: Redis) {}

  /**
   * Adds or replaces the record of `record.name` with its .torrent (bencoded, BEP 3), atomically.
   * A replaced record's infohash is dropped from the index: the tracker must stop admitting
   * announces for a swarm that is gone.
   */
  async put(record: ImageRecord, torrent?: Uint8Array): Promise<void> {
    // EVAL, not EVALSHA: an image is put once per upload, the script's text costs nothing there
    const torrentArg = torrent ? Buffer.from(torrent.buffer, torrent.byteOffset, torrent.byteLength) : '';
    await this.redis.eval(PUT_LUA, 3, RedisKeys.image(record.name), RedisKeys.images, RedisKeys.imageInfoHashes, record.name, JSON.stringify(record), record.infoHash, torrentArg);
  }

  /**
   * Stores the .torrent of image `name` when its record still has `infoHash` (40 hex digits);
   * false when the record is gone or names other bytes now.
   */
  async putTorrent(name: string, infoHash: string, torrent: Uint8Array): Promise<boolean> {
    const set = await setForVersion.run(this.redis, [RedisKeys.image(name)], [infoHash, 'torrent', Buffer.from(torrent.buffer, torrent.byteOffset, torrent.byteLength)]);
    return set === 1;
  }

  /**
   * Attaches a signed manifest to image `name` when its record still has `infoHash` (40 hex
   * digits); false when the record is gone or names other bytes now. The caller checked that the
   * manifest describes the record.
   */
  async putSignedManifest(name: string, infoHash: string, manifest: SignedImageManifest): Promise<boolean> {
    return (await setForVersion.run(this.redis, [RedisKeys.image(name)], [infoHash, 'manifest', JSON.stringify(manifest)])) === 1;
  }

  /** The record (with its signed manifest) and its .torrent in one read, or undefined when no (valid) record exists. */
  async entry(name: string): Promise<CatalogEntry | undefined> {
    const [json, torrent, manifest] = await this.redis.hmgetBuffer(RedisKeys.image(name), 'json', 'torrent', 'manifest');
    const record = json ? parseRecord(json.toString('utf8'), manifest?.toString('utf8')) : undefined;
    return record && { record, torrent: torrent && torrent.length > 0 ? torrent : undefined };
  }

  /** The record, with its signed manifest when it has one. */
  async get(name: string): Promise<ImageRecord | undefined> {
    const [json, manifest] = await this.redis.hmget(RedisKeys.image(name), 'json', 'manifest');
    return json === null || json === undefined ? undefined : parseRecord(json, manifest ?? undefined);
  }

  async list(): Promise<ImageRecord[]> {
    const names = (await this.redis.smembers(RedisKeys.images)).sort();
    const records = await Promise.all(names.map((n) => this.get(n)));
    return records.filter((r): r is ImageRecord => r !== undefined);
  }

  /** The image name registered for an infohash (40 hex digits), if any. */
  async nameByInfoHash(infoHash: string): Promise<string | undefined> {
    return (await this.redis.hget(RedisKeys.imageInfoHashes, infoHash.toLowerCase())) ?? undefined;
  }
}

/**
 * The record from its JSON and, when present and well-formed, its signed manifest. A manifest
 * that does not parse leaves the record unsigned: a deployment that trusts keys refuses it
 * (IMAGE_NOT_SIGNED), so a damaged manifest never passes for a signed one.
 */
function parseRecord(json: string, manifestJson?: string): ImageRecord | undefined {
  const parsed: unknown = JSON.parse(json);
  if (!Value.Check(ImageRecord, parsed)) return undefined;
  const { signedManifest: _stored, ...record } = parsed;
  if (manifestJson === undefined || manifestJson === '') return record;
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestJson);
  } catch {
    return record;
  }
  return Value.Check(SignedImageManifest, manifest) ? { ...record, signedManifest: manifest } : record;
}
