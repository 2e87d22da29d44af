import type { Redis } from 'ioredis';
import { RedisKeys, type LogLine } from '@swarmboot/contracts';

/** A line as it is stored: its node and its `LogLine` as JSON (serialised once by the caller). */
export interface SerializedLine {
  nodeId: string;
  /** `JSON.stringify` of the LogLine */
  json: string;
}

/** Where log lines are kept: a Redis stream per node. */
export interface LogStore {
  /** Appends a line to its node's log; resolves with the stream entry id. */
  append(line: LogLine): Promise<string>;
  /**
   * Appends lines in the order given (so per node in order); resolves with one outcome per line,
   * at the same index: the stream entry id, or the Error that line met. Rejects only when the
   * whole batch could not be sent.
   */
  appendMany(lines: readonly SerializedLine[]): Promise<(string | Error)[]>;
}

/**
 * `XADD RedisKeys.nodeLog(nodeId) MAXLEN ~ maxLen * json <LogLine JSON>`. The approximate trim
 * (`~`) lets Redis cut whole macro-nodes, which keeps XADD O(1) under a boot storm.
 * `appendMany` sends its XADDs as one pipeline (one socket write, one round trip): per-line
 * XADDs cost the sink a write(2) per line (bench/logsink, docs/benchmarks.md "Log sink").
 */
export class RedisLogStore implements LogStore {
  private readonly maxLen: string;

  constructor(
    private readonly redis: Redis,
    maxLen: number,
  ) {
    this.maxLen = String(maxLen);
  }

  async append(line: LogLine): Promise<string> {
    const id = await this.redis.xadd(RedisKeys.nodeLog(line.nodeId), 'MAXLEN', '~', this.maxLen, '*', 'json', JSON.stringify(line));
    return id ?? '';
  }

  async appendMany(lines: readonly SerializedLine[]): Promise<(string | Error)[]> {
    const pipeline = this.redis.pipeline();
    for (const line of lines) pipeline.xadd(RedisKeys.nodeLog(line.nodeId), 'MAXLEN', '~', this.maxLen, '*', 'json', line.json);
    const results = (await pipeline.exec()) ?? [];
    return lines.map((_, i) => {
      const [err, id] = results[i] ?? [new Error('no reply to XADD in the pipeline'), null];
      return err ?? (typeof id === 'string' ? id : '');
    });
  }
}
