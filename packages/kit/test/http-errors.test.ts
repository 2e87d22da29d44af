import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { Type } from '@sinclair/typebox';
import { SwarmbootError } from '@swarmboot/contracts';
import { Redis } from 'ioredis';
import { startRedis } from '@swarmboot/testkit';
import { httpErrors } from '../src/index.js';

/** An app with the plugin and one route per kind of failure. */
async function appWithErrors(): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: 64 });
  await app.register(httpErrors);
  await app.register(async (api) => {
    api.get('/busy', async () => {
      throw new SwarmbootError('NODE_BUSY', 'node n1 is installing');
    });
    api.get('/storage', async () => {
      throw new SwarmbootError('STORAGE_FULL', 'no space left');
    });
    api.get('/boom', async () => {
      throw new Error('secret detail of a bug');
    });
    api.get('/text', { config: { textErrors: true } }, async () => {
      throw new SwarmbootError('NODE_NOT_FOUND', 'no node has MAC aa:bb:cc:dd:ee:ff');
    });
    api.post('/typed', { schema: { body: Type.Object({ n: Type.Integer() }, { additionalProperties: false }) } }, async () => ({ ok: true }));
  });
  return app;
}

test('SwarmbootError: the registry status and { code, message }', async () => {
  const app = await appWithErrors();
  const busy = await app.inject({ method: 'GET', url: '/busy' });
  assert.deepEqual([busy.statusCode, busy.json()], [409, { code: 'NODE_BUSY', message: 'node n1 is installing' }]);
  const storage = await app.inject({ method: 'GET', url: '/storage' });
  assert.deepEqual([storage.statusCode, storage.json<{ code: string }>().code], [507, 'STORAGE_FULL']);
  await app.close();
});

test('schema validation: 400 VALIDATION', async () => {
  const app = await appWithErrors();
  const res = await app.inject({ method: 'POST', url: '/typed', payload: { n: 'x' } });
  assert.equal(res.statusCode, 400);
  assert.equal(res.json<{ code: string }>().code, 'VALIDATION');
  assert.match(res.json<{ message: string }>().message, /n/);
  await app.close();
});

test('framework errors answer with a registry code, never FST_*', async () => {
  const app = await appWithErrors();
  const cases: { name: string; req: InjectOptions; status: number; code: string }[] = [
    { name: 'bad JSON', req: { method: 'POST', url: '/typed', payload: '{"n":', headers: { 'content-type': 'application/json' } }, status: 400, code: 'VALIDATION' },
    { name: 'empty JSON body', req: { method: 'POST', url: '/typed', payload: '', headers: { 'content-type': 'application/json' } }, status: 400, code: 'VALIDATION' },
    { name: 'body over the limit', req: { method: 'POST', url: '/typed', payload: { n: 1, pad: 'x'.repeat(200) } }, status: 413, code: 'PAYLOAD_TOO_LARGE' },
    { name: 'unknown content-type', req: { method: 'POST', url: '/typed', payload: '<n/>', headers: { 'content-type': 'application/xml' } }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'unknown route', req: { method: 'GET', url: '/nowhere?x=1' }, status: 404, code: 'NOT_FOUND' },
  ];
  for (const c of cases) {
    const res = await app.inject(c.req);
    assert.doesNotMatch(res.body, /FST_/, c.name);
    assert.deepEqual([res.statusCode, res.json<{ code: string }>().code], [c.status, c.code], c.name);
  }
  const missing = await app.inject({ method: 'GET', url: '/nowhere?x=1' });
  assert.equal(missing.json<{ message: string }>().message, 'no route GET /nowhere');
  await app.close();
});

test('any other error: 500 INTERNAL, its message not leaked', async () => {
  const app = await appWithErrors();
  const res = await app.inject({ method: 'GET', url: '/boom' });
  assert.equal(res.statusCode, 500);
  assert.equal(res.json<{ code: string }>().code, 'INTERNAL');
  assert.doesNotMatch(res.body, /secret detail/);
  await app.close();
});

test('textErrors routes answer text/plain `CODE: message`', async () => {
  const app = await appWithErrors();
  const res = await app.inject({ method: 'GET', url: '/text' });
  assert.equal(res.statusCode, 404);
  assert.match(String(res.headers['content-type']), /^text\/plain/);
  assert.equal(res.body, 'NODE_NOT_FOUND: no node has MAC aa:bb:cc:dd:ee:ff\n');
  await app.close();
});

/**
 * Redis that could not answer, from real servers: a write to a replica (READONLY, what a demoted
 * master answers during a Sentinel failover) and a command to a server that went away (ioredis
 * gives up: MaxRetriesPerRequestError) — 503 REDIS_UNAVAILABLE, which clients retry, not a 500.
 * A Redis error that is an answer (a wrong type) stays a 500.
 */
test('Redis that cannot answer: 503 REDIS_UNAVAILABLE; a Redis error that is an answer: 500', async (t) => {
  const [primary, replica, gone] = await Promise.all([startRedis(), startRedis(), startRedis()]);
  const clients = [primary, replica, gone].map((s) => new Redis(s.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 }));
  for (const c of clients) c.on('error', () => undefined); // the stopped server's reconnects
  const [toPrimary, toReplica, toGone] = clients as [Redis, Redis, Redis];
  t.after(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([primary, replica, gone].map((s) => s.stop()));
  });
  await toReplica.call('replicaof', '127.0.0.1', new URL(primary.url).port);
  await toGone.ping();
  await gone.stop();
  await toPrimary.set('a-string', 'x');
  const app = Fastify();
  await app.register(httpErrors);
  app.get('/replica', async () => toReplica.set('k', 'v'));
  app.get('/gone', async () => toGone.get('k'));
  app.get('/wrongtype', async () => toPrimary.lpush('a-string', 'y'));
  for (const url of ['/replica', '/gone']) {
    const res = await app.inject({ method: 'GET', url });
    assert.deepEqual([res.statusCode, res.json<{ code: string }>().code], [503, 'REDIS_UNAVAILABLE'], url);
  }
  const wrong = await app.inject({ method: 'GET', url: '/wrongtype' });
  assert.deepEqual([wrong.statusCode, wrong.json<{ code: string }>().code], [500, 'INTERNAL']);
  await app.close();
});
