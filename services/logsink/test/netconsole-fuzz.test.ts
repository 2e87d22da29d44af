import { test } from 'node:test';
import { assertFuzzSuite } from '@swarmboot/testkit';
import { netconsoleFuzz } from './fuzz/netconsole-fuzz-suite.js';

test('netconsole decoder and fragment reassembly: no crash on any input, records and fragments round-trip (fast-check)', async (t) => {
  await assertFuzzSuite(netconsoleFuzz, (m) => t.diagnostic(m));
});
