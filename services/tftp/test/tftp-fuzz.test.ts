import { test } from 'node:test';
import { assertFuzzSuite } from '@swarmboot/testkit';
import { tftpFuzz } from './fuzz/tftp-fuzz-suite.js';

test('TFTP codec, path check and option negotiation: no crash on any input, encode/decode round trips (fast-check)', async (t) => {
  await assertFuzzSuite(tftpFuzz, (m) => t.diagnostic(m));
});
