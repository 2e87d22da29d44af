import type { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';
import { normalizeMac } from '@swarmboot/kit';
import type { NodeDirectory } from '../domain/node-mapper.js';

/**
 * Node lookups in Redis: `RedisKeys.leaseByIp(ip)` → chaddr (written by dhcp), then
 * `RedisKeys.nodeByMac(chaddr)` → node id, and `RedisKeys.nodeByHostname(name)` → node id
 * (both written by the scheduler).
 */
export class RedisNodeDirectory implements NodeDirectory {
  constructor(private readonly redis: Redis) {}

  async nodeByIp(ip: string): Promise<string | undefined> {
    const chaddr = await this.redis.get(RedisKeys.leaseByIp(ip));
    if (chaddr === null || chaddr === '') return undefined;
    const nodeId = await this.redis.get(RedisKeys.nodeByMac(normalizeMac(chaddr) ?? chaddr));
    return nodeId === null || nodeId === '' ? undefined : nodeId;
  }

  /**
   * Tries the name as sent, lower-cased, and its first label (`n7.rack1.lab` → `n7`) in one MGET:
   * DNS names are case-insensitive and senders differ on whether they send the FQDN.
   */
  async nodeByHostname(hostname: string): Promise<string | undefined> {
    const short = hostname.split('.')[0] ?? hostname;
    const candidates = [...new Set([hostname, hostname.toLowerCase(), short, short.toLowerCase()])].filter((h) => h !== '');
    if (candidates.length === 0) return undefined;
    const ids = await this.redis.mget(...candidates.map((h) => RedisKeys.nodeByHostname(h)));
    return ids.find((id): id is string => id !== null && id !== '');
  }
}
