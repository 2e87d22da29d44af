import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEtag, parseIfMatch } from '../src/protocol/etag.js';

test('parseIfMatch reads the field of RFC 9110 §13.1.1: *, lists of strong tags; weak and malformed members never match', () => {
  assert.deepEqual(parseIfMatch('*'), { any: true });
  assert.deepEqual(parseIfMatch(' * '), { any: true });
  assert.deepEqual(parseIfMatch('"abc"'), { any: false, versions: ['abc'] });
  assert.deepEqual(parseIfMatch('"a", "b" ,"c"'), { any: false, versions: ['a', 'b', 'c'] });
  assert.deepEqual(parseIfMatch('W/"a", "b"'), { any: false, versions: ['b'] });
  assert.deepEqual(parseIfMatch('abc'), { any: false, versions: [] }, 'an unquoted tag is malformed');
  assert.deepEqual(parseIfMatch(''), { any: false, versions: [] });
  assert.deepEqual(parseIfMatch('"a b"'), { any: false, versions: [] }, 'a space is no etagc');
});

test('formatEtag and parseIfMatch round-trip', () => {
  assert.deepEqual(parseIfMatch(formatEtag('0123abcd')), { any: false, versions: ['0123abcd'] });
});
