import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { Counter, Gauge } from 'prom-client';
import { Events } from '@swarmboot/contracts';
import type { EventBus, Registry } from '@swarmboot/kit';
import type { Inventory } from '../inventory.js';
import { NodeIdParams, errors } from './schemas.js';

/*
 * Server-sent events (WHATWG HTML §9.2, "Server-sent events") for the dashboard and anyone with
 * curl: a node's log lines as they arrive, and the fleet's state changes and named failures.
 * Both are fed from NATS; the log stream only takes NATS as its wake-up and reads the lines from
 * the log sink's Redis stream, so each event carries the stream id as its SSE `id` and a
 * reconnect resumes exactly after it (`Last-Event-ID`).
 */

/** Comment line sent while nothing happens, so proxies and browsers keep the connection (s). */
const HEARTBEAT_MS = 15_000;
/**
 * What may wait in one connection's socket buffer (bytes). Log streams stop reading Redis at
 * this mark until the client drains it; the events stream, which cannot pause NATS, closes the
 * connection instead (the browser reconnects and reloads its snapshot). 256 KiB holds about
 * 1000 state events, a few seconds of a 1000-node deployment's busiest moment.
 */
const MAX_BUFFERED_BYTES = 256 * 1024;
/** Lines read from Redis per XRANGE while catching up (the log route's own default is 500). */
const READ_CHUNK = 500;

/**
 * `?access_token=` (RFC 6750 §2.3): a browser's EventSource cannot set an Authorization header,
 * so the stream routes, and only they, take the bearer token in the query. It is copied into the
 * Authorization header before anything checks it.
 */
const AccessToken = Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'bearer token, for clients that cannot set an Authorization header (RFC 6750 §2.3)' }));

export const LogStreamQuery = Type.Object({
  after: Type.Optional(Type.String({ pattern: '^\\d+(-\\d+)?$', description: 'stream id of the last line already read (exclusive); default: from the first line kept. A Last-Event-ID header wins' })),
  access_token: AccessToken,
});
export type LogStreamQuery = Static<typeof LogStreamQuery>;

export const EventStreamQuery = Type.Object({
  deployment: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$', description: "only this deployment's events" })),
  access_token: AccessToken,
});
export type EventStreamQuery = Static<typeof EventStreamQuery>;

const STREAM_ID = /^\d+(-\d+)?$/;

export interface StreamDeps {
  bus: EventBus;
  inventory: Pick<Inventory, 'getNode' | 'logs'>;
  registry: Registry;
}

/** One open SSE connection: the raw response, and what ends it. */
interface SseConnection {
  res: ServerResponse;
  /** aborted when the client goes, the server shuts down, or the buffer overflows */
  closed: AbortSignal;
  /** writes one event; false when the connection is closed */
  send: (event: string, data: unknown, id?: string) => boolean;
  close: () => void;
}

/**
 * `GET /v1/nodes/:id/logs/stream` and `GET /v1/events/stream` (text/event-stream). Connections
 * are counted (`swarmboot_scheduler_sse_connections{stream}`) and all closed when the app closes
 * (preClose, so `close()` does not wait for clients that never hang up).
 */
