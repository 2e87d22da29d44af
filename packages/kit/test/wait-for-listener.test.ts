import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { waitForListener } from '../src/index.js';

test('waitForListener: true once something listens, false after the timeout or when not alive', async () => {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  assert.equal(await waitForListener(port, { timeoutMs: 1000, everyMs: 10, alive: () => true }), true);
  await new Promise<void>((resolve) => srv.close(() => resolve()));

  const started = Date.now();
  assert.equal(await waitForListener(port, { timeoutMs: 200, everyMs: 10, alive: () => true }), false);
  assert.ok(Date.now() - started >= 200, 'polled until the timeout');
  let calls = 0;
  assert.equal(await waitForListener(port, { timeoutMs: 10_000, everyMs: 10, alive: () => ++calls < 3 }), false);
  assert.equal(calls, 3, 'stopped at the first alive() === false');
});
