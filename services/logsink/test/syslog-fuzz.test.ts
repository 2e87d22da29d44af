import { test } from 'node:test';
import { assertFuzzSuite } from '@swarmboot/testkit';
import { syslogFuzz } from './fuzz/syslog-fuzz-suite.js';

test('syslog parser, formatter and RFC 6587 framing: no crash on any input, round trips (fast-check)', async (t) => {
  await assertFuzzSuite(syslogFuzz, (m) => t.diagnostic(m));
});
