import type { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';

/** The install attempt a classification was claimed for. */
export interface ClaimedAttempt {
  deploymentId?: string;
  /** the node hash's `attempts` (0 when it has none: nodes that count no attempts) */
  attempt: number;
}

/** Where "this node's attempt was classified" is remembered, shared by every sink replica. */
export interface ClassificationStore {
  /**
   * Claims the classification of node `nodeId`'s current install attempt for `kind`, by `ruleId`.
   * Resolves with the attempt when this call claimed it, undefined when it was claimed before.
   */
  claim(nodeId: string, kind: 'failure' | 'warning', ruleId: string): Promise<ClaimedAttempt | undefined>;
}

/** A claim is kept a week, the JetStream stream's age: a later attempt has its own key anyway. */
const CLAIM_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Reads the node's current `deploymentId` and `attempts` from the scheduler's node hash
 * (`RedisKeys.node`, HMGET), then `SET RedisKeys.nodeClassified(…) <ruleId> NX EX <week>`: the
 * scheduler counts an attempt when the node fetches its boot script (before any of that boot's
 * lines), so the key changes with each attempt and NX makes the first line across replicas win.
 */
export class RedisClassificationStore implements ClassificationStore {
  constructor(private readonly redis: Redis) {}

  async claim(nodeId: string, kind: 'failure' | 'warning', ruleId: string): Promise<ClaimedAttempt | undefined> {
    const [deploymentId, attempts] = await this.redis.hmget(RedisKeys.node(nodeId), 'deploymentId', 'attempts');
    const attempt = Number(attempts ?? 0) || 0;
    const set = await this.redis.set(RedisKeys.nodeClassified(nodeId, deploymentId ?? '', attempt, kind), ruleId, 'EX', CLAIM_TTL_SECONDS, 'NX');
    if (set === null) return undefined;
    return deploymentId ? { deploymentId, attempt } : { attempt };
  }
}
