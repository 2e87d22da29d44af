import { LuaScript } from '@swarmboot/kit';

/*
 * Lua scripts of the scheduler's Redis store. Key names never appear here: keys come in KEYS, or,
 * where a script discovers them (old hostname, registration index), as prefixes built from
 * `RedisKeys` by the caller. Every script checks before it writes, so a refused call changes nothing.
 */

/**
 * Registers or updates a batch of nodes, all or nothing.
 * KEYS[1] nodes sorted set.
 * ARGV: nodePrefix, macPrefix, hostPrefix, timelinePrefix, nowIso, timelineMaxLen, then per node
 *       id, mac, hostname, labelsJson, rootDisk ('' none).
 * Returns {'ok', imported, updated} or {code, index(0-based), ownerId} with code NODE_EXISTS
 * (the id has another MAC), MAC_IN_USE or HOSTNAME_IN_USE (another node has it).
 */
export const UPSERT_NODES = new LuaScript(`
local nodeP, macP, hostP, tlP, now, maxlen = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local n = (#ARGV - 6) / 5
for i = 0, n - 1 do
  local id, mac, host = ARGV[7 + i*5], ARGV[8 + i*5], ARGV[9 + i*5]
  local had = redis.call('HGET', nodeP .. id, 'mac')
  if had and had ~= mac then return {'NODE_EXISTS', i, id} end
  local macOwner = redis.call('GET', macP .. mac)
  if macOwner and macOwner ~= id then return {'MAC_IN_USE', i, macOwner} end
  local hostOwner = redis.call('GET', hostP .. host)
  if hostOwner and hostOwner ~= id then return {'HOSTNAME_IN_USE', i, hostOwner} end
end
local last = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local score = 0
if last[2] then score = tonumber(last[2]) end
local imported, updated = 0, 0
for i = 0, n - 1 do
  local id, mac, host, labels, rootDisk = ARGV[7 + i*5], ARGV[8 + i*5], ARGV[9 + i*5], ARGV[10 + i*5], ARGV[11 + i*5]
  local key = nodeP .. id
  local oldHost = redis.call('HGET', key, 'hostname')
  if oldHost then
    if oldHost ~= host and redis.call('GET', hostP .. oldHost) == id then redis.call('DEL', hostP .. oldHost) end
    redis.call('HSET', key, 'hostname', host, 'labels', labels, 'updatedAt', now)
    updated = updated + 1
  else
    redis.call('HSET', key, 'id', id, 'mac', mac, 'hostname', host, 'labels', labels, 'state', 'registered', 'createdAt', now, 'updatedAt', now)
    redis.call('SET', macP .. mac, id)
    score = score + 1
    redis.call('ZADD', KEYS[1], score, id)
    redis.call('XADD', tlP .. id, 'MAXLEN', '~', maxlen, '*', 'at', now, 'to', 'registered')
    imported = imported + 1
  end
  redis.call('SET', hostP .. host, id)
  if rootDisk ~= '' then redis.call('HSET', key, 'rootDisk', rootDisk) else redis.call('HDEL', key, 'rootDisk') end
end
return {'ok', imported, updated}
`);

/**
 * Compare-and-set of one node's state, with its timeline entry and the deployment's completion.
 * KEYS[1] node hash, KEYS[2] node timeline stream, KEYS[3] deployment hash (the node hash again
 * when the node has no deployment).
 * ARGV: from, to, deploymentId ('' none), nowIso, reason ('' none), timelineMaxLen,
 *       counter ('installed' | 'failed' | '': the deployment counter this transition finishes),
 *       then field/value pairs to set on the node ('' value deletes the field).
 * `from == to` only updates the fields (a progress tick), still only if the state is `from`.
 * Returns {'missing'} | {'stale', state, deploymentId} | {'ok'} |
 *         {'completed', installed, failed, createdAtMs, image, deploymentState} — the latter once per
 *         deployment, when its last node finished.
 */
