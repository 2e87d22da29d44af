import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { RedisKeys } from '@swarmboot/contracts';
import { ImageCatalog } from '@swarmboot/kit';
import { TEST_IMAGE as IMAGE, startScheduler } from './harness.js';

interface Answer {
  status: number;
  body: { code?: string; id?: string };
  replayed: boolean;
}

test('Idempotency-Key on the scheduler POST routes, against real Redis and NATS', async (t) => {
  const { app, redis, startReplica, json } = await startScheduler(t, {});
  const post = async (url: string, body: object, key: string | undefined, via: FastifyInstance = app): Promise<Answer> => {
    const res = await via.inject({ method: 'POST', url, payload: body, headers: key === undefined ? {} : { 'idempotency-key': key } });
    return { status: res.statusCode, body: res.json<Answer['body']>(), replayed: res.headers['idempotent-replayed'] === 'true' };
  };
  const deploymentCount = async () => (await json<{ deployments: unknown[] }>('GET', '/v1/deployments')).body.deployments.length;

  await t.test('a 5xx is not stored: the same key runs again once the fault is gone', async () => {
    // a value of the wrong type where the registration index belongs: the upsert script fails before it writes
    await redis.set(RedisKeys.nodes, 'not a sorted set');
    const failed = await post('/v1/nodes', { id: 'n0', mac: '52:54:00:bb:00:00' }, 'register-n0');
    assert.deepEqual([failed.status, failed.body.code, failed.replayed], [500, 'INTERNAL', false]);
    await redis.del(RedisKeys.nodes);
    const retried = await post('/v1/nodes', { id: 'n0', mac: '52:54:00:bb:00:00' }, 'register-n0');
    assert.deepEqual([retried.status, retried.replayed], [201, false], 'ran again, not replayed');
    const replayed = await post('/v1/nodes', { id: 'n0', mac: '52:54:00:bb:00:00' }, 'register-n0');
    assert.deepEqual([replayed.status, replayed.replayed], [201, true], 'the 201 is replayed, not the 200 a second registration gives');
  });

  await new ImageCatalog(redis).put(IMAGE);
  const nodes = Array.from({ length: 6 }, (_, i) => ({ id: `n${i + 1}`, mac: `52:54:00:bb:00:0${i + 1}` }));
  assert.equal((await json<{ imported: number }>('POST', '/v1/nodes/import', { nodes })).status, 200);

  let firstId = '';
  await t.test('a retried POST /v1/deployments with the same key creates one deployment', async () => {
    const before = await deploymentCount();
    const first = await post('/v1/deployments', { image: IMAGE.name, nodes: ['n1'], target: 'emulated' }, 'deploy-1');
    assert.deepEqual([first.status, first.replayed], [201, false]);
    firstId = first.body.id ?? '';
    // the same request, keys in another order, the key as an RFC 8941 string: the same request and key
    const retry = await post('/v1/deployments', { target: 'emulated', nodes: ['n1'], image: IMAGE.name }, '"deploy-1"');
    assert.deepEqual([retry.status, retry.replayed, retry.body.id], [201, true, firstId]);
    assert.equal(await deploymentCount(), before + 1);
  });

  await t.test('the same key with another request is 422; keys are per route', async () => {
    const other = await post('/v1/deployments', { image: IMAGE.name, nodes: ['n2'], target: 'emulated' }, 'deploy-1');
    assert.deepEqual([other.status, other.body.code], [422, 'IDEMPOTENCY_KEY_REUSED']);
    const released = await post(`/v1/deployments/${firstId}/release`, {}, 'release-1');
    assert.deepEqual([released.status, released.replayed], [200, false]);
    const otherId = await post('/v1/deployments/dep-none/release', {}, 'release-1');
    assert.deepEqual([otherId.status, otherId.body.code], [422, 'IDEMPOTENCY_KEY_REUSED'], 'the path is part of the request');
    const otherRoute = await post('/v1/nodes', { id: 'n7', mac: '52:54:00:bb:00:07' }, 'deploy-1');
    assert.deepEqual([otherRoute.status, otherRoute.replayed], [201, false], 'a key of another route is another key');
  });

  await t.test('the same key on two replicas at once: one runs, the other is 409 or its replay', async () => {
    const replica = await startReplica();
    const before = await deploymentCount();
    const body = { image: IMAGE.name, nodes: ['n3', 'n4'], target: 'emulated' };
    const answers = await Promise.all([post('/v1/deployments', body, 'deploy-2', app), post('/v1/deployments', body, 'deploy-2', replica)]);
    const ran = answers.filter((a) => a.status === 201 && !a.replayed);
    assert.equal(ran.length, 1, JSON.stringify(answers));
    const rest = answers.find((a) => a !== ran[0]);
    assert.ok((rest?.status === 409 && rest.body.code === 'IDEMPOTENCY_KEY_IN_USE') || (rest?.status === 201 && rest.replayed), JSON.stringify(rest));
    assert.equal(await deploymentCount(), before + 1);
  });

  await t.test('a 4xx is final and replayed; requests without a key are untouched', async () => {
    const busy = await post('/v1/deployments', { image: IMAGE.name, nodes: ['n3'], target: 'emulated' }, 'deploy-3');
    assert.deepEqual([busy.status, busy.body.code, busy.replayed], [409, 'NODE_BUSY', false]);
    const again = await post('/v1/deployments', { image: IMAGE.name, nodes: ['n3'], target: 'emulated' }, 'deploy-3');
    assert.deepEqual([again.status, again.body.code, again.replayed], [409, 'NODE_BUSY', true]);
    const before = await deploymentCount();
    const a = await post('/v1/deployments', { image: IMAGE.name, nodes: ['n5'], target: 'emulated' }, undefined);
    const b = await post('/v1/deployments', { image: IMAGE.name, nodes: ['n6'], target: 'emulated' }, undefined);
    assert.deepEqual([a.status, b.status, a.replayed, b.replayed], [201, 201, false, false]);
    assert.equal(await deploymentCount(), before + 2);
  });

  await t.test('a malformed key is 400 and runs nothing', async () => {
    const before = await deploymentCount();
    for (const key of ['', 'k'.repeat(256), 'caf\u00e9', '""']) {
      const res = await post('/v1/deployments', { image: IMAGE.name, nodes: ['n7'], target: 'emulated' }, key);
      assert.deepEqual([res.status, res.body.code], [400, 'IDEMPOTENCY_KEY_INVALID'], JSON.stringify(key));
    }
    assert.equal(await deploymentCount(), before);
  });

  await t.test('the OpenAPI document shows the header and its answers', async () => {
    const doc = await json<{ paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses: Record<string, unknown> }>> }>('GET', '/v1/openapi.json');
    for (const [path, method] of [['/v1/deployments', 'post'], ['/v1/nodes', 'post'], ['/v1/nodes/import', 'post'], ['/v1/deployments/{id}/release', 'post']] as const) {
      const op = doc.body.paths[path]?.[method];
      assert.ok(op?.parameters?.some((p) => p.in === 'header' && p.name === 'idempotency-key'), `${method} ${path} has the header`);
      assert.ok(op?.responses['409'] && op.responses['422'], `${method} ${path} has 409 and 422`);
    }
  });
});
