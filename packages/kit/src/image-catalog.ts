import type { Redis } from 'ioredis';
import { Value } from '@sinclair/typebox/value';
import { ImageRecord, RedisKeys } from '@swarmboot/contracts';

/**
 * KEYS: image hash, image name set, infohash index. ARGV: name, record JSON, infohash.
 * The replaced record's infohash leaves the index only while it still names this image (another
 * image may have registered the same bytes since).
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
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[1])
return 1
`;

/**
 * The image catalog in Redis. The seeder writes it; the scheduler and the tracker read it.
 * A record is stored as JSON in field `json` of `RedisKeys.image(name)`; the infohash index in
 * `RedisKeys.imageInfoHashes` is written in the same script.
 */
export class ImageCatalog {
  constructor(private readonly redis: Redis) {}

  /**
   * Adds or replaces the record of `record.name`, atomically. A replaced record's infohash is
   * dropped from the index: the tracker must stop admitting announces for a swarm that is gone.
   */
  async put(record: ImageRecord): Promise<void> {
    // EVAL, not EVALSHA: an image is put once per upload, the script's text costs nothing there
    await this.redis.eval(PUT_LUA, 3, RedisKeys.image(record.name), RedisKeys.images, RedisKeys.imageInfoHashes, record.name, JSON.stringify(record), record.infoHash);
  }

  async get(name: string): Promise<ImageRecord | undefined> {
    const json = await this.redis.hget(RedisKeys.image(name), 'json');
    if (json === null) return undefined;
    const parsed: unknown = JSON.parse(json);
    return Value.Check(ImageRecord, parsed) ? parsed : undefined;
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
