import type { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';
import { LuaScript } from '@swarmboot/kit';
import { pairs, parseNode, type StoredNode } from './store.js';

/*
 * A node's version is computed from its hash, not kept in a counter: every writer of the node (the
 * state-machine scripts, registration, the agent's progress) changes it without knowing of it.
 * sha1 of the fields sorted by name, each `name NUL value NUL` — change detection, not a secret,
 * and the only digest Redis's Lua has (redis.sha1hex).
 */
const VERSION_LUA = `
local function version(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil, flat end
  local idx = {}
  for i = 1, #flat, 2 do idx[#idx + 1] = i end
  table.sort(idx, function(a, b) return flat[a] < flat[b] end)
  local parts = {}
  for _, i in ipairs(idx) do parts[#parts + 1] = flat[i]; parts[#parts + 1] = flat[i + 1] end
  return redis.sha1hex(table.concat(parts, '\\0') .. '\\0'), flat
end
`;

/** KEYS[1] node hash → {version, flat hash}, or {} when there is none. */
const READ = new LuaScript(`${VERSION_LUA}
local v, flat = version(KEYS[1])
if not v then return {} end
return {v, flat}
`);

/**
 * KEYS[1] node hash; ARGV[1] the version the change was decided on, ARGV[2] the labels (JSON),
 * ARGV[3] now (ISO 8601) → {'missing'} | {'stale'} | {'ok', version, flat hash} after the change.
 */
const SET_LABELS = new LuaScript(`${VERSION_LUA}
local v = version(KEYS[1])
if not v then return {'missing'} end
if v ~= ARGV[1] then return {'stale'} end
redis.call('HSET', KEYS[1], 'labels', ARGV[2], 'updatedAt', ARGV[3])
local nv, flat = version(KEYS[1])
return {'ok', nv, flat}
`);

/** A node record with the version of the hash it was read from. */
export interface VersionedNode {
  node: StoredNode;
  /** sha1 hex of the stored hash (see VERSION_LUA) */
  version: string;
}

export type SetLabelsResult = ({ kind: 'ok' } & VersionedNode) | { kind: 'missing' } | { kind: 'stale' };

/** Nodes read and changed together with their version, each in one script (atomic with every other writer). */
export class NodeVersions {
  constructor(private readonly redis: Redis) {}

  /** The node and its version, read at one instant; undefined when there is no such node. */
  async read(id: string): Promise<VersionedNode | undefined> {
    const r = (await READ.run(this.redis, [RedisKeys.node(id)], [])) as [] | [string, string[]];
    return r.length === 0 ? undefined : versioned(r[0], r[1]);
  }

  /** Replaces the node's labels if its version is still `expected` (compare-and-set). */
  async setLabels(id: string, expected: string, labels: Record<string, string>, now: Date = new Date()): Promise<SetLabelsResult> {
    const r = (await SET_LABELS.run(this.redis, [RedisKeys.node(id)], [expected, JSON.stringify(labels), now.toISOString()])) as [string, string?, string[]?];
    if (r[0] !== 'ok' || r[1] === undefined || r[2] === undefined) return { kind: r[0] === 'stale' ? 'stale' : 'missing' };
    const v = versioned(r[1], r[2]);
    return v === undefined ? { kind: 'missing' } : { kind: 'ok', ...v };
  }
}

function versioned(version: string, flat: string[]): VersionedNode | undefined {
  const node = parseNode(pairs(flat));
  return node === undefined ? undefined : { node, version };
}
