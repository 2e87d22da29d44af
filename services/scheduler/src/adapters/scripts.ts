import { LuaScript } from '@swarmboot/kit';

/*
 * Lua scripts of the scheduler's Redis store. Key names never appear here: keys come in KEYS, or,
 * where a script discovers them (old hostname, registration index), as prefixes built from
 * `RedisKeys` by the caller. Every script checks before it writes, so a refused call changes nothing.
 */

/**
 * Lua shared by the scripts that change node states; each appends facts to the outbox
 * (`RedisKeys.factOutbox`) in the same script as the change, so a change that stays in Redis has
 * its fact kept until it is published, and a change lost in a failover takes its fact with it
 * (bench/faults sentinel-failover lost 12 facts when they were published after the script).
 * - `stateChanged(tl, nodeId, from, to, dep, reason)`: appends the change to the node's timeline
 *   stream `tl` and its `node.state` fact;
 * - `jobCompleted(nodeId, dep, image, installed, failed, durationMs)`: the `job.completed` fact of a
 *   deployment whose last node `nodeId` just finished (published after that node's facts).
 * A fact's id is `sc.idPrefix:<n>` (a UUID of the caller's, then 1, 2, … within the script): the
 * CloudEvent id and JetStream message ID it is published with; `at` is the change's time. Each
 * script sets `sc.outbox`, `sc.idPrefix`, `sc.now` and `sc.maxlen` (the timeline's MAXLEN ~) first.
 */
const OUTBOX_FACTS = `
local sc = { n = 0 }
local function nextFactId()
  sc.n = sc.n + 1
  return sc.idPrefix .. ':' .. sc.n
end
local function stateChanged(tl, nodeId, from, to, dep, reason)
  local entry = {'at', sc.now, 'from', from, 'to', to}
  if dep ~= '' then table.insert(entry, 'deploymentId'); table.insert(entry, dep) end
  if reason ~= '' then table.insert(entry, 'reason'); table.insert(entry, reason) end
  redis.call('XADD', tl, 'MAXLEN', '~', sc.maxlen, '*', unpack(entry))
  redis.call('XADD', sc.outbox, '*', 'type', 'node.state', 'id', nextFactId(), 'nodeId', nodeId, unpack(entry))
end
local function jobCompleted(nodeId, dep, image, installed, failed, durationMs)
  redis.call('XADD', sc.outbox, '*', 'type', 'job.completed', 'id', nextFactId(), 'at', sc.now, 'nodeId', nodeId,
    'deploymentId', dep, 'image', image, 'installed', installed, 'failed', failed, 'durationMs', durationMs)
end
`;

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
 * when the node has no deployment), KEYS[4] fact outbox.
 * ARGV: from, to, deploymentId ('' none), nowIso, reason ('' none), timelineMaxLen,
 *       counter ('installed' | 'failed' | '': the deployment counter this transition finishes),
 *       bootCounter ('bootDone' | 'bootFailed' | '': the admission controller's deployment counter
 *       this transition counts in), expectedUpdatedAt ('' any: else the node's `updatedAt` must be
 *       this, so a recovery decided on a stale read changes nothing),
 *       factIdPrefix, nodeId, nowMs, then field/value pairs to set on the node ('' value deletes the field).
 * `from == to` only updates the fields (a progress tick), still only if the state is `from`.
 * Returns {'missing'} | {'stale', state, deploymentId} | {'ok'} |
 *         {'completed', installed, failed, createdAtMs, image, deploymentState} — the latter once per
 *         deployment, when its last node finished (with its `job.completed` fact).
 */
