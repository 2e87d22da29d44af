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
  '/v1/nodes/n7': [503, JSON.stringify({ code: 'REDIS_NOT_REPLICATED', message: "a script's writes reached 0 of the 1 replicas" })],
};
/** requests seen per path */
const hits = new Map<string, number>();
let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
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

test('an agent call whose connection is closed before the answer is sent again, and a 4xx is not', async () => {
  // the first request on each path has its socket destroyed (a scheduler replica killed
  // mid-request); later ones are answered
  const seen = new Map<string, number>();
  const flaky = createServer((req, res) => {
    const n = (seen.get(req.url ?? '') ?? 0) + 1;
    seen.set(req.url ?? '', n);
    if (req.url === '/v1/nodes/gone') return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'NODE_NOT_FOUND', message: 'no node gone' }));
    if (n === 1) return void req.socket.destroy();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ state: 'installing', release: false }));
  });
  await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
  try {
    const reply = await new AgentApiClient(url, 'n1', 'd1', undefined, [10, 10]).report({ stage: 'verifying' });
    assert.equal(reply.state, 'installing');
    assert.equal(seen.get('/v1/nodes/n1/report'), 2, 'one failed attempt, one answered');
    assert.equal((await failure(new AgentApiClient(url, 'gone', 'd1', undefined, [10, 10]).node())).code, 'NODE_NOT_FOUND');
    assert.equal(seen.get('/v1/nodes/gone'), 1, "the scheduler's own answer is not retried");
  } finally {
    await new Promise<void>((resolve) => flaky.close(() => resolve()));
  }
});

test('an agent call answered 502 by the gateway is retried until the delays are used up, then fails with it', async () => {
  const before = hits.get('/v1/nodes/n4') ?? 0;
  const err = await failure(new AgentApiClient(base, 'x', 'd1', undefined, [10, 10, 10]).getBytes(`${base}/v1/nodes/n4`));
  assert.deepEqual([err.code, err.context.status], ['API_ERROR', 502]);
  assert.equal((hits.get('/v1/nodes/n4') ?? 0) - before, 4, 'the first attempt and one per delay');
});

test("the scheduler's own 503 (REDIS_NOT_REPLICATED during a failover) is retried like a gateway's, and fails with its code when it lasts", async () => {
  const before = hits.get('/v1/nodes/n7') ?? 0;
  const err = await failure(new AgentApiClient(base, 'x', 'd1', undefined, [10, 10]).getBytes(`${base}/v1/nodes/n7`));
  assert.deepEqual([err.code, err.context.status], ['REDIS_NOT_REPLICATED', 503]);
  assert.equal((hits.get('/v1/nodes/n7') ?? 0) - before, 3, 'the first attempt and one per delay');
});
