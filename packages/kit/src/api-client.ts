import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  AgentReportReply,
  Deployment,
  DeploymentList,
  ImageList,
  ImageRecord,
  ImportResult,
  InstallManifest,
  LogLines,
  Node,
  NodeTimeline,
  SwarmbootError,
  isErrorCode,
  type AgentReport,
  type DeploymentInput,
  type ImageFormat,
  type NodeInput,
  type SignedImageManifest,
  type TimelineSource,
} from '@swarmboot/contracts';
import { httpRequest, type HttpAnswer } from './http-request.js';

/** A request body: JSON (serialised here), text with its type, or a stream of known length (an image upload). */
export type ApiBody = { json: unknown } | { text: string; contentType: string } | { stream: Readable; contentType: string; contentLength: number };

/**
 * The one HTTP path of swarmboot's API clients (scheduler `/v1`, seeder image API), on node:http
 * ({@link httpRequest}: not fetch, whose WebAssembly parser costs each process 130–175 CPU-ms).
 * Every failure is a SwarmbootError:
 * - no answer (refused, DNS, reset) → `API_UNREACHABLE` (an abort of `signal` rethrows the abort as it is);
 * - non-2xx → the server's `code` from its `{ code, message }` body, or `API_ERROR` when it has no
 *   code of the registry; message `METHOD URL: STATUS server message`, context `{ status, serverCode }`;
 * - a 2xx body that is not JSON or fails its contracts schema → `API_RESPONSE_INVALID` naming the
 *   JSON path that failed.
 *
 * With `token`, every request carries `Authorization: Bearer <token>` (RFC 6750 §2.1); a 401 is
 * then `UNAUTHENTICATED`, a 403 `INSUFFICIENT_SCOPE`, the servers' codes.
 */
export class ApiTransport {
  private readonly signal: AbortSignal | undefined;
  private readonly token: string | undefined;
  constructor(opts: ApiClientOptions = {}) {
    this.signal = opts.signal;
    this.token = opts.token;
  }

