import { test } from 'node:test';
import { assertFuzzSuite } from '@swarmboot/testkit';
import { dhcpFuzz } from './fuzz/dhcp-fuzz-suite.js';

test('DHCP codec and option accessors: no crash on any input, encode/decode round trips (fast-check)', async (t) => {
  await assertFuzzSuite(dhcpFuzz, (m) => t.diagnostic(m));
});
