import type { Redis } from 'ioredis';
import { Value } from '@sinclair/typebox/value';
import { ImageRecord, RedisKeys } from '@swarmboot/contracts';

/**
 * The image catalog in Redis. The seeder writes it; the scheduler and the tracker read it.
 * A record is stored as JSON in field `json` of `RedisKeys.image(name)`; the infohash index in
 * `RedisKeys.imageInfoHashes` is written in the same MULTI.
 */
export class ImageCatalog {
  constructor(private readonly redis: Redis) {}

  async put(record: ImageRecord): Promise<void> {
    await this.redis
      .multi()
      .hset(RedisKeys.image(record.name), 'json', JSON.stringify(record))
      .sadd(RedisKeys.images, record.name)
      .hset(RedisKeys.imageInfoHashes, record.infoHash, record.name)
      .exec();
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