  /** `method url` with `body`; resolves with the JSON answer checked against `schema`. */
  async json<S extends TSchema>(schema: S, method: string, url: string, body?: ApiBody): Promise<Static<S>> {
    const text = (await this.send(method, url, body)).body.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new SwarmbootError('API_RESPONSE_INVALID', `${method} ${url}: answer is not JSON: ${text.slice(0, 200)}`, { cause: err });
    }
    if (!Value.Check(schema, value)) {
      const first = Value.Errors(schema, value).First();
      throw new SwarmbootError('API_RESPONSE_INVALID', `${method} ${url}: answer does not match its schema at ${first?.path || '/'}: ${first?.message ?? 'invalid'}`, {
        context: { path: first?.path ?? '' },
      });
    }
    return value;
  }

  /** GET `url` as bytes (a .torrent, a file). */
  async bytes(url: string): Promise<Buffer> {
    return (await this.send('GET', url)).body;
  }

  private async send(method: string, url: string, body?: ApiBody): Promise<HttpAnswer> {
    const headers: Record<string, string> = this.token === undefined ? {} : { authorization: `Bearer ${this.token}` };
    let payload: string | Readable | undefined;
    if (body !== undefined) {
      if ('json' in body) {
        payload = JSON.stringify(body.json);
        headers['content-type'] = 'application/json';
      } else if ('text' in body) {
        payload = body.text;
        headers['content-type'] = body.contentType;
      } else {
        // content-length lets the server refuse early
        payload = body.stream;
        headers['content-type'] = body.contentType;
        headers['content-length'] = String(body.contentLength);
      }
    }
    let res: HttpAnswer;
    try {
      res = await httpRequest(method, url, { headers, body: payload, signal: this.signal });
    } catch (err) {
      if (this.signal?.aborted === true) throw err;
      throw new SwarmbootError('API_UNREACHABLE', `${method} ${url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (res.ok) return res;
    const text = res.body.toString('utf8');
    let serverCode: unknown;
    let message = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
      serverCode = parsed.code;
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      /* not JSON: the text is the message */
    }
    throw new SwarmbootError(isErrorCode(serverCode) ? serverCode : 'API_ERROR', `${method} ${url}: ${res.status} ${message}`, {
      context: { status: res.status, ...(serverCode === undefined ? {} : { serverCode }) },
    });
  }
}

/** How a client calls: `signal` aborts its requests; `token` is the bearer token it sends (SWARMBOOT_TOKEN in the CLI). */
export interface ApiClientOptions {
  signal?: AbortSignal | undefined;
  token?: string | undefined;
}

/**
 * The operator's side of the public APIs (scheduler `/v1` at `apiUrl`, seeder image upload at
 * `seederUrl`), as a ticketing system would call them, with the token of `opts` on every request.
 * Errors: see ApiTransport.
 */
export class SwarmbootClient {
  private readonly http: ApiTransport;
  constructor(
    readonly apiUrl: string,
    readonly seederUrl: string,
    opts: ApiClientOptions = {},
  ) {
    this.http = new ApiTransport(opts);
  }

  /**
   * Streams the image file `file` to the seeder (PUT /v1/images/:name); resolves with the catalog
   * record. Without `format` the seeder reads it from the bytes; `bootable` (default false) lets
   * real nodes get it.
   */
  async addImage(file: string, name: string, traits: { format?: ImageFormat; bootable?: boolean } = {}): Promise<ImageRecord> {
    const size = (await stat(file)).size;
    const stream = createReadStream(file);
    const q = new URLSearchParams({ file: basename(file) });
    if (traits.format !== undefined) q.set('format', traits.format);
    if (traits.bootable !== undefined) q.set('bootable', String(traits.bootable));
    const url = `${this.seederUrl}/v1/images/${encodeURIComponent(name)}?${q.toString()}`;
    return this.http.json(ImageRecord, 'PUT', url, { stream, contentType: 'application/octet-stream', contentLength: size });
  }
  /**
   * Attaches a signed manifest to image `name` (seeder PUT /v1/images/:name/manifest); resolves
   * with the record carrying it. 404 IMAGE_NOT_FOUND, 422 IMAGE_MANIFEST_MISMATCH (it does not
   * describe the catalog's version), 409 CONFLICT (the image was replaced meanwhile).
   */
  signImage(name: string, manifest: SignedImageManifest): Promise<ImageRecord> {
    return this.http.json(ImageRecord, 'PUT', `${this.seederUrl}/v1/images/${encodeURIComponent(name)}/manifest`, { json: manifest });
  }
  /** One image's catalog record (seeder GET /v1/images/:name); 404 IMAGE_NOT_FOUND. */
  image(name: string): Promise<ImageRecord> {
    return this.http.json(ImageRecord, 'GET', `${this.seederUrl}/v1/images/${encodeURIComponent(name)}`);
  }
  images(): Promise<ImageList> {
    return this.http.json(ImageList, 'GET', `${this.apiUrl}/v1/images`);
  }
  importNodes(nodes: NodeInput[]): Promise<ImportResult> {
    return this.http.json(ImportResult, 'POST', `${this.apiUrl}/v1/nodes/import`, { json: { nodes } });
  }
  /** CSV with header `id,mac,hostname[,labels]` (labels `k=v;k=v`) */
  importNodesCsv(csv: string): Promise<ImportResult> {
    return this.http.json(ImportResult, 'POST', `${this.apiUrl}/v1/nodes/import`, { text: csv, contentType: 'text/csv' });
  }
  deploy(input: DeploymentInput): Promise<Deployment> {
    return this.http.json(Deployment, 'POST', `${this.apiUrl}/v1/deployments`, { json: input });
  }
  deployment(id: string): Promise<Deployment> {
    return this.http.json(Deployment, 'GET', `${this.apiUrl}/v1/deployments/${encodeURIComponent(id)}`);
  }
  /**
   * A page of the deployments, newest first, without their nodes: at most `limit` (the server's
   * default 50, at most 1000) after `cursor` (the `nextCursor` of the previous page).
   */
  deployments(page: { limit?: number; cursor?: string } = {}): Promise<DeploymentList> {
    const q = new URLSearchParams();
    if (page.limit !== undefined) q.set('limit', String(page.limit));
    if (page.cursor !== undefined) q.set('cursor', page.cursor);
    return this.http.json(DeploymentList, 'GET', `${this.apiUrl}/v1/deployments${q.size > 0 ? `?${q.toString()}` : ''}`);
  }
  /**
   * POST /v1/deployments/:id/<action>: `release` (installed nodes stop seeding and boot their
   * disk), `resume` (a paused deployment admits again, its failure budget afresh), `cancel`
   * (queued nodes back to registered, active ones failed with CANCELLED). Resolves with the
   * deployment after it; errors as ApiTransport (404, 409 DEPLOYMENT_FINISHED, …).
   */
  deploymentAction(id: string, action: 'release' | 'resume' | 'cancel'): Promise<Deployment> {
    return this.http.json(Deployment, 'POST', `${this.apiUrl}/v1/deployments/${encodeURIComponent(id)}/${action}`, { json: {} });
  }
  release(id: string): Promise<Deployment> {
    return this.deploymentAction(id, 'release');
  }
  node(id: string): Promise<Node> {
    return this.http.json(Node, 'GET', `${this.apiUrl}/v1/nodes/${encodeURIComponent(id)}`);
  }
  /** at most `limit` lines after stream id `after` (exclusive), oldest first */
  logs(id: string, after?: string, limit = 1000): Promise<LogLines> {
    const q = new URLSearchParams({ limit: String(limit), ...(after ? { after } : {}) });
    return this.http.json(LogLines, 'GET', `${this.apiUrl}/v1/nodes/${encodeURIComponent(id)}/logs?${q.toString()}`);
  }
  /** The node's flight recorder: the newest `limit` entries (server default 1000) of `sources` (default all) at or after `since` (ISO 8601), oldest first. */
  timeline(id: string, q: { limit?: number; since?: string; sources?: readonly TimelineSource[] } = {}): Promise<NodeTimeline> {
    const p = new URLSearchParams();
    if (q.limit !== undefined) p.set('limit', String(q.limit));
    if (q.since !== undefined) p.set('since', q.since);
    if (q.sources !== undefined && q.sources.length > 0) p.set('sources', q.sources.join(','));
    return this.http.json(NodeTimeline, 'GET', `${this.apiUrl}/v1/nodes/${encodeURIComponent(id)}/timeline${p.size > 0 ? `?${p.toString()}` : ''}`);
  }
}

/**
 * Delays (ms) before the 2nd, 3rd, … attempt of an agent call that got no answer: 15.75 s in all.
 * bench/faults (issue 15) killed one of two scheduler replicas under 20 emulated nodes: a report
 * in flight on a keep-alive connection to the dead replica failed with "other side closed" and
 * the node was failed although the other replica answered a moment later. Long enough for a
 * load balancer to route around a dead backend or for a replica to restart; short against an
 * install's minutes. The last delay (8 s) covers a Redis Sentinel failover with `waitReplicas=1`
 * and one replica: bench/faults `sentinel` (master kill -9) measured 2.6 s until the sentinels
 * named the new master, then 6.2 s until the restarted old master was its replica in sync —
 * about 9 s of 503 REDIS_NOT_REPLICATED, more than the 7.75 s the first five delays give.
 */
export const AGENT_RETRY_DELAYS_MS: readonly number[] = Object.freeze([250, 500, 1000, 2000, 4000, 8000]);

/**
 * Whether an agent call may be sent again: no answer at all (API_UNREACHABLE: refused, reset,
 * closed mid-request), a gateway's 502/504 (the load balancer in front of the replicas had no
 * live one), or any 503 — a gateway's, or the scheduler's own with its code (REDIS_UNAVAILABLE,
 * REDIS_NOT_REPLICATED during a Sentinel failover, NATS_UNAVAILABLE): 503 is the status of a
 * temporary condition (RFC 9110 §15.6.4). Not the scheduler's other 4xx/5xx: that is its answer.
 */
export function isTransientApiError(err: unknown): boolean {
  if (!(err instanceof SwarmbootError)) return false;
  if (err.code === 'API_UNREACHABLE') return true;
  const status = err.context['status'];
  if (status === 503) return true;
  return err.code === 'API_ERROR' && (status === 502 || status === 504);
}

/**
 * The node's side of the scheduler API (`/v1/nodes/:id/…`) for the agent, in both modes, bound
 * to one node and deployment. `api` is the scheduler's base URL without a trailing slash.
 * A call that fails transiently (isTransientApiError) is sent again after each of `retryDelaysMs`
 * (default AGENT_RETRY_DELAYS_MS): every call is safe to repeat — the GETs, and the reports, which
 * the scheduler answers with the node's state when the node is already at or past their stage.
 * Errors: see ApiTransport; the last attempt's error once the delays are used up.
 */
export class AgentApiClient {
  private readonly http: ApiTransport;
  constructor(
    private readonly api: string,
    readonly nodeId: string,
    readonly deploymentId: string,
    private readonly signal?: AbortSignal,
    private readonly retryDelaysMs: readonly number[] = AGENT_RETRY_DELAYS_MS,
  ) {
    this.http = new ApiTransport({ signal });
  }

  report(r: Omit<AgentReport, 'deploymentId'>): Promise<AgentReportReply> {
    return this.retrying(() => this.http.json(AgentReportReply, 'POST', `${this.api}/v1/nodes/${this.nodeId}/report`, { json: { deploymentId: this.deploymentId, ...r } }));
  }
  manifest(): Promise<InstallManifest> {
    return this.retrying(() => this.http.json(InstallManifest, 'GET', `${this.api}/v1/nodes/${this.nodeId}/install`));
  }
  node(): Promise<Node> {
    return this.retrying(() => this.http.json(Node, 'GET', `${this.api}/v1/nodes/${this.nodeId}`));
  }
  /** any URL the manifest names (the image's .torrent) */
  getBytes(url: string): Promise<Buffer> {
    return this.retrying(() => this.http.bytes(url));
  }

  private async retrying<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        const delay = this.retryDelaysMs[attempt];
        if (delay === undefined || this.signal?.aborted === true || !isTransientApiError(err)) throw err;
        await sleep(delay, undefined, { signal: this.signal });
      }
    }
  }
}
