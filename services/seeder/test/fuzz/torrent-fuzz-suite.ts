import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import bencode from 'bencode';
import fc from 'fast-check';
import { isSwarmbootError } from '@swarmboot/contracts';
import { bytes, decodeOrRejectAsync, mutated, type FuzzSuite } from '@swarmboot/testkit';
import { infoHashOf } from '../../src/adapters/torrent-file.js';

/*
 * Fuzzing of what the seeder parses of a .torrent (bencode, BEP 3 metainfo) through its wrapper
 * `infoHashOf` (parse-torrent underneath), which checks a stored .torrent before it seeds.
 */

const invalid = (err: unknown): boolean => isSwarmbootError(err, 'TORRENT_INVALID');

/** BEP 3: the infohash is the SHA-1 of the bencoded `info` dictionary. */
const sha1Info = (info: unknown): string => createHash('sha1').update(bencode.encode(info)).digest('hex');

/** infoHashOf: TORRENT_INVALID or an infohash, and an infohash only of a bencoded dict whose `info` hashes to it. */
async function check(buf: Buffer): Promise<void> {
  const hash = await decodeOrRejectAsync(infoHashOf, buf, invalid);
  if (hash === undefined) return;
  const meta = bencode.decode(buf) as { info?: unknown };
  assert.equal(hash, sha1Info(meta.info), 'an infohash for bytes whose info does not hash to it');
}

const utf8 = (max: number): fc.Arbitrary<string> => fc.string({ unit: 'grapheme', minLength: 1, maxLength: max });

/** BEP 3 single-file and multi-file metainfo, with the BEP 12 announce-list and BEP 19 url-list the seeder writes. */
const metainfo = fc
  .record({
    name: utf8(40),
    pieceLength: fc.integer({ min: 0, max: 24 }).map((e) => 2 ** e),
    pieces: fc.integer({ min: 1, max: 8 }).chain((n) => fc.uint8Array({ minLength: 20 * n, maxLength: 20 * n })),
    files: fc.oneof(fc.nat({ max: 2 ** 40 }), fc.array(fc.record({ length: fc.nat({ max: 2 ** 32 }), path: fc.array(utf8(12), { minLength: 1, maxLength: 3 }) }), { minLength: 1, maxLength: 4 })),
    announce: fc.array(fc.webUrl(), { minLength: 1, maxLength: 3 }),
    urlList: fc.array(fc.webUrl(), { maxLength: 2 }),
  })
  .map((m) => {
    const info = { name: m.name, 'piece length': m.pieceLength, pieces: m.pieces, ...(typeof m.files === 'number' ? { length: m.files } : { files: m.files }) };
    return { info, torrent: Buffer.from(bencode.encode({ announce: m.announce[0], 'announce-list': [m.announce], 'url-list': m.urlList, 'created by': 'swarmboot fuzz', info })) };
  });

/** Bencode syntax from its tokens (BEP 3: i…e, N:…, l…e, d…e), nested at random. */
const bencodeSoup = fc
  .array(fc.oneof(fc.constantFrom('d', 'l', 'e', 'i', '-', '0', '4:info', '6:pieces', '12:piece length', '4:name', '6:length', '5:files', '20:', ':', 'i0e', 'i-0e', 'i01e'), fc.nat({ max: 40 }).map(String)), { maxLength: 60 })
  .map((parts) => Buffer.from(parts.join(''), 'latin1'));

export const torrentFuzz: FuzzSuite = {
  codec: 'torrent',
  open: () =>
    Promise.resolve({
      properties: [
        { name: 'arbitrary bytes: an infohash of their info, or TORRENT_INVALID', property: fc.asyncProperty(bytes(300), check) },
        { name: 'bencode tokens: an infohash of their info, or TORRENT_INVALID', property: fc.asyncProperty(bencodeSoup, check) },
        { name: 'infoHashOf(bencoded metainfo) = SHA-1 of its info', property: fc.asyncProperty(metainfo, async (m) => assert.equal(await infoHashOf(m.torrent), sha1Info(m.info))) },
        { name: 'mutated valid .torrent files: an infohash of their info, or TORRENT_INVALID', property: fc.asyncProperty(mutated(metainfo.map((m) => m.torrent)), check) },
      ],
    }),
};
