import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { decodeCursor, encodeCursor } from '../src/index.js';

test('a cursor decodes to the position it was made from, for its own list only', () => {
  const at = { score: 1764625515123, member: 'dep-mx584l4a-ba0393' };
  const c = encodeCursor('deployments', at);
  assert.match(c, /^[A-Za-z0-9_-]+$/, 'URL-safe as it is');
  assert.deepEqual(decodeCursor('deployments', c), at);
  assert.throws(() => decodeCursor('nodes', c), (err) => isSwarmbootError(err, 'CURSOR_INVALID'));
});

test('a cursor that is not one of ours is CURSOR_INVALID', () => {
  const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  for (const bad of ['x', '!!!', forged(['nodes', '1', 'n1']), forged(['nodes', 1]), forged({ list: 'nodes' }), forged(['nodes', null, 'n1']), Buffer.from('[').toString('base64url')]) {
    assert.throws(() => decodeCursor('nodes', bad), (err) => isSwarmbootError(err, 'CURSOR_INVALID'), bad);
  }
});
