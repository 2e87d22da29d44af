import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { Redis, type RedisOptions } from 'ioredis';
import { Stream, SwarmbootError } from '@swarmboot/contracts';
import type { Logger } from './logger.js';

/**
 * A URL with its password replaced by `***`, for logs and error messages. Works on every form the
 * kit takes, also those `new URL` refuses: several NATS URLs separated by commas, and
 * `redis+sentinel://` with its host list.
 */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:@/,]*:)[^@/,]*@/g, '$1***@');
}

/**
 * nats.js v3 refuses credentials inside the URL: `nats://user:pass@host` becomes servers + user/pass,
 * `nats://token@host` a token. Several URLs separated by commas (the members of a cluster,
 * SWARMBOOT_NATS_URL=`nats://a:4222,nats://b:4222`) become a list of servers; the credentials are
 * taken from the first URL that carries any (a cluster shares its accounts).
 */
export function natsServerOptions(url: string): { servers: string | string[]; user?: string; pass?: string; token?: string } {
  const servers: string[] = [];
  let creds: { user?: string; pass?: string; token?: string } = {};
  for (const one of url.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    let u: URL;
    try {
      u = new URL(one);
    } catch {
      servers.push(one);
      continue;
    }
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    u.username = '';
    u.password = '';
    servers.push(u.toString().replace(/\/$/, ''));
    if (Object.keys(creds).length > 0) continue;
    if (user && pass) creds = { user, pass };
    else if (user) creds = { token: user };
  }
  return { servers: servers.length === 1 ? (servers[0] ?? url) : servers, ...creds };
}

/** How the SWARMBOOT stream is kept: see ensureStream. */
export interface StreamOptions {
  /**
   * JetStream replicas of the stream (1–5; 3 on a three-node cluster, SWARMBOOT_NATS_REPLICAS).
   * Undefined: a new stream gets 1, an existing one keeps its count, so a client that does not
   * know the deployment's setting (a one-off CLI command) never scales the stream down.
   */
  replicas?: number | undefined;
}

/**
 * Connects to NATS — one server or a cluster (comma-separated URLs; nats.js fails over between
 * them and learns the other members from the server's INFO) — and makes sure the JetStream
 * stream `SWARMBOOT` exists (idempotent; tried up to 5 times, 1–4 s apart, when the JetStream API
 * fails or times out). Throws NATS_UNAVAILABLE, or the JetStream API's last error.
 */
export async function connectNats(url: string, name: string, log: Logger, stream: StreamOptions = {}): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({ ...natsServerOptions(url), name, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  } catch (err) {
    throw new SwarmbootError('NATS_UNAVAILABLE', `cannot connect to NATS at ${redactUrl(url)} (SWARMBOOT_NATS_URL)`, { cause: err });
  }
  // the JetStream API of a cluster can time out while the meta leader handles the stream's creation
  // (bench/faults nats-node: ten services starting at once against three nodes at R3, the logsink's
  // update timed out after 5 s and it exited): try again, bounded
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureStream(nc, stream);
      break;
    } catch (err) {
      if (attempt >= EnsureStreamAttempts) {
        await nc.close().catch(() => undefined);
        throw err;
      }
      log.warn({ err, attempt }, 'JetStream stream setup failed; trying again');
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
  log.info({ url: redactUrl(url), replicas: stream.replicas }, 'nats connected');
  return nc;
}

/** Attempts of ensureStream in connectNats (1, 2, 3, 4 s apart: with the API's 5 s timeout, about 30 s in all). */
const EnsureStreamAttempts = 5;

/**
 * Creates the stream `SWARMBOOT` or brings its configuration up to date (subjects, retention,
 * `num_replicas`; NATS ≥ 2.9 moves a stream between replica counts in place).
 */
export async function ensureStream(nc: NatsConnection, opts: StreamOptions = {}): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: Stream.name,
    subjects: [...Stream.subjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: Stream.maxAgeMs * 1_000_000, // nanoseconds
  };
  let existing: number | undefined;
  try {
    existing = (await jsm.streams.info(Stream.name)).config.num_replicas;
  } catch {
    existing = undefined;
  }
  if (existing !== undefined) {
    await jsm.streams.update(Stream.name, { ...config, num_replicas: opts.replicas ?? existing });
    return;
  }
  try {
    await jsm.streams.add({ ...config, num_replicas: opts.replicas ?? 1 });
  } catch (err) {
    // another replica may have created it between our two calls
    await jsm.streams.info(Stream.name).catch(() => {
      throw err;
    });
  }
}

