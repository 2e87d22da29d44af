import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { httpRequest, MAX_REDIRECTS } from '../src/index.js';

let server: Server;
let base: string;

before(async () => {
  // /hop/K redirects to /hop/K-1 down to /hop/0; /echo answers the method and body it got
  server = createServer((req, res) => {
    const hop = /^\/hop\/(\d+)$/.exec(req.url ?? '');
    if (hop !== null) {
      const k = Number(hop[1]);
      if (k === 0) return void res.end('arrived');
      return void res.writeHead(302, { location: `/hop/${k - 1}` }).end();
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.writeHead(201).end(`${req.method} ${req.headers['content-type'] ?? '-'} ${Buffer.concat(chunks).toString()}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('a GET follows redirects up to MAX_REDIRECTS, then answers with the 3xx', async () => {
  const near = await httpRequest('GET', `${base}/hop/${MAX_REDIRECTS}`);
  assert.deepEqual([near.status, near.body.toString()], [200, 'arrived']);
  const far = await httpRequest('GET', `${base}/hop/${MAX_REDIRECTS + 1}`);
  assert.equal(far.status, 302);
  assert.equal(far.headers.location, '/hop/0');
});

test('a POST is not redirected; string and stream bodies arrive whole', async () => {
  const post = await httpRequest('POST', `${base}/hop/1`, { body: 'x' });
  assert.equal(post.status, 302);
  const text = await httpRequest('PUT', `${base}/echo`, { body: 'hello', headers: { 'content-type': 'text/plain' } });
  assert.deepEqual([text.status, text.body.toString()], [201, 'PUT text/plain hello']);
  const streamed = await httpRequest('PUT', `${base}/echo`, { body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]), headers: { 'content-length': '4' } });
  assert.equal(streamed.body.toString(), 'PUT - abcd');
});

test('an abort rejects with the AbortError; no listener rejects with the connection error', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(httpRequest('GET', `${base}/hop/0`, { signal: ac.signal }), { name: 'AbortError' });
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await assert.rejects(httpRequest('GET', `http://127.0.0.1:${port}/`), { code: 'ECONNREFUSED' });
});
