import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { matchesSelector, parseSelector } from '../src/domain/selector.js';

test('"*" selects every node', () => {
  const s = parseSelector(' * ');
  assert.equal(matchesSelector({}, s), true);
  assert.equal(matchesSelector({ rack: 'r1' }, s), true);
});

test('every key=value pair must match', () => {
  const s = parseSelector('rack=r1, role = worker');
  assert.deepEqual(s, { all: false, pairs: [['rack', 'r1'], ['role', 'worker']] });
  assert.equal(matchesSelector({ rack: 'r1', role: 'worker', extra: 'x' }, s), true);
  assert.equal(matchesSelector({ rack: 'r1' }, s), false);
  assert.equal(matchesSelector({ rack: 'r2', role: 'worker' }, s), false);
  assert.equal(matchesSelector({ rack: 'r1', role: '' }, parseSelector('rack=r1,role=')), true);
});

test('malformed selectors are VALIDATION errors', () => {
  for (const bad of ['', 'rack', 'rack=r1,', '=r1', 'a=1,,b=2']) {
    assert.throws(() => parseSelector(bad), (err: unknown) => isSwarmbootError(err, 'VALIDATION'), JSON.stringify(bad));
  }
});