export function streamRoutes(app: FastifyInstance, deps: StreamDeps): void {
  const open = new Set<SseConnection>();
  const registers = [deps.registry];
  const connections = new Gauge({ name: 'swarmboot_scheduler_sse_connections', help: 'open server-sent-event connections by stream (logs, events)', labelNames: ['stream'], registers });
  const overflows = new Counter({ name: 'swarmboot_scheduler_sse_overflows_total', help: 'events-stream connections closed because the client read slower than events came (more than 256 KiB waiting)', registers });

  app.addHook('preClose', async () => {
    for (const c of open) c.close();
  });

  /** Takes the response over from fastify and writes the SSE preamble (§9.2.5 `retry`). */
  function start(req: FastifyRequest, reply: FastifyReply, stream: 'logs' | 'events'): SseConnection {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    const ac = new AbortController();
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    const c: SseConnection = {
      res,
      closed: ac.signal,
      send: (event, data, id) => {
        if (ac.signal.aborted) return false;
        // JSON has no raw newlines, so one `data:` line carries it (§9.2.6)
        res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        return true;
      },
      close: () => {
        if (ac.signal.aborted) return;
        ac.abort();
        clearInterval(heartbeat);
        open.delete(c);
        connections.dec({ stream });
        res.end();
      },
    };
    open.add(c);
    connections.inc({ stream });
    req.raw.once('close', c.close);
    res.once('error', c.close);
    return c;
  }

  app.get<{ Params: NodeIdParams; Querystring: LogStreamQuery }>(
    '/v1/nodes/:id/logs/stream',
    {
      onRequest: bearerFromQuery,
      config: { scope: 'read' },
      schema: {
        tags: ['nodes'],
        summary: "A node's log lines as server-sent events (`event: line`, `id`: the stream id, `data`: {id, line}), the kept ones after `after` (or Last-Event-ID) first, then each as it arrives",
        params: NodeIdParams,
        querystring: LogStreamQuery,
        produces: ['text/event-stream'],
        response: { ...errors(400, 404) },
      },
    },
    async (req, reply) => {
      const nodeId = req.params.id;
      await deps.inventory.getNode(nodeId); // 404 NODE_NOT_FOUND before the stream starts
      const lastEventId = req.headers['last-event-id'];
      let after = typeof lastEventId === 'string' && STREAM_ID.test(lastEventId) ? lastEventId : req.query.after;
      const c = start(req, reply, 'logs');
      // Reads run one at a time; a line published meanwhile asks for one more read.
      let wanted = true;
      let reading = false;
      const pump = async (): Promise<void> => {
        if (reading) return;
        reading = true;
        try {
          while (wanted && !c.closed.aborted) {
            wanted = false;
            for (;;) {
              const { lines } = await deps.inventory.logs(nodeId, READ_CHUNK, after);
              for (const l of lines) c.send('line', l, l.id);
              after = lines.at(-1)?.id ?? after;
              if (c.res.writableLength > MAX_BUFFERED_BYTES) await once(c.res, 'drain', { signal: c.closed }).catch(() => undefined);
              if (lines.length < READ_CHUNK || c.closed.aborted) break;
            }
          }
        } catch (err) {
          req.log.warn({ err, nodeId }, 'log stream read failed; closing it');
          c.close();
        } finally {
          reading = false;
        }
      };
      // subscribe before the first read, so a line stored between the two is not missed
      const unsubscribe = deps.bus.subscribe(
        Events.logLines,
        () => {
          wanted = true;
          void pump();
        },
        nodeId,
      );
      c.closed.addEventListener('abort', unsubscribe, { once: true });
      await pump();
      // the kept lines are sent: what follows is live (the dashboard marks lines after this)
      c.send('ready', { after: after ?? null });
    },
  );

  app.get<{ Querystring: EventStreamQuery }>(
    '/v1/events/stream',
    {
      onRequest: bearerFromQuery,
      config: { scope: 'read' },
      schema: {
        tags: ['nodes', 'deployments'],
        summary:
          "Node state changes (`event: state`, data NodeStateChanged), named failures (`event: failure`, NodeFailureClassified), finished deployments (`event: job`, JobCompleted) and power actions on nodes' BMCs (`event: power`, data PowerRequested, PowerCompleted or PowerFailed with `outcome` requested, completed or failed; with `deployment`, those of nodes that belong to it now) as server-sent events, from now on (no replay: read the snapshot from the REST API on each connect)",
        querystring: EventStreamQuery,
        produces: ['text/event-stream'],
        response: { ...errors(400) },
      },
    },
    async (req, reply) => {
      const only = req.query.deployment;
      const c = start(req, reply, 'events');
      const forward = (event: string) => (data: Readonly<Record<string, unknown>> & { deploymentId?: string | undefined }) => {
        if (only !== undefined && data.deploymentId !== only) return;
        c.send(event, data);
        if (c.res.writableLength > MAX_BUFFERED_BYTES) {
          overflows.inc();
          c.close();
        }
      };
      // power events name the node, not its deployment: with a filter, the node's deployment now
      const power = (outcome: 'requested' | 'completed' | 'failed') => (data: { nodeId: string }) => {
        const event = { outcome, ...data };
        if (only === undefined) return forward('power')(event);
        void deps.inventory.getNode(data.nodeId).then(
          (n) => forward('power')({ ...event, deploymentId: n.deploymentId }),
          () => undefined, // a node not (or no longer) in the inventory belongs to no deployment
        );
      };
      const stops = [
        deps.bus.subscribe(Events.nodeStateChanged, forward('state')),
        deps.bus.subscribe(Events.nodeFailureClassified, forward('failure')),
        deps.bus.subscribe(Events.jobCompleted, forward('job')),
        deps.bus.subscribe(Events.powerRequested, power('requested')),
        deps.bus.subscribe(Events.powerCompleted, power('completed')),
        deps.bus.subscribe(Events.powerFailed, power('failed')),
      ];
      c.closed.addEventListener('abort', () => stops.forEach((s) => s()), { once: true });
      c.send('ready', {});
    },
  );
}

/**
 * RFC 6750 §2.3: `?access_token=` becomes `Authorization: Bearer …` unless the request has one
 * (§2: one method per request), and leaves the request's URL, so the request log line, which
 * prints the URL, does not carry the token (§2.3's caveat about URLs in logs).
 */
async function bearerFromQuery(req: FastifyRequest): Promise<void> {
  const [path, query] = (req.raw.url ?? '').split('?', 2);
  if (query === undefined) return;
  const params = new URLSearchParams(query);
  const token = params.get('access_token');
  if (token === null) return;
  if (token !== '' && req.headers.authorization === undefined) req.headers.authorization = `Bearer ${token}`;
  params.delete('access_token');
  const rest = params.toString();
  req.raw.url = rest === '' ? path : `${path}?${rest}`;
}
