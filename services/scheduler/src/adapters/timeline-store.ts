import type { Redis } from 'ioredis';
import { Value } from '@sinclair/typebox/value';
import { LogLine, RedisKeys, TimelineEntry, type TimelineSource } from '@swarmboot/contracts';
import { LuaScript } from '@swarmboot/kit';
import { isNodeState, pairs } from './store.js';

/**
 * A node's events set keeps this many entries (the oldest go first). A node's boot records about
 * 10 of them (two leases, a few transfers, one failure), its download one per progress interval:
 * a 2 GB image at 10 MB/s with the default 10 s is 20, so 2000 holds many attempts.
 */
export const EVENTS_MAXLEN = 2000;

/** A progress mark older than this gives no rate: the previous download (or attempt) is over (s). */
const PROGRESS_MARK_TTL_SECONDS = 600;

/**
 * The swarm-progress gate of one node, shared by the scheduler replicas (each of which hears every
 * progress event on core NATS): passes when the last recorded entry is at least `gateMs` older.
 * KEYS[1] RedisKeys.nodeProgressMark. ARGV: atMs, gateMs, bytes, ttlSeconds.
 * Returns false (nil) when gated, else the previous mark `<ms> <bytes>` ('' for none) and sets the new one.
 */
const PASS_PROGRESS = new LuaScript(`
local prev = redis.call('GET', KEYS[1])
if prev then
  local ms = tonumber(string.match(prev, '^(%d+)'))
  if ms and tonumber(ARGV[1]) - ms < tonumber(ARGV[2]) then return false end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[3], 'EX', ARGV[4])
return prev or ''
`);

/** A recorded entry (of the sources the recorder writes: not `state`, not `log`). */
export type RecordedEntry = Extract<TimelineEntry, { source: 'dhcp' | 'tftp' | 'progress' | 'failure' | 'power' }>;

/**
 * A node's flight recorder in Redis: the entries the `scheduler-timeline` consumer records in
 * `RedisKeys.nodeEvents` (a sorted set by time: events that arrive late, or again after a
 * redelivery, land in their place, and an entry that is there already is not added twice), and
 * the reads of the node's other streams, its state changes (`RedisKeys.nodeTimeline`) and its log
 * lines (`RedisKeys.nodeLog`), which are merged at query time rather than copied.
 */
export class TimelineStore {
  constructor(private readonly redis: Redis) {}

  /**
   * Adds `entry` to node `nodeId`'s events (idempotent: the member is the entry's JSON, whose
   * `id` is the event's CloudEvent id), trimmed to {@link EVENTS_MAXLEN}. Resolves false when the
   * entry was there already (an event delivered again).
   */
  async record(nodeId: string, entry: RecordedEntry): Promise<boolean> {
    const key = RedisKeys.nodeEvents(nodeId);
    const res = (await this.redis.multi().zadd(key, Date.parse(entry.at), JSON.stringify(entry)).zremrangebyrank(key, 0, -(EVENTS_MAXLEN + 1)).exec()) ?? [];
    const [err, added] = res[0] ?? [null, 0];
    if (err) throw err;
    return Number(added) === 1;
  }

  /**
   * The progress gate: undefined when the node's last progress entry is younger than `gateMs`,
   * else the previous entry's time and bytes (null for none) — the new one is marked.
   */
  async passProgress(nodeId: string, atMs: number, bytes: number, gateMs: number): Promise<{ prev: { ms: number; bytes: number } | null } | undefined> {
    const r = await PASS_PROGRESS.run(this.redis, [RedisKeys.nodeProgressMark(nodeId)], [atMs, gateMs, bytes, PROGRESS_MARK_TTL_SECONDS]);
    if (typeof r !== 'string') return undefined;
    const [ms, b] = r.split(' ').map(Number);
    return { prev: ms !== undefined && b !== undefined && Number.isFinite(ms) && Number.isFinite(b) && r !== '' ? { ms, bytes: b } : null };
  }

  /**
   * The newest `limit` + 1 entries of each wanted source at or after `sinceMs` (so the caller sees
   * whether more than `limit` exist), each source's in time order. The events set is read whole
   * from `sinceMs` (at most EVENTS_MAXLEN members) because it mixes sources.
   */
  async read(nodeId: string, sources: ReadonlySet<TimelineSource>, sinceMs: number, limit: number): Promise<TimelineEntry[]> {
    const count = limit + 1;
    const pipe = this.redis.pipeline();
    const wantEvents = sources.has('dhcp') || sources.has('tftp') || sources.has('progress') || sources.has('failure') || sources.has('power');
    if (wantEvents) pipe.zrangebyscore(RedisKeys.nodeEvents(nodeId), sinceMs, '+inf');
    if (sources.has('state')) pipe.xrevrange(RedisKeys.nodeTimeline(nodeId), '+', String(sinceMs), 'COUNT', count);
    if (sources.has('log')) pipe.xrevrange(RedisKeys.nodeLog(nodeId), '+', String(sinceMs), 'COUNT', count);
    const replies = ((await pipe.exec()) ?? []).map(([err, r]) => {
      if (err) throw err;
      return r;
    });
    const out: TimelineEntry[] = [];
    if (wantEvents) {
      const members = (replies.shift() as string[]).flatMap(parseRecorded).filter((e) => sources.has(e.source));
      out.push(...members.slice(-count));
    }
    if (sources.has('state')) out.push(...(replies.shift() as [string, string[]][]).reverse().flatMap(([id, f]) => stateEntry(id, pairs(f))));
    if (sources.has('log')) out.push(...(replies.shift() as [string, string[]][]).reverse().map(([id, f]) => logEntry(id, pairs(f))));
    return out;
  }
}

function parseRecorded(member: string): TimelineEntry[] {
  try {
    const e = JSON.parse(member) as unknown;
    return Value.Check(TimelineEntry, e) ? [e] : [];
  } catch {
    return [];
  }
}

function stateEntry(id: string, f: Record<string, string>): TimelineEntry[] {
  if (!isNodeState(f.to)) return [];
  return [
    {
      id: `state:${id}`,
      at: f.at ?? new Date(Number(id.split('-')[0])).toISOString(),
      source: 'state',
      to: f.to,
      ...(isNodeState(f.from) ? { from: f.from } : {}),
      ...(f.deploymentId ? { deploymentId: f.deploymentId } : {}),
      ...(f.reason ? { reason: f.reason } : {}),
    },
  ];
}

/** A stored log line; its time is the sink's receive time (the stream id's, should the JSON be unreadable). */
function logEntry(id: string, f: Record<string, string>): TimelineEntry {
  const json = f.json ?? '';
  let line: unknown;
  try {
    line = JSON.parse(json);
  } catch {
    line = undefined;
  }
  const at = new Date(Number(id.split('-')[0])).toISOString();
  if (Value.Check(LogLine, line)) return { id: `log:${id}`, at: Number.isNaN(Date.parse(line.received)) ? at : line.received, source: 'log', line };
  return { id: `log:${id}`, at, source: 'log', line: json };
}
