import { Type, type Static } from '@sinclair/typebox';
import { ApiError, TimelineSource } from '@swarmboot/contracts';

/*
 * Route schemas the contracts do not have (params, query strings, a few replies). The shapes of
 * bodies and replies shared with the CLI and the agent stay in `@swarmboot/contracts` (api.ts).
 */

export const NodeIdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$', description: 'node id' }) });
export type NodeIdParams = Static<typeof NodeIdParams>;

export const DeploymentIdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$', description: 'deployment id' }) });
export type DeploymentIdParams = Static<typeof DeploymentIdParams>;

export const MacParams = Type.Object({ mac: Type.String({ maxLength: 64, description: 'MAC, `aa:bb:cc:dd:ee:ff` or `aa-bb-…` (iPXE `${net0/mac}`)' }) });
export type MacParams = Static<typeof MacParams>;

/**
 * The query of a paged list: `limit` entries at most (default `defaultLimit`, at most 1000; a bad
 * value is 400 VALIDATION) after `cursor`, the `nextCursor` of the previous page (400 CURSOR_INVALID).
 */
function pageQuery(defaultLimit: number) {
  return Type.Object({
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: defaultLimit, description: `entries per page, 1 to 1000 (default ${defaultLimit})` }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'nextCursor of the previous page' })),
  });
}

/** GET /v1/nodes: 1000 by default, so lists up to that size come whole as before pages existed (they had no limit). */
export const NodeListQuery = pageQuery(1000);
export type NodeListQuery = Static<typeof NodeListQuery>;

/** GET /v1/deployments: 50 by default, as before pages existed. */
export const DeploymentListQuery = pageQuery(50);
export type DeploymentListQuery = Static<typeof DeploymentListQuery>;

export const LogsQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 10000, default: 500 }),
  after: Type.Optional(Type.String({ pattern: '^\\d+(-\\d+)?$', description: 'stream id of the last line already read (exclusive)' })),
});
export type LogsQuery = Static<typeof LogsQuery>;

const SOURCE = `(${Object.values(TimelineSource).join('|')})`;

/** GET /v1/nodes/:id/timeline */
export const TimelineQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 10000, default: 1000, description: 'the newest this many entries' }),
  since: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T', maxLength: 40, description: 'ISO 8601 time: entries at or after it only' })),
  sources: Type.Optional(Type.String({ pattern: `^${SOURCE}(,${SOURCE})*$`, description: `comma-separated sources to include, of ${Object.values(TimelineSource).join(', ')} (default all)` })),
});
export type TimelineQuery = Static<typeof TimelineQuery>;

/** Error replies of a route, for the OpenAPI document. */
export function errors(...statuses: number[]): Record<number, typeof ApiError> {
  return Object.fromEntries(statuses.map((s) => [s, ApiError]));
}