/**
 * How many replicas must have a script's writes before it counts as done (Redis `WAIT`,
 * https://redis.io/docs/latest/commands/wait/), and how long to wait for them (ms).
 */
export interface Replication {
  replicas: number;
  timeoutMs: number;
}

/**
 * `waitTimeoutMs` when only `waitReplicas` is given (ms). A replica on the same LAN acknowledges
 * within a millisecond or two; in the Sentinel failover test (loopback, 2 cores at load ≈ 10) a
 * writer with WAIT 1 500 never timed out while the replica was up.
 */
const DefaultWaitTimeoutMs = 500;

/** The replication each connection made by connectRedis asks of its scripts (LuaScript.run). */
const replicationOf = new WeakMap<Redis, Replication>();

/** What connectRedis' URL asked of `redis`'s writes (`waitReplicas`), or undefined. */
export function redisReplication(redis: Redis): Replication | undefined {
  return replicationOf.get(redis);
}

/** Where `SWARMBOOT_REDIS_URL=redis+sentinel://…` connects when the URL names no port. */
const SentinelDefaultPort = 26379;

/**
 * ioredis options for SWARMBOOT_REDIS_URL. Two forms:
 *
 * - `redis://[[user]:password@]host:port[/db]`, `rediss://…` or a unix socket path: one server,
 *   handed to ioredis as it is (`url` set).
 * - `redis+sentinel://[[user]:password@]host1[:26379],host2[:26379],…/<master name>[?db=N]`: a
 *   Sentinel-managed master (https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/).
 *   ioredis asks the sentinels for the current master and asks again after every disconnect, so
 *   a failover is followed. The credentials are used for the data nodes and for the sentinels
 *   alike (Sentinel's own `requirepass`, as the Bitnami chart sets it by default); add
 *   `sentinelAuth=none` to the query when the sentinels take no password. `waitReplicas=N`
 *   (and `waitTimeoutMs`, default 500): every Lua script (the services' state changes: leases,
 *   node transitions, admission) is followed by `WAIT N timeout` and fails with
 *   REDIS_NOT_REPLICATED unless N replicas have its writes — so a change the caller saw succeed
 *   survives a failover (replication is asynchronous otherwise: see docs/deploy.md).
 *
 * `variable` names the setting in errors. Throws CONFIG_INVALID naming it.
 */
