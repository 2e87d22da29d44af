import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InfoHashAdmission } from '../src/domain/admission.js';

const known = 'aa'.repeat(20);
const unknown = 'bb'.repeat(20);

function countingLookup(): { lookup: (h: string) => Promise<string | undefined>; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    lookup: async (h) => {
      calls.push(h);
      return h === known ? 'ubuntu' : undefined;
    },
  };
}

test('a registered infohash is looked up once and then served from the cache', async () => {
  const { lookup, calls } = countingLookup();
  const admission = new InfoHashAdmission(lookup);
  assert.equal(await admission.admit(known), 'ubuntu');
  assert.equal(await admission.admit(known.toUpperCase()), 'ubuntu');
  assert.equal(await admission.admit(known), 'ubuntu');
  assert.deepEqual(calls, [known], 'upper-case infohash hits the same entry; one lookup in all');
});

test('an unknown infohash is not cached: a later registration is seen at once', async () => {
  const { lookup, calls } = countingLookup();
  const admission = new InfoHashAdmission(lookup);
  assert.equal(await admission.admit(unknown), undefined);
  assert.equal(await admission.admit(unknown), undefined);
  assert.equal(calls.length, 2);
  assert.equal(admission.size, 0);
});

test('a cached answer expires after the ttl', async () => {
  const { lookup, calls } = countingLookup();
  let now = 1_000;
  const admission = new InfoHashAdmission(lookup, { ttlMs: 100, now: () => now });
  await admission.admit(known);
  now += 99;
  await admission.admit(known);
  assert.equal(calls.length, 1);
  now += 1;
  await admission.admit(known);
  assert.equal(calls.length, 2);
});

test('the cache is bounded: the oldest entry goes first', async () => {
  const calls: string[] = [];
  const admission = new InfoHashAdmission(
    async (h) => {
      calls.push(h);
      return 'img';
    },
    { maxEntries: 2 },
  );
  const [a, b, c] = ['01', '02', '03'].map((x) => x.repeat(20)) as [string, string, string];
  await admission.admit(a);
  await admission.admit(b);
  await admission.admit(c);
  assert.equal(admission.size, 2);
  await admission.admit(b); // still cached
  await admission.admit(a); // evicted: looked up again
  assert.deepEqual(calls, [a, b, c, a]);
});

test('a lookup error propagates and caches nothing', async () => {
  const admission = new InfoHashAdmission(async () => {
    throw new Error('redis down');
  });
  await assert.rejects(admission.admit(known), /redis down/);
  assert.equal(admission.size, 0);
});
