import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AgentReport, AgentReportReply, ImportResult, InstallManifest, LogLines, Node, NodeImport, NodeInput, NodeList, NodePatch, NodeTimeline, SwarmbootError, type TimelineSource } from '@swarmboot/contracts';
import type { Scheduler } from '../scheduler.js';
import type { NodeUpdates } from '../node-updates.js';
import { parseNodeCsv } from '../protocol/node-csv.js';
import { LogsQuery, NodeIdParams, NodeListQuery, TimelineQuery, errors } from './schemas.js';

/** An import of 100 000 nodes as CSV is about 6 MB. */
const IMPORT_BODY_LIMIT = 32 * 1024 * 1024;

const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'the ETag of the node as last read (RFC 9110 §13.1.1): the change is made only if the node is still that one, else 412 PRECONDITION_FAILED; `*`: any existing node' })),
});
const EtagHeader = { headers: { etag: { type: 'string', description: 'the entity tag of this node record (RFC 9110 §8.8.3); send it back in If-Match' } } };

/**
 * `/v1/nodes…`: the inventory, and the agent's manifest and reports. Scopes: registration, import
 * and changes need `deploy`, reading the inventory `read`; the routes the agent calls without a
 * token (its manifest, its reports, and its own record, which it polls to see its release) are
 * public.
 */
export function nodeRoutes(app: FastifyInstance, { inventory, boot, lifecycle }: Pick<Scheduler, 'inventory' | 'boot' | 'lifecycle'>, updates: NodeUpdates): void {
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT }, (_req, body, done) => done(null, body));
  // RFC 7396 §4: the media type of a merge patch
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.post<{ Body: NodeInput }>(
    '/v1/nodes',
    { config: { idempotent: true, scope: 'deploy' }, schema: { tags: ['nodes'], summary: 'Register a node (idempotent for the same id and MAC)', body: NodeInput, response: { 200: Node, 201: Node, ...errors(400, 409) } } },
    async (req, reply) => {
      const { created, node } = await inventory.registerNode(req.body);
      return reply.code(created ? 201 : 200).send(node);
    },
  );

  app.post<{ Body: NodeImport | string }>(
    '/v1/nodes/import',
    {
      bodyLimit: IMPORT_BODY_LIMIT,
      attachValidation: true,
      config: { idempotent: true, scope: 'deploy' },
      schema: {
        tags: ['nodes'],
        summary: 'Import nodes, all or nothing: JSON NodeImport, or CSV with the header id,mac,hostname[,labels] (labels k=v;k=v)',
        body: { content: { 'application/json': { schema: NodeImport }, 'text/csv': { schema: Type.String() } } },
        response: { 200: ImportResult, ...errors(400, 409) },
      },
    },
    async (req) => {
      if (req.validationError) {
        // name the entry the way the CSV path names its line: nodes[3].mac …
        const msg = req.validationError.message.replace(/^body\/nodes\/(\d+)\/?/, (_m, i: string) => `nodes[${i}] `);
        throw new SwarmbootError('IMPORT_INVALID', msg, { cause: req.validationError });
      }
      if (typeof req.body === 'string') {
        const { nodes, lines } = parseNodeCsv(req.body);
        return inventory.importNodes(nodes, (i) => `line ${lines[i] ?? '?'}`);
      }
      return inventory.importNodes(req.body.nodes, (i) => `nodes[${i}]`);
    },
  );

  app.get<{ Querystring: NodeListQuery }>(
    '/v1/nodes',
    { config: { scope: 'read' }, schema: { tags: ['nodes'], summary: 'The nodes in registration order, a page at a time (nextCursor)', querystring: NodeListQuery, response: { 200: NodeList, ...errors(400) } } },
    async (req) => inventory.listNodes(req.query.limit, req.query.cursor),
  );

  app.get<{ Params: NodeIdParams }>(
    '/v1/nodes/:id',
    {
      // public: the agent polls its own node for its release, and holds no token (a per-deployment token could close this later)
      config: { scope: 'public' },
      schema: { tags: ['nodes'], summary: 'A node, with its ETag', params: NodeIdParams, response: { 200: { ...Node, ...EtagHeader }, ...errors(400, 404) } },
    },
    async (req, reply) => {
      const { node, etag } = await updates.get(req.params.id);
      return reply.header('etag', etag).send(node);
    },
  );

  app.patch<{ Params: NodeIdParams; Body: NodePatch; Headers: Static<typeof IfMatchHeaders> }>(
    '/v1/nodes/:id',
    {
      config: { scope: 'deploy' },
      schema: {
        tags: ['nodes'],
        summary: 'Change a node: a JSON Merge Patch (RFC 7396) of its labels (null removes a label); with If-Match only if the node is unchanged since read',
        params: NodeIdParams,
        headers: IfMatchHeaders,
        body: { content: { 'application/merge-patch+json': { schema: NodePatch }, 'application/json': { schema: NodePatch } } },
        response: { 200: { ...Node, ...EtagHeader }, ...errors(400, 404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { node, etag } = await updates.patch(req.params.id, req.body, req.headers['if-match']);
      return reply.header('etag', etag).send(node);
    },
  );

  app.get<{ Params: NodeIdParams }>(
    '/v1/nodes/:id/install',
    { config: { scope: 'public' }, schema: { tags: ['agent'], summary: 'What the agent installs (the node must be admitted)', params: NodeIdParams, response: { 200: InstallManifest, ...errors(400, 404, 409) } } },
    async (req) => boot.installManifest(req.params.id),
  );

  app.post<{ Params: NodeIdParams; Body: AgentReport }>(
    '/v1/nodes/:id/report',
    { config: { idempotent: true, scope: 'public' }, schema: { tags: ['agent'], summary: 'Agent progress: booted, downloading, verifying, installed, failed', params: NodeIdParams, body: AgentReport, response: { 200: AgentReportReply, ...errors(400, 404, 409) } } },
    async (req) => lifecycle.report(req.params.id, req.body),
  );

  app.get<{ Params: NodeIdParams; Querystring: LogsQuery }>(
    '/v1/nodes/:id/logs',
    { config: { scope: 'read' }, schema: { tags: ['nodes'], summary: 'Log lines of a node received by the log sink over UDP syslog (RFC 5424, RFC 3164), oldest first', params: NodeIdParams, querystring: LogsQuery, response: { 200: LogLines, ...errors(400, 404) } } },
    async (req) => inventory.logs(req.params.id, req.query.limit, req.query.after),
  );

  app.get<{ Params: NodeIdParams; Querystring: TimelineQuery }>(
    '/v1/nodes/:id/timeline',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['nodes'],
        summary: "A node's flight recorder: leases, boot-file transfers, state changes, swarm progress, failures and log lines in time order (the newest `limit`, oldest first)",
        params: NodeIdParams,
        querystring: TimelineQuery,
        response: { 200: NodeTimeline, ...errors(400, 404) },
      },
    },
    async (req) => {
      const { limit, since, sources } = req.query;
      const sinceMs = since === undefined ? undefined : Date.parse(since);
      if (sinceMs !== undefined && Number.isNaN(sinceMs)) throw new SwarmbootError('VALIDATION', `querystring/since ${since} is not an ISO 8601 time`);
      return inventory.timeline(req.params.id, { limit, sinceMs, sources: sources?.split(',') as TimelineSource[] | undefined });
    },
  );
}
