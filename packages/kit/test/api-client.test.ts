import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSwarmbootError, type SwarmbootError } from '@swarmboot/contracts';
import { AgentApiClient, SwarmbootClient } from '../src/index.js';

/** A scheduler stand-in: each path answers one canned (status, body). */
const answers: Record<string, [number, string]> = {
  '/v1/nodes/n1': [200, JSON.stringify({ id: 'n1', mac: 'aa:bb:cc:dd:ee:01', hostname: 'n1', labels: {}, state: 'registered', updatedAt: '2026-01-01T00:00:00Z' })],
  '/v1/nodes/n2': [200, JSON.stringify({ id: 'n2', mac: 'aa:bb:cc:dd:ee:02', hostname: 'n2', labels: {}, state: 'no-such-state', updatedAt: '2026-01-01T00:00:00Z' })],
  '/v1/nodes/n3': [404, JSON.stringify({ code: 'NODE_NOT_FOUND', message: 'no node n3' })],
  '/v1/nodes/n4': [502, '<html>bad gateway</html>'],
  '/v1/nodes/n5': [409, JSON.stringify({ code: 'FST_SOMETHING', message: 'a code of no registry' })],
  '/v1/nodes/n6': [200, 'not json'],
};
let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    const [status, body] = answers[req.url ?? ''] ?? [404, '{}'];
    res.writeHead(status, { 'content-type': body.startsWith('{') ? 'application/json' : 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function failure(p: Promise<unknown>): Promise<SwarmbootError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isSwarmbootError(err), String(err));
    return err;
  }
  return assert.fail('expected a rejection');
}

test('a 2xx answer matching its schema resolves with it', async () => {
  const n = await new SwarmbootClient(base, base).node('n1');
  assert.equal(n.state, 'registered');
});

test('a 2xx answer failing its schema is API_RESPONSE_INVALID naming the path', async () => {
  const err = await failure(new AgentApiClient(base, 'n2', 'd1').node());
  assert.equal(err.code, 'API_RESPONSE_INVALID');
  assert.match(err.message, /\/state/);
  assert.equal((await failure(new SwarmbootClient(base, base).node('n6'))).code, 'API_RESPONSE_INVALID');
});

test('non-2xx: the server code of the registry, else API_ERROR with the status', async () => {
  const c = new SwarmbootClient(base, base);
  const notFound = await failure(c.node('n3'));
  assert.equal(notFound.code, 'NODE_NOT_FOUND');
  assert.match(notFound.message, /GET .*\/v1\/nodes\/n3: 404 no node n3$/);
  const gateway = await failure(c.node('n4'));
  assert.deepEqual([gateway.code, gateway.context.status], ['API_ERROR', 502]);
  const foreign = await failure(c.node('n5'));
  assert.deepEqual([foreign.code, foreign.context.serverCode], ['API_ERROR', 'FST_SOMETHING']);
  assert.equal((await failure(new AgentApiClient(base, 'x', 'd1').getBytes(`${base}/v1/nodes/n3`))).code, 'NODE_NOT_FOUND');
});

test('no answer is API_UNREACHABLE', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const err = await failure(new SwarmbootClient(`http://127.0.0.1:${port}`, base).images());
  assert.equal(err.code, 'API_UNREACHABLE');
});
