import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { SwarmbootError } from '@swarmboot/contracts';
import { redisReplication } from './connections.js';

/**
 * A Lua script run with EVALSHA, falling back to EVAL when the server does not have it cached yet
 * (after a restart or SCRIPT FLUSH). Redis runs a script atomically, which is what makes the
 * scheduler's multi-key changes and dhcp's shared leases safe with several replicas. On a
 * connection whose URL asked for `waitReplicas` (connectRedis), `run` also waits for that many
 * replicas to have the script's writes and throws REDIS_NOT_REPLICATED when they do not in time
 * or the connection closes during that wait. REDIS_NOT_REPLICATED does not mean "not written": the
 * script's writes stay on the master and may reach the replicas later (docs/faults.md, finding 6).
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
  async run(redis: Redis, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    const result = await this.eval(redis, keys, args);
    const replication = redisReplication(redis);
    if (replication !== undefined) {
      // WAIT counts the replicas that have every write this connection made so far; a script that
      // wrote nothing returns at once (https://redis.io/docs/latest/commands/wait/)
      let acked: number;
      try {
        acked = await redis.wait(replication.replicas, replication.timeoutMs);
      } catch (err) {
        // the connection closed under the WAIT (a SENTINEL FAILOVER demotes the master and drops
        // its clients; ioredis rejects with "Command aborted due to connection close"): the script
        // ran, its replication is unknown — a 503 the agent retries, not a 500 (bench/faults
        // sentinel-failover, seed 403: five nodes failed on a 500)
        throw new SwarmbootError('REDIS_NOT_REPLICATED', `a script ran, but the connection closed while it waited for ${replication.replicas} replica(s) (waitReplicas): ${err instanceof Error ? err.message : String(err)}; the change may be lost in a failover`, { cause: err });
      }
      if (acked < replication.replicas) {
        throw new SwarmbootError('REDIS_NOT_REPLICATED', `a script's writes reached ${acked} of the ${replication.replicas} replicas asked for (waitReplicas) within ${replication.timeoutMs} ms; the change may be lost in a failover`);
      }
    }
    return result;
  }

  /**
   * `run` without the replicas wait: for writes a failover may lose without harm (the log sink's
   * lines, which a pipeline of plain XADDs did not wait for either). Rejects with Redis' error.
   */
  runUnreplicated(redis: Redis, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    return this.eval(redis, keys, args);
  }

  private async eval(redis: Redis, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    const keysAndArgs = [keys.length, ...keys, ...args];
    try {
      return await redis.call('evalsha', [this.sha, ...keysAndArgs]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.call('eval', [this.source, ...keysAndArgs]);
    }
  }
}