export const TRANSITION = new LuaScript(`
local from, to, dep, now, reason, maxlen, counter = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {'missing'} end
local curDep = redis.call('HGET', KEYS[1], 'deploymentId') or ''
if cur ~= from or curDep ~= dep then return {'stale', cur, curDep} end
redis.call('HSET', KEYS[1], 'updatedAt', now)
for i = 8, #ARGV - 1, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i]) else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
if from == to then return {'ok'} end
redis.call('HSET', KEYS[1], 'state', to)
local entry = {'at', now, 'from', from, 'to', to}
if dep ~= '' then table.insert(entry, 'deploymentId'); table.insert(entry, dep) end
if reason ~= '' then table.insert(entry, 'reason'); table.insert(entry, reason) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*', unpack(entry))
if counter ~= '' and dep ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[3], counter, 1)
  local done = redis.call('HINCRBY', KEYS[3], 'done', 1)
  local total = tonumber(redis.call('HGET', KEYS[3], 'total') or '0')
  if done >= total and redis.call('HSETNX', KEYS[3], 'completedAt', now) == 1 then
    local state = redis.call('HGET', KEYS[3], 'state')
    if state == 'running' then redis.call('HSET', KEYS[3], 'state', 'completed'); state = 'completed' end
    local d = redis.call('HMGET', KEYS[3], 'installed', 'failed', 'createdAtMs', 'image')
    return {'completed', d[1] or '0', d[2] or '0', d[3] or '0', d[4] or '', state}
  end
end
return {'ok'}
`);

/**
 * Creates a deployment and moves its nodes along their admission steps, all or nothing.
 * KEYS[1] deployment hash, KEYS[2] deployments sorted set, then per node: node hash, timeline.
 * ARGV: deploymentId, image, nowIso, nowMs, timelineMaxLen, nodeIdsJson, optionsJson (target,
 *       afterInstall, lingerSeconds), then per node expectedState, expectedDeploymentId ('' none),
 *       steps (comma-separated states), wave ('' none).
 * Returns {'ok'} | {'exists'} | {'stale', index, state}.
 */
export const ADMIT = new LuaScript(`
local id, image, now, nowMs, maxlen, nodes, options = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local n = (#KEYS - 2) / 2
for i = 0, n - 1 do
  local cur = redis.call('HGET', KEYS[3 + i*2], 'state')
  local curDep = redis.call('HGET', KEYS[3 + i*2], 'deploymentId') or ''
  if cur ~= ARGV[8 + i*4] or curDep ~= ARGV[9 + i*4] then return {'stale', i, cur or ''} end
end
redis.call('HSET', KEYS[1], 'id', id, 'image', image, 'state', 'running', 'createdAt', now, 'createdAtMs', nowMs,
  'total', n, 'done', 0, 'installed', 0, 'failed', 0, 'nodes', nodes, 'options', options)
redis.call('ZADD', KEYS[2], nowMs, id)
for i = 0, n - 1 do
  local key, tl = KEYS[3 + i*2], KEYS[4 + i*2]
  local prev = ARGV[8 + i*4]
  for step in string.gmatch(ARGV[10 + i*4], '[^,]+') do
    redis.call('XADD', tl, 'MAXLEN', '~', maxlen, '*', 'at', now, 'from', prev, 'to', step, 'deploymentId', id)
    prev = step
  end
  redis.call('HSET', key, 'state', prev, 'deploymentId', id, 'updatedAt', now)
  redis.call('HDEL', key, 'reason', 'progress', 'stats', 'attempts')
  if ARGV[11 + i*4] ~= '' then redis.call('HSET', key, 'wave', ARGV[11 + i*4]) else redis.call('HDEL', key, 'wave') end
end
return {'ok'}
`);

/**
 * Stores the address leased to a node and indexes it (the previous address's index entry is
 * dropped if it still points at this node).
 * KEYS[1] node hash, KEYS[2] new ip index. ARGV: ipIndexPrefix, nodeId, ip, nowIso.
 * Returns 1, or 0 when the node does not exist.
 */
export const SET_IP = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local old = redis.call('HGET', KEYS[1], 'ip')
if old and old ~= ARGV[3] and redis.call('GET', ARGV[1] .. old) == ARGV[2] then redis.call('DEL', ARGV[1] .. old) end
redis.call('HSET', KEYS[1], 'ip', ARGV[3], 'updatedAt', ARGV[4])
redis.call('SET', KEYS[2], ARGV[2])
return 1
`);

/**
 * Marks a deployment released. KEYS[1] deployment hash. ARGV: nowIso.
 * Returns 0 when it does not exist, 1 otherwise (idempotent).
 */
export const RELEASE_DEPLOYMENT = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'state') ~= 'released' then redis.call('HSET', KEYS[1], 'state', 'released', 'releasedAt', ARGV[1]) end
return 1
`);