export const TRANSITION = new LuaScript(`${OUTBOX_FACTS}
local from, to, dep, now, reason, maxlen, counter, bootCounter, seen = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
sc.outbox, sc.idPrefix, sc.now, sc.maxlen = KEYS[4], ARGV[10], now, maxlen
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {'missing'} end
local curDep = redis.call('HGET', KEYS[1], 'deploymentId') or ''
if cur ~= from or curDep ~= dep then return {'stale', cur, curDep} end
if seen ~= '' and redis.call('HGET', KEYS[1], 'updatedAt') ~= seen then return {'stale', cur, curDep} end
redis.call('HSET', KEYS[1], 'updatedAt', now)
for i = 13, #ARGV - 1, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i]) else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
if from == to then return {'ok'} end
redis.call('HSET', KEYS[1], 'state', to)
stateChanged(KEYS[2], ARGV[11], from, to, dep, reason)
if bootCounter ~= '' and dep ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HINCRBY', KEYS[3], bootCounter, 1) end
if counter ~= '' and dep ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[3], counter, 1)
  local done = redis.call('HINCRBY', KEYS[3], 'done', 1)
  local total = tonumber(redis.call('HGET', KEYS[3], 'total') or '0')
  if done >= total and redis.call('HSETNX', KEYS[3], 'completedAt', now) == 1 then
    local state = redis.call('HGET', KEYS[3], 'state')
    if state == 'running' or state == 'paused' then redis.call('HSET', KEYS[3], 'state', 'completed'); state = 'completed' end
    local d = redis.call('HMGET', KEYS[3], 'installed', 'failed', 'createdAtMs', 'image')
    local nowMs = tonumber(ARGV[12])
    jobCompleted(ARGV[11], dep, d[4] or '', d[1] or '0', d[2] or '0', math.max(0, nowMs - tonumber(d[3] or nowMs)))
    return {'completed', d[1] or '0', d[2] or '0', d[3] or '0', d[4] or '', state}
  end
end
return {'ok'}
`);

/**
 * Creates a deployment and moves its nodes along their admission steps, all or nothing.
 * KEYS[1] deployment hash, KEYS[2] deployments sorted set, KEYS[3] active deployments sorted set,
 * KEYS[4] fact outbox, then per node: node hash, timeline.
 * ARGV: deploymentId, image, nowIso, nowMs, timelineMaxLen, nodeIdsJson, optionsJson (target,
 *       afterInstall, lingerSeconds, admission settings), controllerJson (the admission
 *       controller's state), waves (admitted at creation: 0 or 1), factIdPrefix, then per node
 *       expectedState, expectedDeploymentId ('' none), steps (comma-separated states), wave ('' none).
 * Returns {'ok'} | {'exists'} | {'stale', index, state}.
 */
