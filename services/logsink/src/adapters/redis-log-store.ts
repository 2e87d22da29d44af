import type { Redis } from 'ioredis';
import { RedisKeys, type LogLine } from '@swarmboot/contracts';
import { LuaScript } from '@swarmboot/kit';

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
 * The lines of a batch in one script: `XADD KEYS[i] MAXLEN ~ ARGV[1] * json ARGV[i + 1]` for each
 * line in order; the reply holds, per line, its entry id or the error its XADD met (pcall: one
 * refused line does not stop the others).
 */
const APPEND_MANY = new LuaScript(`
local out = {}
for i = 1, #KEYS do
  out[i] = redis.pcall('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], '*', 'json', ARGV[i + 1])
end
return out
`);

/**
 * `XADD RedisKeys.nodeLog(nodeId) MAXLEN ~ maxLen * json <LogLine JSON>`. The approximate trim
 * (`~`) lets Redis cut whole macro-nodes, which keeps XADD O(1) under a boot storm.
 * `appendMany` sends its XADDs as one script call (EVALSHA): one socket write, one round trip and
 * one ioredis command per batch. Per-line XADDs cost the sink a write(2) per line, and a pipeline
 * of XADDs an ioredis command each, a quarter of the sink's CPU (bench/logsink,
 * docs/benchmarks.md "Log sink", issue 14).
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
    if (lines.length === 0) return [];
    const keys = lines.map((l) => RedisKeys.nodeLog(l.nodeId));
    const args = [this.maxLen];
    for (const l of lines) args.push(l.json);
    const reply = await APPEND_MANY.runUnreplicated(this.redis, keys, args);
    const results = Array.isArray(reply) ? (reply as unknown[]) : [];
    return lines.map((_, i) => {
      const r = results[i];
      if (r instanceof Error) return r;
      return typeof r === 'string' ? r : new Error('no reply for the line from the append script');
    });
  }
}
