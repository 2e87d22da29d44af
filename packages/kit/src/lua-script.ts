import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Lua script run with EVALSHA, falling back to EVAL when the server does not have it cached yet
 * (after a restart or SCRIPT FLUSH). Redis runs a script atomically, which is what makes the
 * scheduler's multi-key changes and dhcp's shared leases safe with several replicas.
 */
export class LuaScript {
  private readonly sha: string;
  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * Keys and arguments go to ioredis as one array (`call(command, args[])`): spread into
   * the call, a 40 000-node import (several arguments per node) exceeded the JavaScript argument
   * limit and threw RangeError: Maximum call stack size exceeded (services/scheduler
   * test/integration/import-large).
   */
  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const keysAndArgs = [keys.length, ...keys, ...args];
    try {
      return await redis.call('evalsha', [this.sha, ...keysAndArgs]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.call('eval', [this.source, ...keysAndArgs]);
    }
  }
}
