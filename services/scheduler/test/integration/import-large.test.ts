import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeInput, NodeList } from '@swarmboot/contracts';
import { startScheduler } from './harness.js';

// One import the size of a large cluster in one request (the import's body limit is sized for
// 100 000 nodes): the Lua script gets every node's keys and fields, more arguments than a
// JavaScript call takes when spread (about 65 000 here), which once crashed the scheduler.
test('an import of 40 000 nodes in one request is stored whole, against real Redis and NATS', async (t) => {
  const { json } = await startScheduler(t, {});
  const mac = (i: number) => `52:54:${[(i >> 24) & 0xff, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
  const nodes: NodeInput[] = Array.from({ length: 40_000 }, (_, i) => ({ id: `big${i}`, mac: mac(i) }));
  const res = await json<{ imported: number; updated: number }>('POST', '/v1/nodes/import', { nodes });
  assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
  assert.equal(res.body.imported, nodes.length);
  let seen = 0;
  let cursor: string | undefined;
  do {
    const page = await json<NodeList>('GET', `/v1/nodes?limit=1000${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    assert.equal(page.status, 200);
    seen += page.body.nodes.length;
    cursor = page.body.nextCursor;
  } while (cursor !== undefined);
  assert.equal(seen, nodes.length);
});
