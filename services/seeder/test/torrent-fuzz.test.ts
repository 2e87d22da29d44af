import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { assertFuzzSuite } from '@swarmboot/testkit';
import { infoHashOf } from '../src/adapters/torrent-file.js';
import { torrentFuzz } from './fuzz/torrent-fuzz-suite.js';

test('.torrent parsing (infoHashOf over bencode and parse-torrent): no crash on any input, the infohash of the info dict (fast-check)', async (t) => {
  await assertFuzzSuite(torrentFuzz, (m) => t.diagnostic(m));
});

test('fuzz regression: 20 bytes ("10i-0e010105:files10") are TORRENT_INVALID, not a bare infohash', async () => {
  await assert.rejects(infoHashOf(Buffer.from('10i-0e010105:files10', 'latin1')), (err: unknown) => isSwarmbootError(err, 'TORRENT_INVALID'));
});

test('fuzz regression: a negative string length ("l-3:abce", on which bencode 4.0.1 loops forever) is TORRENT_INVALID at once', async () => {
  await assert.rejects(infoHashOf(Buffer.from('l-3:abce', 'latin1')), (err: unknown) => isSwarmbootError(err, 'TORRENT_INVALID') && /byte 1/.test(err.message));
  await assert.rejects(infoHashOf(Buffer.from('d8:url-list-14:http://4bhs.ld17:e', 'latin1')), (err: unknown) => isSwarmbootError(err, 'TORRENT_INVALID'));
});
