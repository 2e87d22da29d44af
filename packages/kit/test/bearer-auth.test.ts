import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isSwarmbootError } from '@swarmboot/contracts';
import { TokenSet } from '../src/bearer-auth.js';

const T1 = 'first-token-0123456789';
const T2 = 'second-token-0123456789';

test('TokenSet.parse: token lines, comments, sha256 entries, the strongest scope of a line', () => {
  const set = TokenSet.parse(`# comment\n\n${T1} read ci   # trailing\nsha256:${createHash('sha256').update(T2).digest('hex')} read,admin\n`, 'test');
  assert.equal(set.size, 2);
  assert.deepEqual(set.lookup(T1), { name: 'ci', scope: 'read' });
  assert.deepEqual(set.lookup(T2), { name: 'line-4', scope: 'admin' });
  assert.equal(set.lookup('other-token-0123456789'), undefined);
  assert.equal(set.lookup(''), undefined);
});

test('TokenSet.parse refuses bad lines with CONFIG_INVALID naming the line, never the token', () => {
  const bad: [string, RegExp][] = [
    [`${T1}`, /line 1: expected/],
    [`${T1} write`, /line 1: unknown scope "write"/],
    ['short read', /line 1: a token is at least 16/],
    [`${T1} read a extra`, /line 1: expected/],
    ['sha256:abcd read', /line 1: a sha256: token needs 64 hex/],
    [`${T1} read x\n${T2} read x`, /line 2: the name x is taken/],
    ['# nothing\n', /no tokens/],
  ];
  for (const [text, why] of bad) {
    assert.throws(
      () => TokenSet.parse(text, 'f'),
      (err: unknown) => isSwarmbootError(err, 'CONFIG_INVALID') && why.test(err.message) && !err.message.includes(T1) && !err.message.includes('short'),
      text,
    );
  }
});
