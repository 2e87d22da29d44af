import { test } from 'node:test';
import { assertFuzzSuite } from '@swarmboot/testkit';
import { trackerFuzz } from '../fuzz/tracker-fuzz-suite.js';

test('tracker over real UDP and HTTP with Redis: arbitrary requests never stop it, BEP 15 answers only, ip:port peers only (fast-check)', async (t) => {
  await assertFuzzSuite(trackerFuzz, (m) => t.diagnostic(m));
});
