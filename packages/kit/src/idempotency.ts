import { createHash, randomBytes } from 'node:crypto';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import canonicalize from 'canonicalize';
import type { Redis } from 'ioredis';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ApiError, RedisKeys, SwarmbootError } from '@swarmboot/contracts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the route honours an `Idempotency-Key` request header (kit's `idempotency` plugin) */
    idempotent?: boolean;
  }
}

/** The request header (draft-ietf-httpapi-idempotency-key-header-06, "The Idempotency-Key HTTP Request Header Field"). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** Set to `true` on an answer that is a stored one, not a new run (Stripe's name for it; the draft names none). */
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';
/** Longest key accepted (Stripe's limit; the draft sets none). */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

/**
 * How long a claim (a request with the key still running) holds the key, ms. It bounds how long a
 * key stays `IDEMPOTENCY_KEY_IN_USE` after the replica running it died mid-request, and must
 * outlast the slowest handler, or a retry would run it again: the scheduler's slowest, an import
 * of 10 000 nodes in one request, took 0.34 s (2 cores, local Redis, app.inject), so 2 min is a
 * margin for a loaded Redis, not a measurement.
 */
export const IDEMPOTENCY_CLAIM_MS = 120_000;

export interface IdempotencyOptions {
  redis: Redis;
  /** how long a final answer is kept for replay, s (the draft's "Idempotency Key Validity and Expiry") */
  ttlSeconds: number;
}

/** What `RedisKeys.idempotency` holds: a claim while the first request runs, then its answer. */
const Entry = Type.Union([
  Type.Object({ state: Type.Literal('running'), fingerprint: Type.String(), token: Type.String() }),
  Type.Object({ state: Type.Literal('done'), fingerprint: Type.String(), token: Type.String(), status: Type.Integer(), contentType: Type.String(), body: Type.String() }),
]);
type Entry = Static<typeof Entry>;

/** A request that holds its key: what onSend needs to store its answer or let the key go. */
interface Claim {
  redisKey: string;
  fingerprint: string;
  token: string;
}

/**
 * Sets KEYS[1] to ARGV[2] for ARGV[3] ms (or deletes it when ARGV[2] is '') if it still holds the
 * claim with token ARGV[1]: a claim that expired and was taken by another request is not touched.
 */
const FINISH_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, entry = pcall(cjson.decode, cur)
if not ok or entry.token ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
`;

/**
 * The key of an `Idempotency-Key` header value. The draft's form is an RFC 8941 sf-string
 * (`"…"`, §3.3.3, with `\"` and `\\` escapes); Stripe's bare form is taken as it is, so `"k"`
 * and `k` are the same key. Throws IDEMPOTENCY_KEY_INVALID when the key is empty, longer than
 * IDEMPOTENCY_KEY_MAX_LENGTH, or has a character outside printable ASCII (0x20–0x7E).
 */
