import type { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';
import { ipToInt, LuaScript } from '@swarmboot/kit';
import type { CommitResult, LeaseRecord, LeaseStore, Offer, OfferRequest } from '../domain/leases.js';
import type { Subnet } from '../domain/subnets.js';

/**
 * How long a lease record outlives its lease (ms), so a client that comes back gets its old
 * address (RFC 2131 §4.3.1 "the client's previous address") while nobody else took it.
 */
const RETAIN_MS = 7 * 24 * 3600 * 1000;

/*
 * Key layout:
 * - RedisKeys.leaseByIp(ip) (string, chaddr) is the ownership of an address: whoever holds this
 *   key holds the address. Its TTL is the reservation (OFFER) or the lease (ACK); when it expires,
 *   the address is free again. SET only ever happens inside a script after checking the holder,
 *   so two clients never hold one address, whatever the number of server replicas.
 * - RedisKeys.lease(chaddr) (hash: ip, subnet, state, expiresAt, updatedAt) remembers the client's
 *   address for stickiness; kept RETAIN_MS past the lease.
 * The scripts compute leaseByIp keys from a prefix: fine for one Redis (or a replicated one),
 * not for Redis Cluster, where every key must be declared — a hash tag per subnet would be needed.
 */
const LUA_COMMON = `
local function toip(n)
  return string.format('%d.%d.%d.%d', math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end
local function toint(ip)
  if not ip then return nil end
  local a, b, c, d = string.match(ip, '^(%d+)%.(%d+)%.(%d+)%.(%d+)$')
  if not a then return nil end
  return ((tonumber(a) * 256 + tonumber(b)) * 256 + tonumber(c)) * 256 + tonumber(d)
end
`;

/**
 * KEYS: lease hash of chaddr, cursor of the subnet, held offers of the subnet (sorted set: address
 * → hold expiry ms).
 * ARGV: chaddr, leaseByIp prefix, pool first, pool last (integers), requested (integer or -1),
 *       reserve ms, now ms, subnet cidr, retain ms, max held offers (-1: no bound).
 * Returns {address, 1 when the offer holds it | 0}, or false when the pool is exhausted.
 *
 * Held offers are bounded per subnet: past `max held`, an offer to a client that does not hold the
 * address already reserves nothing (Kea's default, offer-lifetime 0): its REQUEST still binds the
 * address when nobody took it meanwhile, and the round-robin cursor keeps concurrent offers on
 * distinct addresses. So DISCOVERs from random chaddrs (a starvation flood) hold at most `max
 * held` addresses, and never the whole pool.
 */
const OFFER_LUA = `${LUA_COMMON}
local chaddr, prefix = ARGV[1], ARGV[2]
local first, last, requested = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local reserveMs, now, subnet, retainMs = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
local maxHeld = tonumber(ARGV[10])

local room = true
if maxHeld >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  room = redis.call('ZCARD', KEYS[3]) < maxHeld
end

-- reserve the free address n for chaddr, while held offers are under the bound
local function hold(n)
  if not room then return 0 end
  local ip = toip(n)
  redis.call('SET', prefix .. ip, chaddr, 'PX', reserveMs)
  if maxHeld >= 0 then redis.call('ZADD', KEYS[3], now + reserveMs, ip) end
  return 1
end

-- n when free or already chaddr's; never shortens a longer holding (a binding). nil: taken
local function claim(n)
  local key = prefix .. toip(n)
  local holder = redis.call('GET', key)
  if holder and holder ~= chaddr then return nil end
  if not holder then return hold(n) end
  if redis.call('PTTL', key) < reserveMs then
    redis.call('SET', key, chaddr, 'PX', reserveMs)
    if redis.call('ZSCORE', KEYS[3], toip(n)) then redis.call('ZADD', KEYS[3], now + reserveMs, toip(n)) end
  end
  return 1
end

local function record(ip, held)
  local h = redis.call('HMGET', KEYS[1], 'ip', 'state', 'expiresAt')
  local stillBound = h[1] == ip and h[2] == 'bound' and tonumber(h[3] or '0') > now
  if not stillBound then
    redis.call('HSET', KEYS[1], 'ip', ip, 'subnet', subnet, 'state', 'offered', 'expiresAt', now + reserveMs)
  end
  redis.call('HSET', KEYS[1], 'updatedAt', now)
  -- a client never bound is forgotten with its offer (a flood of chaddrs leaves no records);
  -- one that was keeps its record RETAIN_MS for stickiness
  if h[2] == 'offered' or h[2] == false then
    redis.call('PEXPIRE', KEYS[1], reserveMs)
  else
    redis.call('PEXPIRE', KEYS[1], retainMs)
  end
  return { ip, held }
end

-- 1. the address the client holds or held (RFC 2131 section 4.3.1)
local prev = redis.call('HGET', KEYS[1], 'ip')
local p = toint(prev)
if p then
  if p >= first and p <= last then
    local held = claim(p)
    if held then return record(prev, held) end
  elseif redis.call('GET', prefix .. prev) == chaddr then
    -- the client moved to another subnet: its old address is free
    redis.call('DEL', prefix .. prev)
  end
end
-- 2. the address it asked for (option 50)
if requested >= first and requested <= last and redis.call('EXISTS', prefix .. toip(requested)) == 0 then
  return record(toip(requested), hold(requested))
end
-- 3. round robin from the cursor: recently freed addresses are handed out last
local size = last - first + 1
local cursor = tonumber(redis.call('GET', KEYS[2]) or '') or first
if cursor < first or cursor > last then cursor = first end
for i = 0, size - 1 do
  local n = first + (cursor - first + i) % size
  if redis.call('EXISTS', prefix .. toip(n)) == 0 then
    redis.call('SET', KEYS[2], first + (n - first + 1) % size)
    return record(toip(n), hold(n))
  end
end
return false
`;

/**
 * KEYS: lease hash of chaddr, held offers of the subnet.
 * ARGV: chaddr, leaseByIp prefix, ip, pool first, pool last, lease ms, now ms, subnet cidr, retain ms.
 * Returns a CommitResult.
 */
const COMMIT_LUA = `${LUA_COMMON}
local chaddr, prefix, ip = ARGV[1], ARGV[2], ARGV[3]
local first, last, leaseMs, now = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local subnet, retainMs = ARGV[8], tonumber(ARGV[9])
local n = toint(ip)
if not n or n < first or n > last then return 'out_of_pool' end
local holder = redis.call('GET', prefix .. ip)
if holder and holder ~= chaddr then return 'taken' end
local prev = redis.call('HGET', KEYS[1], 'ip')
if not prev then return 'unknown' end
if prev ~= ip then return 'mismatch' end
redis.call('SET', prefix .. ip, chaddr, 'PX', leaseMs)
redis.call('ZREM', KEYS[2], ip)
redis.call('HSET', KEYS[1], 'ip', ip, 'subnet', subnet, 'state', 'bound', 'expiresAt', now + leaseMs, 'updatedAt', now)
redis.call('PEXPIRE', KEYS[1], math.max(retainMs, leaseMs))
return 'bound'
`;

/**
 * KEYS: lease hash of chaddr. ARGV: chaddr, leaseByIp prefix, ip, now ms, mode, quarantine ms,
 * held-offers prefix (the subnet comes from the lease hash).
 * mode 'offer': frees an address only offered (RFC 2131 §4.3.2, SELECTING another server);
 * mode 'release': frees an offered or bound address, keeping it remembered for stickiness
 * (§4.3.4 "the server SHOULD retain the client's configuration");
 * mode 'decline': the address is in use by someone else (§4.3.3): it is held by the marker
 * `declined` for the quarantine, and forgotten by the client so its next DISCOVER gets another.
 * Returns 1 when something changed.
 */
const RELEASE_LUA = `
local chaddr, prefix, ip, now, mode, quarantineMs, heldPrefix = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), ARGV[7]
local h = redis.call('HMGET', KEYS[1], 'ip', 'state', 'subnet')
if h[1] ~= ip then return 0 end
if mode == 'offer' and h[2] ~= 'offered' then return 0 end
local holder = redis.call('GET', prefix .. ip)
if mode == 'decline' then
  if holder and holder ~= chaddr then return 0 end
  redis.call('SET', prefix .. ip, 'declined', 'PX', quarantineMs)
  redis.call('HDEL', KEYS[1], 'ip')
else
  if holder == chaddr then redis.call('DEL', prefix .. ip) end
end
if h[3] then redis.call('ZREM', heldPrefix .. h[3], ip) end
redis.call('HSET', KEYS[1], 'state', 'released', 'expiresAt', now, 'updatedAt', now)
return 1
`;

const offerScript = new LuaScript(OFFER_LUA);
const commitScript = new LuaScript(COMMIT_LUA);
const releaseScript = new LuaScript(RELEASE_LUA);

const COMMIT_RESULTS: readonly CommitResult[] = ['bound', 'taken', 'out_of_pool', 'mismatch', 'unknown'];

/** {@link LeaseStore} in Redis; every change is one Lua script, so replicas can share it. */
export class RedisLeaseStore implements LeaseStore {
  private readonly ipPrefix = RedisKeys.leaseByIp('');
  private readonly heldPrefix = RedisKeys.heldOffers('');

  constructor(private readonly redis: Redis) {}

  async offer(req: OfferRequest): Promise<Offer | undefined> {
    let requested = -1;
    if (req.requestedIp !== undefined) {
      try {
        requested = ipToInt(req.requestedIp);
      } catch {
        requested = -1;
      }
    }
    const result = await offerScript.run(
      this.redis,
      [RedisKeys.lease(req.chaddr), RedisKeys.poolCursor(req.subnet.cidr), RedisKeys.heldOffers(req.subnet.cidr)],
      [req.chaddr, this.ipPrefix, req.subnet.poolStart, req.subnet.poolEnd, requested, req.reserveSeconds * 1000, Date.now(), req.subnet.cidr, RETAIN_MS, req.maxHeld ?? -1],
    );
    if (!Array.isArray(result)) return undefined;
    const [ip, held] = result as [unknown, unknown];
    if (typeof ip !== 'string') throw new Error(`offer script returned ${String(ip)}`);
    return { ip, held: held === 1 };
  }

  async commit(req: { chaddr: string; ip: string; subnet: Subnet; leaseSeconds: number }): Promise<CommitResult> {
    const result = await commitScript.run(
      this.redis,
      [RedisKeys.lease(req.chaddr), RedisKeys.heldOffers(req.subnet.cidr)],
      [req.chaddr, this.ipPrefix, req.ip, req.subnet.poolStart, req.subnet.poolEnd, req.leaseSeconds * 1000, Date.now(), req.subnet.cidr, RETAIN_MS],
    );
    const r = COMMIT_RESULTS.find((c) => c === result);
    if (r === undefined) throw new Error(`commit script returned ${String(result)}`);
    return r;
  }

  async releaseOffer(req: { chaddr: string; ip: string }): Promise<boolean> {
    return this.releaseAs('offer', req, 0);
  }

  async release(req: { chaddr: string; ip: string }): Promise<boolean> {
    return this.releaseAs('release', req, 0);
  }

  async decline(req: { chaddr: string; ip: string; quarantineSeconds: number }): Promise<boolean> {
    return this.releaseAs('decline', req, req.quarantineSeconds * 1000);
  }

  private async releaseAs(mode: 'offer' | 'release' | 'decline', req: { chaddr: string; ip: string }, quarantineMs: number): Promise<boolean> {
    const result = await releaseScript.run(this.redis, [RedisKeys.lease(req.chaddr)], [req.chaddr, this.ipPrefix, req.ip, Date.now(), mode, quarantineMs, this.heldPrefix]);
    return result === 1;
  }

  async get(chaddr: string): Promise<LeaseRecord | undefined> {
    const h = await this.redis.hgetall(RedisKeys.lease(chaddr));
    if (h.ip === undefined) return undefined;
    const state = h.state === 'bound' || h.state === 'released' ? h.state : 'offered';
    return { chaddr, ip: h.ip, subnet: h.subnet ?? '', state, expiresAt: Number(h.expiresAt ?? 0) };
  }

  async holderOf(ip: string): Promise<string | undefined> {
    return (await this.redis.get(RedisKeys.leaseByIp(ip))) ?? undefined;
  }
}
