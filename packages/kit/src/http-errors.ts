import type { FastifyError, FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';
import { httpStatusOf, isSwarmbootError, type ErrorCode } from '@swarmboot/contracts';
import { isRedisUnavailable } from './connections.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** errors of this route are `text/plain` (`CODE: message`), for clients that are not JSON clients (iPXE) */
    textErrors?: boolean;
  }
}

/**
 * fastify's own 4xx errors (bad JSON, body too large, wrong content-type, …) in the registry's
 * vocabulary; other 4xx are BAD_REQUEST with fastify's status. A framework code (`FST_ERR_*`)
 * never reaches a client: it is fastify's internals, not our API.
 */
const FASTIFY_STATUS_CODES: Readonly<Record<number, ErrorCode>> = { 400: 'VALIDATION', 404: 'NOT_FOUND', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' };

/** What an error becomes on the wire: status, registry code, message for the client. */
function httpErrorOf(err: FastifyError | Error): { status: number; code: ErrorCode; message: string } {
  if (isSwarmbootError(err)) return { status: httpStatusOf(err.code), code: err.code, message: err.message };
  if (isRedisUnavailable(err)) return { status: httpStatusOf('REDIS_UNAVAILABLE'), code: 'REDIS_UNAVAILABLE', message: `Redis did not answer (${err.message}); try again` };
  const fe = err as Partial<FastifyError>;
  if (fe.validation) return { status: 400, code: 'VALIDATION', message: err.message };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, code: FASTIFY_STATUS_CODES[fe.statusCode] ?? 'BAD_REQUEST', message: err.message };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error; see the server log' };
}

/**
 * The error vocabulary of every swarmboot HTTP API, as one fastify plugin (register it before the
 * routes; it is not encapsulated, so it applies to the whole instance):
 *
 * - SwarmbootError → its registry status (`ErrorCodes[code].status`) and `{ code, message }`;
 * - ioredis errors that mean Redis did not answer (`isRedisUnavailable`: connection closed under
 *   the command, a failover under way) → 503 `REDIS_UNAVAILABLE`, which clients retry;
 * - fastify validation errors → 400 `VALIDATION`;
 * - other fastify 4xx (`FST_ERR_*`) → 404 `NOT_FOUND`, 413 `PAYLOAD_TOO_LARGE`, 415
 *   `UNSUPPORTED_MEDIA_TYPE`, else `BAD_REQUEST` with fastify's status — never a framework code;
 * - anything else → 500 `INTERNAL` with a generic message.
 *
 * Answers of 500 and above are logged at error (with the error), the rest at debug. Routes with
 * `config: { textErrors: true }` get `text/plain` `CODE: message\n` instead of JSON. Unknown
 * routes are 404 `{ code: 'NOT_FOUND', message: 'no route GET /x' }`.
 */
export const httpErrors: FastifyPluginCallback = fp(
  (app, _opts, done) => {
    app.setErrorHandler((err: FastifyError, req, reply) => {
      const { status, code, message } = httpErrorOf(err);
      if (status >= 500) req.log.error({ err, method: req.method, url: req.url }, 'request failed');
      else req.log.debug({ code, method: req.method, url: req.url }, message);
      if (req.routeOptions.config.textErrors === true) return reply.code(status).type('text/plain; charset=utf-8').send(`${code}: ${message}\n`);
      return reply.code(status).send({ code, message });
    });
    app.setNotFoundHandler((req, reply) => reply.code(404).send({ code: 'NOT_FOUND' satisfies ErrorCode, message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` }));
    done();
  },
  { name: 'swarmboot-http-errors', fastify: '5.x' },
);
