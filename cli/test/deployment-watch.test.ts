import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SwarmbootError, type Deployment, type Node } from '@swarmboot/contracts';
import { ExitCode, deploymentOutcome, errorExitCode } from '../src/exit-codes.js';
import { RateWindow, formatDuration, snapshot } from '../src/watch.js';
import { printable } from '../src/timeline.js';

const node = (id: string, state: Node['state'], bytes?: number): Node => ({
  id,
  mac: '52:54:00:00:00:01',
  hostname: id,
  labels: {},
  state,
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...(bytes === undefined ? {} : { progress: { bytes, total: 1000 } }),
});

function deployment(state: Deployment['state'], nodes: Node[]): Deployment {
  const counts: Record<string, number> = {};
  for (const n of nodes) counts[n.state] = (counts[n.state] ?? 0) + 1;
  return { id: 'dep-1', image: 'img', state, target: 'emulated', createdAt: '2026-01-01T00:00:00.000Z', counts, nodes };
}

test('snapshot: phases counted, nodes past the download count the whole image', () => {
  const s = snapshot(deployment('running', [node('a', 'installing', 250), node('b', 'verifying', 1000), node('c', 'failed'), node('d', 'booting')]));
  assert.deepEqual(s, { total: 4, booted: 2, finished: 1, failed: 1, bytes: 250 + 1000 + 1000, bytesTotal: 4000 });
});

test('RateWindow: rates over the last window only, and the ETA of the slower phase', () => {
  const w = new RateWindow(10_000);
  assert.equal(w.rate('finished'), undefined, 'no rate from one sample');
  // a slow start the window forgets: 1 node in the first 20 s, then 1 node per second
  w.add(0, { finished: 0, bytes: 0 });
  w.add(20_000, { finished: 1, bytes: 0 });
  for (let t = 21_000, f = 2; t <= 40_000; t += 1000, f++) w.add(t, { finished: f, bytes: f * 100 });
  assert.equal(w.rate('finished'), 1);
  assert.equal(w.rate('bytes'), 100);
  // 21 finished of 30: 9 nodes at 1/s, 9 s; 2900 bytes left at 100/s, 29 s; the longer wins
  assert.equal(w.eta({ total: 30, booted: 30, finished: 21, failed: 0, bytes: 2100, bytesTotal: 5000 }), 29);
  assert.equal(new RateWindow().eta({ total: 3, booted: 0, finished: 0, failed: 0, bytes: 0, bytesTotal: 0 }), undefined, 'nothing moves: no ETA');
  assert.deepEqual([formatDuration(29), formatDuration(187), formatDuration(3720)], ['29s', '3m07s', '1h02m']);
});

test('exit codes: the outcome of a finished deployment, and of API errors', () => {
  assert.equal(deploymentOutcome(deployment('running', [node('a', 'installing')])), undefined);
  assert.equal(deploymentOutcome(deployment('completed', [node('a', 'installed'), node('b', 'installed')])), ExitCode.ok);
  assert.equal(deploymentOutcome(deployment('released', [node('a', 'released')])), ExitCode.ok);
  assert.equal(deploymentOutcome(deployment('completed', [node('a', 'installed'), node('b', 'failed')])), ExitCode.nodesFailed);
  assert.equal(deploymentOutcome(deployment('released', [node('a', 'released'), node('b', 'installing')])), ExitCode.stopped);
  assert.equal(deploymentOutcome(deployment('cancelled', [node('a', 'installed'), node('b', 'failed')])), ExitCode.stopped, 'cancelled nodes are failed, the deployment was stopped');
  assert.equal(deploymentOutcome(deployment('paused', [node('a', 'failed'), node('b', 'installing')])), ExitCode.paused);
  assert.equal(errorExitCode(new SwarmbootError('NODE_NOT_FOUND', 'x', { context: { status: 404 } })), ExitCode.notFound);
  assert.equal(errorExitCode(new SwarmbootError('API_ERROR', 'x', { context: { status: 403 } })), ExitCode.denied);
  assert.equal(errorExitCode(new SwarmbootError('API_UNREACHABLE', 'x')), ExitCode.error);
  assert.equal(errorExitCode(new Error('boom')), ExitCode.error);
});

test('printable: control characters a node sent cannot reach the terminal', () => {
  assert.equal(printable('ok \u001b[2J\r\nnext\u007f'), 'ok \\x1b[2J\\x0d\\x0anext\\x7f');
});
