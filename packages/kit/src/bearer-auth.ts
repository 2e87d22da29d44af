import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FastifyPluginCallback, FastifyReply, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from '@sinclair/typebox';
import { ApiError, SwarmbootError } from '@swarmboot/contracts';

/**
 * The scopes of an API token, each granting the ones before it: `read` (GET the inventory,
 * deployments, images), `deploy` (create and release deployments, register and change nodes,
 * upload images), `admin` (everything, and routes marked admin).
 */
export const Scope = { read: 'read', deploy: 'deploy', admin: 'admin' } as const;
export type Scope = (typeof Scope)[keyof typeof Scope];
const SCOPE_RANK: Readonly<Record<Scope, number>> = { read: 0, deploy: 1, admin: 2 };

/** What a route needs: a token with that scope, or nothing (`public`: the routes nodes call while they install, which hold no token). */
export type RouteScope = Scope | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the scope a bearer token needs on this route (kit's `bearerAuth`); a route that declares none needs `admin` */
    scope?: RouteScope;
  }
  interface FastifyRequest {
    /** the name of the token the request came with (its line in the tokens file), once `bearerAuth` accepted it */
    tokenName?: string;
  }
}

/** The environment variable naming the tokens file, the same for every service that has an API. */
export const TOKENS_FILE_VARIABLE = 'SWARMBOOT_TOKENS_FILE';

/** Spread into a service's config schema (as CommonConfig is). */
export const TokensConfig = {
  [TOKENS_FILE_VARIABLE]: Type.String({
    default: '',
    description: 'file of API bearer tokens, a line `<token> <scope>[,<scope>] [name]` each (scopes read, deploy, admin); empty: no authentication, the API is open',
  }),
} as const;

/** The security scheme's name in the OpenAPI document (`components.securitySchemes`). */
export const BEARER_SCHEME_NAME = 'bearer';

/** The OpenAPI 3.1 security scheme of the tokens (RFC 6750 bearer tokens, §4.8.27 "Security Scheme Object"). */
export const BEARER_SECURITY_SCHEMES = {
  [BEARER_SCHEME_NAME]: {
    type: 'http',
    scheme: 'bearer',
    description: 'A token from the tokens file (SWARMBOOT_TOKENS_FILE). Each route lists the scope it needs (read < deploy < admin; a higher scope grants the lower ones).',
  },
} as const;

/** RFC 6750 §2.1 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** A shorter token is refused at start-up: 16 characters of base64 are 96 bits. */
export const TOKEN_MIN_LENGTH = 16;

interface TokenEntry {
  name: string;
  /** sha256 of the token */
  digest: Buffer;
  scope: Scope;
}

/**
 * The known tokens, held as sha256 digests only. `lookup` hashes the presented token and compares
 * it with every digest by `timingSafeEqual`, with no early exit, so neither the answer's timing nor
 * the memory of the process tells a token.
 */
export class TokenSet {
  private constructor(private readonly entries: readonly TokenEntry[]) {}