export function parseIdempotencyKey(value: string): string {
  const key = value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1).replace(/\\(["\\])/g, '$1') : value;
  if (key.length === 0 || key.length > IDEMPOTENCY_KEY_MAX_LENGTH || !/^[\x20-\x7e]+$/.test(key)) {
    throw new SwarmbootError('IDEMPOTENCY_KEY_INVALID', `the Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters`);
  }
  return key;
}

/**
 * sha256 (hex) of what makes two requests the same (the draft's "Idempotency Fingerprint"):
 * method, path with query, and the parsed body in RFC 8785 canonical JSON, so key order and
 * whitespace of a JSON body do not count; a text body (CSV) counts byte for byte.
 */
export function requestFingerprint(method: string, url: string, body: unknown): string {
  return createHash('sha256')
    .update(canonicalize([method, url, body ?? null]) ?? '')
    .digest('hex');
}

/**
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header-06; Stripe's semantics) for the
 * routes that opt in with `config: { idempotent: true }`, as one plugin (not encapsulated; register
 * it after `httpErrors`, before the routes):
 *
 * - no header: the route runs as always; a header on a route that did not opt in is ignored;
 * - first request with a key: claimed atomically (`SET NX` on `RedisKeys.idempotency(route, key)`,
 *   so of two replicas one runs it), run, and its answer (status, content-type, body) stored for
 *   `ttlSeconds` if it is final — below 500; a 5xx lets the key go, so the client may retry;
 * - the same key and the same request (requestFingerprint): the stored answer with
 *   `Idempotent-Replayed: true`, the handler not run again;
 * - the same key, another request: 422 IDEMPOTENCY_KEY_REUSED; while the first still runs: 409
 *   IDEMPOTENCY_KEY_IN_USE (the draft's "Error Handling"); a malformed key or the header given
 *   twice: 400 IDEMPOTENCY_KEY_INVALID.
 *
 * The route's OpenAPI entry gets the header and the 400/409/422 answers. Keys are scoped by route
 * pattern (`POST /v1/deployments/:id/release`); the path with its ids is part of the fingerprint.
 * When Redis fails after the handler ran, the answer still goes out and the key stays claimed
 * until IDEMPOTENCY_CLAIM_MS passes (logged at error).
 */
export const idempotency: FastifyPluginCallback<IdempotencyOptions> = fp<IdempotencyOptions>(
  (app, opts, done) => {
    const { redis } = opts;
    const ttlMs = opts.ttlSeconds * 1000;
    const claims = new WeakMap<FastifyRequest, Claim>();

    app.addHook('onRoute', (route) => {
      if (route.config?.idempotent === true) documentRoute(route);
    });

    app.addHook('preHandler', async (req, reply) => {
      if (req.routeOptions.config.idempotent !== true) return;
      const value = req.headers[IDEMPOTENCY_KEY_HEADER];
      if (value === undefined) return;
      // node joins repeated headers with ", "; the draft: clients MUST NOT send more than one
      if (typeof value !== 'string' || headerCount(req, IDEMPOTENCY_KEY_HEADER) > 1) throw new SwarmbootError('IDEMPOTENCY_KEY_INVALID', 'give one Idempotency-Key header');
      const key = parseIdempotencyKey(value);
      const redisKey = RedisKeys.idempotency(`${req.method} ${req.routeOptions.url ?? ''}`, key);
      const fingerprint = requestFingerprint(req.method, req.url, req.body);
      // a second round when the entry expired between SET NX and GET
      for (let round = 0; round < 2; round++) {
        const token = randomBytes(12).toString('hex');
        const claim: Entry = { state: 'running', fingerprint, token };
        if ((await redis.set(redisKey, JSON.stringify(claim), 'PX', IDEMPOTENCY_CLAIM_MS, 'NX')) === 'OK') {
          claims.set(req, { redisKey, fingerprint, token });
          return;
        }
        const stored = parseEntry(await redis.get(redisKey));
        if (stored === undefined) continue;
        if (stored.fingerprint !== fingerprint) throw new SwarmbootError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for another request on this route; use a new key for a new request');
        if (stored.state === 'running') throw new SwarmbootError('IDEMPOTENCY_KEY_IN_USE', 'a request with this Idempotency-Key is still running; retry later');
        return replay(reply, stored);
      }
      throw new SwarmbootError('IDEMPOTENCY_KEY_IN_USE', 'the Idempotency-Key changed hands while it was claimed; retry');
    });

    app.addHook('onSend', async (req, reply, payload) => {
      const claim = claims.get(req);
      if (claim === undefined) return payload;
      claims.delete(req);
      const final = reply.statusCode < 500 && (typeof payload === 'string' || Buffer.isBuffer(payload));
      const entry: Entry | undefined = final
        ? { state: 'done', fingerprint: claim.fingerprint, token: claim.token, status: reply.statusCode, contentType: String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8'), body: String(payload) }
        : undefined;
      try {
        await redis.eval(FINISH_LUA, 1, claim.redisKey, claim.token, entry === undefined ? '' : JSON.stringify(entry), ttlMs);
      } catch (err) {
        req.log.error({ err, status: reply.statusCode }, 'idempotency: the answer could not be stored; the key stays claimed until the claim expires');
      }
      return payload;
    });
    done();
  },
  { name: 'swarmboot-idempotency', fastify: '5.x' },
);

function replay(reply: FastifyReply, stored: Extract<Entry, { state: 'done' }>): FastifyReply {
  return reply.code(stored.status).type(stored.contentType).header(IDEMPOTENT_REPLAYED_HEADER, 'true').send(stored.body);
}

function parseEntry(json: string | null): Entry | undefined {
  if (json === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  return Value.Check(Entry, value) ? value : undefined;
}

function headerCount(req: FastifyRequest, name: string): number {
  let n = 0;
  for (let i = 0; i < req.raw.rawHeaders.length; i += 2) if (req.raw.rawHeaders[i]?.toLowerCase() === name) n++;
  return n;
}

/** The header and the answers this plugin adds, in the route's schema (so in the OpenAPI document). */
function documentRoute(route: RouteOptions): void {
  const schema = (route.schema ??= {}) as { headers?: { properties?: Record<string, unknown> }; response?: Record<string, unknown> };
  const header = Type.Optional(
    Type.String({ description: `makes a retry safe: the first request with the key runs, a repeat gets its stored answer (header ${IDEMPOTENT_REPLAYED_HEADER}: true); 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters` }),
  );
  schema.headers = schema.headers?.properties ? { ...schema.headers, properties: { ...schema.headers.properties, [IDEMPOTENCY_KEY_HEADER]: header } } : Type.Object({ [IDEMPOTENCY_KEY_HEADER]: header });
  schema.response = { 400: ApiError, 409: ApiError, 422: ApiError, ...schema.response };
}
