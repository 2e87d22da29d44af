import { test } from 'node:test';
import { assertFuzzSuite } from '@swarmboot/testkit';
import { nodeCsvFuzz } from './fuzz/node-csv-fuzz-suite.js';

test('node CSV parser: no crash on any input, written inventories parse back (fast-check)', async (t) => {
  await assertFuzzSuite(nodeCsvFuzz, (m) => t.diagnostic(m));
});
