import type { Redis } from 'ioredis';
import { RedisKeys, type LogLine } from '@swarmboot/contracts';

/** Where log lines are kept: a Redis stream per node. */
export interface LogStore {
  /** Appends a line to its node's log; resolves with the stream entry id. */
  append(line: LogLine): Promise<string>;
}

/**
 * `XADD RedisKeys.nodeLog(nodeId) MAXLEN ~ maxLen * json <LogLine JSON>`. The approximate trim
 * (`~`) lets Redis cut whole macro-nodes, which keeps XADD O(1) under a boot storm.
 */
export class RedisLogStore implements LogStore {
  constructor(
    private readonly redis: Redis,
    private readonly maxLen: number,
  ) {}

  async append(line: LogLine): Promise<string> {
    const id = await this.redis.xadd(RedisKeys.nodeLog(line.nodeId), 'MAXLEN', '~', String(this.maxLen), '*', 'json', JSON.stringify(line));
    return id ?? '';
  }
}