export const ADMIT = new LuaScript(`${OUTBOX_FACTS}
local id, image, now, nowMs, maxlen, nodes, options, controller, waves = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
sc.outbox, sc.idPrefix, sc.now, sc.maxlen = KEYS[4], ARGV[10], now, maxlen
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local n = (#KEYS - 4) / 2
for i = 0, n - 1 do
  local cur = redis.call('HGET', KEYS[5 + i*2], 'state')
  local curDep = redis.call('HGET', KEYS[5 + i*2], 'deploymentId') or ''
  if cur ~= ARGV[11 + i*4] or curDep ~= ARGV[12 + i*4] then return {'stale', i, cur or ''} end
end
local ids = cjson.decode(nodes)
redis.call('HSET', KEYS[1], 'id', id, 'image', image, 'state', 'running', 'createdAt', now, 'createdAtMs', nowMs,
  'total', n, 'done', 0, 'installed', 0, 'failed', 0, 'nodes', nodes, 'options', options,
  'controller', controller, 'controllerV', 0, 'waves', waves, 'bootDone', 0, 'bootFailed', 0, 'budgetBase', 0)
redis.call('ZADD', KEYS[2], nowMs, id)
redis.call('ZADD', KEYS[3], nowMs, id)
for i = 0, n - 1 do
  local key, tl = KEYS[5 + i*2], KEYS[6 + i*2]
  local prev = ARGV[11 + i*4]
  for step in string.gmatch(ARGV[13 + i*4], '[^,]+') do
    stateChanged(tl, ids[i + 1], prev, step, id, '')
    prev = step
  end
  redis.call('HSET', key, 'state', prev, 'deploymentId', id, 'updatedAt', now)
  redis.call('HDEL', key, 'reason', 'progress', 'stats', 'attempts', 'timeouts')
  if ARGV[14 + i*4] ~= '' then redis.call('HSET', key, 'wave', ARGV[14 + i*4]) else redis.call('HDEL', key, 'wave') end
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

/**
 * One step of a deployment's admission controller, compare-and-set on the controller's version so
 * that of two replicas stepping at once one wins and the other changes nothing: stores the new
 * controller state and admits a wave (queued → admitted), all or nothing.
 * KEYS[1] deployment hash, KEYS[2] fact outbox, then per node of the wave: node hash, timeline.
 * ARGV: expectedControllerV, controllerJson, nowIso, timelineMaxLen, wave ('' when no node is
 *       admitted), factIdPrefix, then the wave's node ids.
 * A released deployment still admits (release lets its installed nodes go; the rest still install).
 * Returns {'ok'} | {'stale', why}: the deployment is paused, cancelled or gone, the version moved, or a node
 * of the wave is no longer queued in it.
 */
export const ADMIT_WAVE = new LuaScript(`${OUTBOX_FACTS}
local expected, controller, now, maxlen, wave = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
sc.outbox, sc.idPrefix, sc.now, sc.maxlen = KEYS[2], ARGV[6], now, maxlen
local d = redis.call('HMGET', KEYS[1], 'id', 'state', 'controllerV')
if not d[1] then return {'stale', 'missing'} end
if d[2] ~= 'running' and d[2] ~= 'released' then return {'stale', d[2]} end
if (d[3] or '0') ~= expected then return {'stale', 'version'} end
local n = (#KEYS - 2) / 2
for i = 0, n - 1 do
  local s = redis.call('HMGET', KEYS[3 + i*2], 'state', 'deploymentId')
  if s[1] ~= 'queued' or s[2] ~= d[1] then return {'stale', 'node'} end
end
for i = 0, n - 1 do
  redis.call('HSET', KEYS[3 + i*2], 'state', 'admitted', 'wave', wave, 'updatedAt', now)
  stateChanged(KEYS[4 + i*2], ARGV[7 + i], 'queued', 'admitted', d[1], '')
end
redis.call('HSET', KEYS[1], 'controller', controller)
redis.call('HINCRBY', KEYS[1], 'controllerV', 1)
if wave ~= '' then redis.call('HSET', KEYS[1], 'waves', tonumber(wave) + 1) end
return {'ok'}
`);

/**
 * Pauses a running deployment. KEYS[1] deployment hash. ARGV: reason, nowIso.
 * Returns 1 when this call paused it, 0 otherwise (not running, or gone).
 */
export const PAUSE_DEPLOYMENT = new LuaScript(`
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'paused', 'reason', ARGV[1], 'pausedAt', ARGV[2])
return 1
`);

/**
 * Resumes a paused deployment; its failure budget counts afresh from now (budgetBase = failed).
 * KEYS[1] deployment hash. Returns 'resumed', 'running' (nothing to do), 'missing', or the
 * finished state (completed, released, cancelled).
 */
export const RESUME_DEPLOYMENT = new LuaScript(`
local s = redis.call('HGET', KEYS[1], 'state')
if not s then return 'missing' end
if s ~= 'paused' then return s end
redis.call('HSET', KEYS[1], 'state', 'running', 'budgetBase', redis.call('HGET', KEYS[1], 'failed') or '0')
redis.call('HDEL', KEYS[1], 'reason', 'pausedAt')
return 'resumed'
`);

/**
 * Cancels a deployment that has not finished (running, paused, or released with nodes still
 * on their way), all at once: its queued nodes go back to `registered`
 * (their deployment cleared), its nodes in active states to `failed` with the reason; nodes that
 * finished (installed, failed) or moved on to another deployment are left alone.
 * KEYS[1] deployment hash, KEYS[2] active deployments sorted set, KEYS[3] fact outbox, then per
 * node: node hash, timeline.
 * ARGV: nowIso, timelineMaxLen, reason, activeStates (comma-separated, without queued), factIdPrefix.
 * Returns {'missing'} | {'finished', state} (every node done, or cancelled before) |
 *         {'ok', {dequeued ids}, {failed ids}, {their states before}}.
 */
export const CANCEL_DEPLOYMENT = new LuaScript(`${OUTBOX_FACTS}
local now, maxlen, reason = ARGV[1], ARGV[2], ARGV[3]
sc.outbox, sc.idPrefix, sc.now, sc.maxlen = KEYS[3], ARGV[5], now, maxlen
local d = redis.call('HMGET', KEYS[1], 'id', 'state', 'completedAt')
if not d[1] then return {'missing'} end
if d[2] == 'cancelled' or d[3] then return {'finished', d[2]} end
local active = {}
for s in string.gmatch(ARGV[4], '[^,]+') do active[s] = true end
local dequeued, failed, from = {}, {}, {}
for i = 0, (#KEYS - 3) / 2 - 1 do
  local key, tl = KEYS[4 + i*2], KEYS[5 + i*2]
  local s = redis.call('HMGET', key, 'id', 'state', 'deploymentId')
  if s[3] == d[1] then
    if s[2] == 'queued' then
      redis.call('HSET', key, 'state', 'registered', 'updatedAt', now)
      redis.call('HDEL', key, 'deploymentId', 'wave')
      stateChanged(tl, s[1], 'queued', 'registered', d[1], reason)
      table.insert(dequeued, s[1])
    elseif active[s[2]] then
      redis.call('HSET', key, 'state', 'failed', 'reason', reason, 'updatedAt', now)
      stateChanged(tl, s[1], s[2], 'failed', d[1], reason)
      redis.call('HINCRBY', KEYS[1], 'failed', 1)
      redis.call('HINCRBY', KEYS[1], 'done', 1)
      table.insert(failed, s[1])
      table.insert(from, s[2])
    end
  end
end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'reason', reason, 'completedAt', now)
redis.call('ZREM', KEYS[2], d[1])
return {'ok', dequeued, failed, from}
`);

/** HINCRBY KEYS[1] ARGV[1] 1, only when the hash exists (a counter of a deployment that may be gone). Returns 1 or 0. */
export const COUNT_IF_EXISTS = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return 1
`);

/**
 * Takes the outbox relay's lease and reads the oldest facts of the outbox (OUTBOX_FACTS).
 * KEYS[1] fact outbox, KEYS[2] read counter, KEYS[3] relay lease. ARGV: count, token (the
 * caller's), leaseMs.
 * Returns false (nil) when another relay holds the lease; else XRANGE's rows ({id, {field, value,
 * …}}, oldest first), and when there are any the lease is the caller's for `leaseMs` (taken or
 * renewed) and the read counter is incremented: a write, so the WAIT that follows the script on a
 * `waitReplicas` connection (kit's LuaScript) confirms the replicas have every write up to now,
 * the facts read included — a fact is published only once it would survive a failover. An empty
 * outbox writes nothing (no WAIT) and leaves a lease of the caller's to RELEASE_OUTBOX.
 */
export const READ_OUTBOX = new LuaScript(`
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[2] then return false end
local rows = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[1])
if #rows > 0 then
  redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
  redis.call('INCR', KEYS[2])
end
return rows
`);

/** Releases the outbox relay's lease if `token` holds it. KEYS[1] relay lease. ARGV: token. Returns 1 when released. */
export const RELEASE_OUTBOX = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`);