  /**
   * Parses a tokens file: one token a line, `<token> <scope>[,<scope>] [name]`; `#` starts a
   * comment, blank lines are skipped. `<token>` is the token itself (RFC 6750 b64token, at least
   * TOKEN_MIN_LENGTH characters) or `sha256:<64 hex>`, its digest, so the file need not hold the
   * secret. A line's strongest scope counts (read < deploy < admin). `name` (default `line-<n>`)
   * is what logs say of the token. Throws CONFIG_INVALID naming `source` and the line, never the
   * token.
   */
  static parse(text: string, source: string): TokenSet {
    const entries: TokenEntry[] = [];
    const names = new Set<string>();
    text.split('\n').forEach((raw, i) => {
      const line = raw.replace(/#.*$/, '').trim();
      if (line === '') return;
      const fail = (why: string): never => {
        throw new SwarmbootError('CONFIG_INVALID', `${TOKENS_FILE_VARIABLE} ${source} line ${i + 1}: ${why}`, { context: { variables: [TOKENS_FILE_VARIABLE] } });
      };
      const [token = '', scopeList = '', name = `line-${i + 1}`, ...rest] = line.split(/\s+/);
      if (rest.length > 0 || scopeList === '') fail('expected `<token> <scope>[,<scope>] [name]`');
      const scopes = scopeList.split(',').map((s) => (Object.hasOwn(Scope, s) ? (s as Scope) : fail(`unknown scope ${JSON.stringify(s)} (read, deploy, admin)`)));
      let digest: Buffer;
      if (token.startsWith('sha256:')) {
        if (!/^sha256:[0-9a-f]{64}$/i.test(token)) fail('a sha256: token needs 64 hex digits');
        digest = Buffer.from(token.slice('sha256:'.length), 'hex');
      } else {
        if (!B64TOKEN.test(token) || token.length < TOKEN_MIN_LENGTH) fail(`a token is at least ${TOKEN_MIN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + / (RFC 6750 §2.1)`);
        digest = sha256(token);
      }
      if (names.has(name)) fail(`the name ${name} is taken`);
      names.add(name);
      const scope = scopes.reduce((a, b) => (SCOPE_RANK[b] > SCOPE_RANK[a] ? b : a));
      entries.push({ name, digest, scope });
    });
    if (entries.length === 0) throw new SwarmbootError('CONFIG_INVALID', `${TOKENS_FILE_VARIABLE} ${source}: no tokens (leave the variable empty to run without authentication)`, { context: { variables: [TOKENS_FILE_VARIABLE] } });
    return new TokenSet(entries);
  }

  /** The entry of `token`, or undefined. */
  lookup(token: string): { name: string; scope: Scope } | undefined {
    const d = sha256(token);
    let found: TokenEntry | undefined;
    for (const e of this.entries) if (timingSafeEqual(d, e.digest) && found === undefined) found = e;
    return found && { name: found.name, scope: found.scope };
  }

  get size(): number {
    return this.entries.length;
  }
}

/** The tokens of the file `path` (TOKENS_FILE_VARIABLE's value); undefined for '' (authentication off). Throws CONFIG_INVALID. */
export async function loadTokens(path: string): Promise<TokenSet | undefined> {
  if (path.trim() === '') return undefined;
  let text: string;
  try {
    text = await readFile(path.trim(), 'utf8');
  } catch (err) {
    throw new SwarmbootError('CONFIG_INVALID', `${TOKENS_FILE_VARIABLE}: cannot read ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err, context: { variables: [TOKENS_FILE_VARIABLE] } });
  }
  return TokenSet.parse(text, JSON.stringify(path));
}

export interface BearerAuthOptions {
  /** the known tokens; undefined: authentication off (one warning at registration) */
  tokens: TokenSet | undefined;
}

/**
 * Bearer tokens (RFC 6750) with scopes, as one plugin (not encapsulated; register it after
 * `httpErrors`, before the routes). Each route declares `config: { scope }`; a route without one
 * needs `admin`, so a route someone forgot is closed, not open. Checked in `preParsing` — after the
 * onRequest hooks, before the body is read (an image upload is refused before its first byte is stored):
 *
 * - `public`: no token looked at;
 * - no `Authorization: Bearer …`, or a token not in the set: 401 UNAUTHENTICATED with
 *   `WWW-Authenticate: Bearer realm="swarmboot"` (RFC 6750 §3; `error="invalid_token"` for an
 *   unknown one, §3.1);
 * - a token whose scope is below the route's: 403 INSUFFICIENT_SCOPE, `error="insufficient_scope"`
 *   and the `scope` needed.
 *
 * With `tokens` undefined every route is open and the plugin logs one warning saying so. Each
 * route's OpenAPI entry gets `security: [{ bearer: [scope] }]` (OpenAPI 3.1 lets non-OAuth schemes
 * list role names) and the 401/403 answers. Tokens never reach a log line: createLogger redacts the
 * authorization header, and this plugin logs only a token's name.
 */
export const bearerAuth: FastifyPluginCallback<BearerAuthOptions> = fp<BearerAuthOptions>(
  (app, { tokens }, done) => {
    if (tokens === undefined) app.log.warn(`${TOKENS_FILE_VARIABLE} is not set: the API needs no token, anyone who reaches it may deploy`);
    app.addHook('onRoute', documentRoute);
    if (tokens !== undefined) {
      // preParsing: after every onRequest hook (a route's own, e.g. one taking RFC 6750 §2.3's
      // access_token query parameter into the header), still before the body is read
      app.addHook('preParsing', async (req, reply, payload) => {
        const need = req.routeOptions.config.scope ?? Scope.admin;
        if (need === 'public') return payload;
        const token = bearerToken(req.headers.authorization);
        if (token === undefined) throw unauthenticated(reply, `this route needs a bearer token with scope ${need} (Authorization: Bearer <token>)`, `scope="${need}"`);
        const entry = tokens.lookup(token);
        if (entry === undefined) throw unauthenticated(reply, 'the bearer token is not known', 'error="invalid_token"');
        if (SCOPE_RANK[entry.scope] < SCOPE_RANK[need]) {
          reply.header('www-authenticate', `Bearer realm="swarmboot", error="insufficient_scope", scope="${need}"`);
          throw new SwarmbootError('INSUFFICIENT_SCOPE', `token ${entry.name} has scope ${entry.scope}; this route needs ${need}`, { context: { token: entry.name, scope: entry.scope, need } });
        }
        req.tokenName = entry.name;
        return payload;
      });
    }
    done();
  },
  { name: 'swarmboot-bearer-auth', fastify: '5.x' },
);

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1; the scheme is case-insensitive, RFC 9110 §11.1). */
function bearerToken(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^Bearer +(\S+)\s*$/i.exec(header);
  return m?.[1] !== undefined && B64TOKEN.test(m[1]) ? m[1] : undefined;
}

function unauthenticated(reply: FastifyReply, message: string, param: string): SwarmbootError {
  reply.header('www-authenticate', `Bearer realm="swarmboot", ${param}`);
  return new SwarmbootError('UNAUTHENTICATED', message);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The scope and the 401/403 answers, in the route's schema (so in the OpenAPI document). */
function documentRoute(route: RouteOptions): void {
  const scope = route.config?.scope ?? Scope.admin;
  if (scope === 'public') return;
  const schema = (route.schema ??= {}) as { security?: unknown; description?: string; response?: Record<string, unknown> };
  schema.security = [{ [BEARER_SCHEME_NAME]: [scope] }];
  schema.description = `${schema.description ? `${schema.description}\n\n` : ''}Needs a bearer token with scope \`${scope}\`.`;
  schema.response = { 401: ApiError, 403: ApiError, ...schema.response };
}
