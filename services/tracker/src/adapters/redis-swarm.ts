import type { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';

/**
 * Swarms in Redis, so tracker replicas behind one address (or several announce URLs) hand out
 * the same peers. Per infohash: a sorted set of `ip:port` scored by the last announce (ms), the
 * seeding subset, and the peer ids. A peer silent for `ttlMs` is dropped by the next announce;
 * the keys expire `ttlMs` after the last one. No cap on the number of peers: a swarm is a cluster.
 */
export interface PeerRecord {
  /** `ip:port` the tracker hands out */
  addr: string;
  /** 40 hex digits */
  peerId: string;
  /** bytes left (BEP 3); 0 = seeding */
  left: number;
}

export interface AnnounceResult {
  complete: number;
  incomplete: number;
  /** every live peer `ip:port` but the announcing one */
  others: string[];
}

// KEYS: peers, seeds, ids. ARGV: now, cutoff, ttlMs, addr, peerId, seeding (0|1), stopped (0|1).
// One script so replicas never interleave a prune with an insert.
const ANNOUNCE = `
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
for i = 1, #stale, 500 do
  redis.call('HDEL', KEYS[3], unpack(stale, i, math.min(i + 499, #stale)))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
if ARGV[7] == '1' then
  redis.call('ZREM', KEYS[1], ARGV[4])
  redis.call('ZREM', KEYS[2], ARGV[4])
  redis.call('HDEL', KEYS[3], ARGV[4])
else
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
  if ARGV[6] == '1' then redis.call('ZADD', KEYS[2], ARGV[1], ARGV[4]) else redis.call('ZREM', KEYS[2], ARGV[4]) end
end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return {redis.call('ZCARD', KEYS[2]), redis.call('ZRANGE', KEYS[1], 0, -1)}
`;

export class RedisPeerStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records (or, for `stopped`, removes) the peer and returns the swarm's live peers. */
  async announce(infoHash: string, peer: PeerRecord, stopped: boolean): Promise<AnnounceResult> {
    const now = this.now();
    const keys = [RedisKeys.trackerPeers(infoHash), RedisKeys.trackerSeeds(infoHash), RedisKeys.trackerPeerIds(infoHash)];
    const args = [String(now), String(now - this.ttlMs), String(this.ttlMs), peer.addr, peer.peerId, peer.left === 0 ? '1' : '0', stopped ? '1' : '0'];
    const [seeds, members] = (await this.redis.eval(ANNOUNCE, 3, ...keys, ...args)) as [number, string[]];
    const others = members.filter((m) => m !== peer.addr);
    return { complete: seeds, incomplete: members.length - seeds, others };
  }

  /** Peer ids of `addrs` (for BEP 3 non-compact replies); '' where unknown. */
  async peerIds(infoHash: string, addrs: string[]): Promise<string[]> {
    if (addrs.length === 0) return [];
    const ids = await this.redis.hmget(RedisKeys.trackerPeerIds(infoHash), ...addrs);
    return ids.map((id) => id ?? '');
  }

  /** Seeding and leeching peers of a swarm (BEP 48 scrape), without pruning. */
  async counts(infoHash: string): Promise<{ complete: number; incomplete: number }> {
    const cutoff = this.now() - this.ttlMs;
    const [peers, seeds] = await Promise.all([
      this.redis.zcount(RedisKeys.trackerPeers(infoHash), `(${cutoff}`, '+inf'),
      this.redis.zcount(RedisKeys.trackerSeeds(infoHash), `(${cutoff}`, '+inf'),
    ]);
    return { complete: seeds, incomplete: peers - seeds };
  }
}