export function redisOptions(url: string, variable = 'SWARMBOOT_REDIS_URL'): { url?: string; options: RedisOptions; replication?: Replication } {
  if (!url.startsWith('redis+sentinel:')) return { url, options: {} };
  const bad = (why: string): SwarmbootError =>
    new SwarmbootError('CONFIG_INVALID', `${variable}=${JSON.stringify(redactUrl(url))}: ${why}; expected redis+sentinel://[:password@]host1:26379,host2:26379/<master name>[?db=0&waitReplicas=1&waitTimeoutMs=500]`, { context: { variables: [variable] } });
  const m = /^redis\+sentinel:\/\/(?:([^@/]*)@)?([^/?#@]+)\/([^/?#]+)(?:\?([^#]*))?$/.exec(url);
  if (!m) throw bad('not a sentinel URL');
  const [, userinfo, hostList = '', rawName = '', query = ''] = m;
  const sentinels = hostList.split(',').map((hp) => {
    const hm = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(hp.trim());
    const port = hm?.[2] === undefined ? SentinelDefaultPort : Number(hm[2]);
    if (!hm?.[1] || port < 1 || port > 65535) throw bad(`sentinel ${JSON.stringify(hp)} is not host[:port]`);
    return { host: hm[1].replace(/^\[(.*)\]$/, '$1'), port };
  });
  // failoverDetector: listen for the sentinels' +switch-master and reconnect at once; without it
  // the client kept writing to the demoted master until the sentinels reconfigured it, seconds
  // later, and every one of those writes was lost (test/integration/redis-sentinel)
  const options: RedisOptions = { sentinels, name: decodeURIComponent(rawName), failoverDetector: true };
  const params = new URLSearchParams(query);
  let sentinelAuth = true;
  let replication: Replication | undefined;
  for (const [key, value] of params) {
    if (key === 'waitReplicas' || key === 'waitTimeoutMs') {
      if (!/^\d{1,6}$/.test(value)) throw bad(`${key}=${JSON.stringify(value)} is not a whole number`);
      replication = { replicas: 0, timeoutMs: DefaultWaitTimeoutMs, ...replication, [key === 'waitReplicas' ? 'replicas' : 'timeoutMs']: Number(value) };
    } else if (key === 'db') {
      if (!/^\d{1,5}$/.test(value)) throw bad(`db=${JSON.stringify(value)} is not a database number`);
      options.db = Number(value);
    } else if (key === 'sentinelAuth') {
      if (value !== 'none' && value !== 'same') throw bad(`sentinelAuth=${JSON.stringify(value)} is neither none nor same`);
      sentinelAuth = value === 'same';
    } else {
      throw bad(`unknown parameter ${JSON.stringify(key)}`);
    }
  }
  if (userinfo !== undefined && userinfo !== '') {
    const colon = userinfo.indexOf(':');
    const username = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
    const password = colon < 0 ? undefined : decodeURIComponent(userinfo.slice(colon + 1));
    if (username) options.username = username;
    if (password !== undefined) options.password = password;
    if (sentinelAuth) {
      if (username) options.sentinelUsername = username;
      if (password !== undefined) options.sentinelPassword = password;
    }
  }
  if (replication !== undefined && replication.timeoutMs < 1) throw bad('waitTimeoutMs must be at least 1 (0 would make WAIT block for ever)');
  return { options, ...(replication === undefined || replication.replicas === 0 ? {} : { replication }) };
}

/**
 * A reply that means "this server is no longer the master": after a failover the old master,
 * demoted to replica, answers writes (and scripts that write) with READONLY until the client
 * reconnects. Redis 7 prefixes it, in a script, with the script's error text.
 */
function isReadOnlyError(err: Error): boolean {
  return err.message.includes('READONLY');
}

/**
 * Whether `err` is ioredis saying that Redis could not answer, not that it refused the command:
 * the connection closed under a command in flight (`AbortError`, "Command aborted due to connection
 * close"; a SENTINEL FAILOVER drops the old master's clients), the retries per request ran out
 * (`MaxRetriesPerRequestError`), the connection is closed ("Connection is closed."), or a server in
 * transition answered (READONLY: a demoted master; LOADING; MASTERDOWN: a replica without its
 * master). Such a command may or may not have run: an HTTP API answers 503 REDIS_UNAVAILABLE,
 * which clients retry (bench/faults sentinel-failover, seed 405: two 500s on a closed EVALSHA).
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'AbortError' || err.name === 'MaxRetriesPerRequestError' || err.message === 'Connection is closed.') return true;
  return err.name === 'ReplyError' && /\b(READONLY|LOADING|MASTERDOWN)\b/.test(err.message);
}

/**
 * Connects to Redis — one server or a Sentinel-managed master (see redisOptions); resolves once
 * the connection is ready. A READONLY reply makes the client reconnect (to the master the
 * sentinels name now) and send the command again. Throws CONFIG_INVALID for a malformed URL,
 * REDIS_UNAVAILABLE when no server answers.
 */
export async function connectRedis(url: string, log: Logger): Promise<Redis> {
  const { url: single, options, replication } = redisOptions(url);
  const common: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: 20,
    enableAutoPipelining: true,
    // 2 = reconnect and resend the failed command (ioredis README, "Reconnect on error")
    reconnectOnError: (err) => (isReadOnlyError(err) ? 2 : false),
  };
  const redis = single === undefined ? new Redis({ ...options, ...common }) : new Redis(single, common);
  redis.on('error', (err) => log.warn({ err }, 'redis error'));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new SwarmbootError('REDIS_UNAVAILABLE', `cannot connect to Redis at ${redactUrl(url)} (SWARMBOOT_REDIS_URL)`, { cause: err });
  }
  if (replication !== undefined) replicationOf.set(redis, replication);
  log.info({ url: redactUrl(url), ...(replication === undefined ? {} : { waitReplicas: replication.replicas, waitTimeoutMs: replication.timeoutMs }) }, 'redis connected');
  return redis;
}
