import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startScheduler } from './harness.js';

interface Answer {
  status: number;
  etag: string | undefined;
  body: { code?: string; labels?: Record<string, string> };
}

test('ETag and If-Match on PATCH /v1/nodes/:id (RFC 9110 §8.8.3, §13.1.1), against real Redis', async (t) => {
  const { app } = await startScheduler(t, {});
  const send = async (method: 'GET' | 'PATCH', url: string, body?: object, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await app.inject({ method, url, ...(body === undefined ? {} : { payload: body }), headers });
    const etag = res.headers.etag;
    return { status: res.statusCode, etag: typeof etag === 'string' ? etag : undefined, body: res.json() };
  };
  assert.equal((await app.inject({ method: 'POST', url: '/v1/nodes', payload: { id: 'e1', mac: '52:54:00:dd:00:01', labels: { rack: 'r1', old: 'x' } } })).statusCode, 201);

  const read = await send('GET', '/v1/nodes/e1');
  assert.equal(read.status, 200);
  assert.match(read.etag ?? '', /^"[0-9a-f]{40}"$/);
  assert.equal((await send('GET', '/v1/nodes/e1')).etag, read.etag, 'an unchanged node keeps its tag');

  await t.test('If-Match with the current tag: the merge patch applies and a new tag comes back', async () => {
    const r = await send('PATCH', '/v1/nodes/e1', { labels: { rack: 'r2', old: null, role: 'db' } }, { 'if-match': read.etag ?? '', 'content-type': 'application/merge-patch+json' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.labels, { rack: 'r2', role: 'db' });
    assert.notEqual(r.etag, read.etag);
    const again = await send('GET', '/v1/nodes/e1');
    assert.deepEqual([again.etag, again.body.labels], [r.etag, { rack: 'r2', role: 'db' }], 'GET shows the stored change and its tag');
  });

  await t.test('a stale If-Match is 412 PRECONDITION_FAILED and changes nothing', async () => {
    const before = await send('GET', '/v1/nodes/e1');
    const r = await send('PATCH', '/v1/nodes/e1', { labels: { rack: 'r9' } }, { 'if-match': read.etag ?? '' });
    assert.deepEqual([r.status, r.body.code], [412, 'PRECONDITION_FAILED']);
    const after = await send('GET', '/v1/nodes/e1');
    assert.deepEqual([after.etag, after.body.labels], [before.etag, before.body.labels]);
    const weak = await send('PATCH', '/v1/nodes/e1', { labels: { rack: 'r9' } }, { 'if-match': `W/${before.etag ?? ''}` });
    assert.equal(weak.status, 412, 'If-Match compares strongly: a weak tag never matches');
  });

  await t.test('a tag in a list, or *, matches; without If-Match the patch applies as before', async () => {
    const cur = await send('GET', '/v1/nodes/e1');
    const listed = await send('PATCH', '/v1/nodes/e1', { labels: { a: '1' } }, { 'if-match': `"0000", ${cur.etag ?? ''}` });
    assert.equal(listed.status, 200);
    const any = await send('PATCH', '/v1/nodes/e1', { labels: { b: '2' } }, { 'if-match': '*' });
    assert.equal(any.status, 200);
    const plain = await send('PATCH', '/v1/nodes/e1', { labels: { c: '3' } });
    assert.deepEqual([plain.status, plain.body.labels], [200, { rack: 'r2', role: 'db', a: '1', b: '2', c: '3' }]);
  });

  await t.test('unknown node 404, unknown field 400', async () => {
    assert.deepEqual([(await send('PATCH', '/v1/nodes/nope', { labels: {} })).body.code], ['NODE_NOT_FOUND']);
    const bad = await send('PATCH', '/v1/nodes/e1', { hostname: 'x' });
    assert.deepEqual([bad.status, bad.body.code], [400, 'VALIDATION']);
  });

  await t.test('a change by another writer (the state machine, the agent) makes the old tag stale', async () => {
    const cur = await send('GET', '/v1/nodes/e1');
    // a registration with the same id and MAC replaces hostname and labels: another writer of the hash
    assert.equal((await app.inject({ method: 'POST', url: '/v1/nodes', payload: { id: 'e1', mac: '52:54:00:dd:00:01', hostname: 'e1-new' } })).statusCode, 200);
    const r = await send('PATCH', '/v1/nodes/e1', { labels: { z: '1' } }, { 'if-match': cur.etag ?? '' });
    assert.equal(r.status, 412);
  });
});

test('Swagger UI at /docs from the npm package; the OpenAPI document names the bearer scheme and each route’s scope', async (t) => {
  const { app } = await startScheduler(t, {});
  const html = await app.inject({ method: 'GET', url: '/docs/' });
  assert.equal(html.statusCode, 200);
  assert.match(String(html.headers['content-type']), /^text\/html/);
  assert.match(html.body, /swagger-ui/);
  assert.doesNotMatch(html.body, /https?:\/\/(cdn|unpkg)/, 'no asset from a CDN');
  const bundle = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
  assert.equal(bundle.statusCode, 200, 'the assets are served from here');

  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{
    components: { securitySchemes: Record<string, { type: string; scheme: string }> };
    paths: Record<string, Record<string, { security?: Record<string, string[]>[]; responses?: Record<string, unknown> }>>;
  }>();
  assert.deepEqual(doc.components.securitySchemes.bearer && { type: doc.components.securitySchemes.bearer.type, scheme: doc.components.securitySchemes.bearer.scheme }, { type: 'http', scheme: 'bearer' });
  const scopeOf = (path: string, method: string) => doc.paths[path]?.[method]?.security;
  assert.deepEqual(scopeOf('/v1/deployments', 'post'), [{ bearer: ['deploy'] }]);
  assert.deepEqual(scopeOf('/v1/deployments', 'get'), [{ bearer: ['read'] }]);
  assert.deepEqual(scopeOf('/v1/nodes/{id}', 'patch'), [{ bearer: ['deploy'] }]);
  assert.equal(scopeOf('/v1/boot/{mac}', 'get'), undefined, 'the iPXE route is public');
  assert.ok(doc.paths['/v1/deployments']?.post?.responses?.['401'] !== undefined && doc.paths['/v1/deployments'].post.responses['403'] !== undefined);
  assert.equal((await app.inject({ method: 'GET', url: '/v1/openapi.json' })).json<{ paths: object }>().paths !== undefined, true);
});
