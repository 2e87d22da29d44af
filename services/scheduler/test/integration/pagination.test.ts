import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentList, NodeInput, NodeList } from '@swarmboot/contracts';
import { ImageCatalog } from '@swarmboot/kit';
import { TEST_IMAGE as IMAGE, startScheduler } from './harness.js';

const mac = (i: number) => `52:54:00:cc:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
const nodeInputs = (from: number, n: number): NodeInput[] => Array.from({ length: n }, (_, k) => ({ id: `p${from + k}`, mac: mac(from + k) }));

test('cursor pagination of GET /v1/nodes and GET /v1/deployments, against real Redis and NATS', async (t) => {
  const { json, redis } = await startScheduler(t, {});
  /** Follows nextCursor from the first page; every page's ids, in order. */
  async function walk<T extends { nextCursor?: string }>(path: string, ids: (page: T) => string[], limit?: number, between?: () => Promise<void>): Promise<string[][]> {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const q = new URLSearchParams();
      if (limit !== undefined) q.set('limit', String(limit));
      if (cursor !== undefined) q.set('cursor', cursor);
      const res = await json<T>('GET', `${path}?${q.toString()}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      pages.push(ids(res.body));
      cursor = res.body.nextCursor;
      await between?.();
    } while (cursor !== undefined);
    return pages;
  }
  const nodeIds = (p: NodeList) => p.nodes.map((n) => n.id);

  const registered = nodeInputs(0, 2100);
  assert.equal((await json('POST', '/v1/nodes/import', { nodes: registered })).status, 200);

  await t.test('without a limit: pages of the default size; together every node once, in registration order', async () => {
    const pages = await walk('/v1/nodes', nodeIds);
    assert.ok(pages.length > 1, 'more nodes than one default page');
    assert.ok(pages.slice(0, -1).every((p) => p.length === pages[0]?.length), 'every page but the last is full');
    assert.deepEqual(pages.flat(), registered.map((n) => n.id));
  });

  await t.test('nodes registered during the walk come at the end, nothing repeats or is skipped', async () => {
    let next = registered.length;
    const pages = await walk('/v1/nodes', nodeIds, 333, async () => {
      if (next < registered.length + 6) {
        assert.equal((await json('POST', '/v1/nodes', nodeInputs(next, 1)[0])).status, 201);
        next++;
      }
    });
    const seen = pages.flat();
    assert.equal(new Set(seen).size, seen.length, 'no node twice');
    assert.deepEqual(seen.slice(0, registered.length), registered.map((n) => n.id));
    assert.deepEqual(seen.slice(registered.length), nodeInputs(registered.length, seen.length - registered.length).map((n) => n.id), 'late nodes in their order');
    assert.ok(seen.length > registered.length, 'the walk reached nodes added after it began');
  });

  await t.test('deployments newest first, every one once, also when several share a millisecond', async () => {
    await new ImageCatalog(redis).put(IMAGE);
    // created at once, so some share a creation millisecond (the sorted set's score)
    const created = await Promise.all(Array.from({ length: 9 }, (_, i) => json<{ id: string }>('POST', '/v1/deployments', { image: IMAGE.name, nodes: [`p${i}`], target: 'emulated' })));
    assert.ok(created.every((r) => r.status === 201));
    const whole = (await json<DeploymentList>('GET', '/v1/deployments?limit=1000')).body;
    assert.equal(whole.nextCursor, undefined, 'one page holds them all');
    assert.deepEqual([...whole.deployments.map((d) => d.id)].sort(), created.map((r) => r.body.id).sort());
    const at = whole.deployments.map((d) => Date.parse(d.createdAt));
    assert.ok(at.every((ms, i) => i === 0 || ms <= (at[i - 1] ?? ms)), 'newest first');
    const pages = await walk<DeploymentList>('/v1/deployments', (p) => p.deployments.map((d) => d.id), 2);
    assert.ok(pages.length > 1);
    assert.deepEqual(pages.flat(), whole.deployments.map((d) => d.id), 'the pages are the whole list, in its order');
  });

  await t.test('a bad limit is 400 VALIDATION, a bad cursor 400 CURSOR_INVALID', async () => {
    for (const path of ['/v1/nodes', '/v1/deployments']) {
      for (const limit of ['0', '-1', '1001', '2.5', 'all']) {
        const res = await json<{ code: string }>('GET', `${path}?limit=${limit}`);
        assert.deepEqual([res.status, res.body.code], [400, 'VALIDATION'], `${path} limit=${limit}`);
      }
      const res = await json<{ code: string }>('GET', `${path}?cursor=not-a-cursor`);
      assert.deepEqual([res.status, res.body.code], [400, 'CURSOR_INVALID'], path);
    }
    const nodesCursor = (await json<NodeList>('GET', '/v1/nodes?limit=1')).body.nextCursor ?? '';
    const crossed = await json<{ code: string }>('GET', `/v1/deployments?cursor=${encodeURIComponent(nodesCursor)}`);
    assert.deepEqual([crossed.status, crossed.body.code], [400, 'CURSOR_INVALID'], "a nodes cursor is not the deployments'");
  });

  await t.test('the OpenAPI document shows limit, cursor and nextCursor', async () => {
    type Op = { parameters?: { name: string; in: string }[]; responses: Record<string, { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }> };
    const doc = await json<{ paths: Record<string, { get?: Op }> }>('GET', '/v1/openapi.json');
    for (const path of ['/v1/nodes', '/v1/deployments']) {
      const op = doc.body.paths[path]?.get;
      assert.deepEqual(op?.parameters?.filter((p) => p.in === 'query').map((p) => p.name).sort(), ['cursor', 'limit'], path);
      assert.ok(op.responses['200']?.content?.['application/json']?.schema.properties?.nextCursor, `${path} answers nextCursor`);
    }
  });
});
