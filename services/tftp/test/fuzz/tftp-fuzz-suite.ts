import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSwarmbootError } from '@swarmboot/contracts';
import { bytes, decodeOrReject, mutated, type FuzzSuite } from '@swarmboot/testkit';
import { BLKSIZE_MAX, BLKSIZE_MIN, decodeTftp, encodeTftp, negotiateRead, normalizeRequestPath, type TftpPacket } from '../../src/index.js';

/*
 * Fuzzing of the TFTP codec (RFC 1350 §5 packets, RFC 2347 options) and of what the server does
 * next with a request: the path check and the option negotiation (RFC 2348, 2349, 7440).
 */

const malformed = (err: unknown): boolean => isSwarmbootError(err, 'TFTP_MALFORMED');

/** decode; for a request also the path check and the negotiation the server runs on it. */
function decodeAndServe(buf: Buffer): void {
  const packet = decodeOrReject(decodeTftp, buf, malformed);
  if (packet?.kind !== 'RRQ') return;
  const path = normalizeRequestPath(packet.filename);
  // never outside the root: no `..` segment survives, nothing absolute
  if (path !== undefined) assert.ok(path !== '..' && !path.startsWith('../') && !path.startsWith('/'), `path ${JSON.stringify(path)} leaves the root`);
  const n = negotiateRead(packet.options, 1 << 20, { maxBlksize: 1468, maxWindowsize: 16 });
  assert.ok(n.blksize >= BLKSIZE_MIN && n.blksize <= 1468, `blksize ${n.blksize}`);
  assert.ok(n.windowsize >= 1 && n.windowsize <= 16, `windowsize ${n.windowsize}`);
}

/** a C string of the wire: valid UTF-8 (it is decoded as such), no NUL */
const cText = (opts: { minLength?: number; maxLength: number; lower?: boolean }): fc.Arbitrary<string> =>
  fc
    .string({ unit: 'binary', minLength: opts.minLength ?? 0, maxLength: opts.maxLength })
    .filter((s) => !s.includes('\0') && Buffer.from(s, 'utf8').toString('utf8') === s && (opts.lower !== true || s.toLowerCase() === s));

/** RFC 2347 options as decodeTftp returns them: lower-case distinct names, values as sent; names of real options mixed in */
const options = (minLength: number): fc.Arbitrary<Map<string, string>> =>
  fc
    .uniqueArray(
      fc.tuple(
        fc.oneof(fc.constantFrom('blksize', 'tsize', 'timeout', 'windowsize'), cText({ minLength: 1, maxLength: 16, lower: true })),
        fc.oneof(fc.nat({ max: 100_000 }).map(String), cText({ maxLength: 16 })),
      ),
      { selector: ([name]) => name, minLength, maxLength: 6 },
    )
    .map((entries) => new Map(entries));

const u16 = fc.integer({ min: 0, max: 0xffff });

/** Every packet kind, with the values the encoder accepts. */
export const tftpPacket: fc.Arbitrary<TftpPacket> = fc.oneof(
  fc.record({ kind: fc.constantFrom('RRQ' as const, 'WRQ' as const), filename: cText({ minLength: 1, maxLength: 64 }), mode: fc.constantFrom('netascii' as const, 'octet' as const, 'mail' as const), options: options(0) }),
  fc.record({ kind: fc.constant('DATA' as const), block: u16, data: bytes(1468) }),
  fc.record({ kind: fc.constant('ACK' as const), block: u16 }),
  fc.record({ kind: fc.constant('ERROR' as const), code: u16, message: cText({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('OACK' as const), options: options(1) }),
);

export const tftpFuzz: FuzzSuite = {
  codec: 'tftp',
  open: () =>
    Promise.resolve({
      properties: [
        { name: 'arbitrary bytes decode or throw TFTP_MALFORMED', property: fc.property(bytes(600), decodeAndServe) },
        {
          name: 'an opcode then arbitrary bytes decode or throw TFTP_MALFORMED',
          property: fc.property(fc.integer({ min: 0, max: 7 }), bytes(600), (op, rest) => decodeAndServe(Buffer.concat([Buffer.from([0, op]), rest]))),
        },
        // spread: fc.record builds objects without a prototype, which deepEqual would tell apart
        { name: 'decode(encode(p)) = p', property: fc.property(tftpPacket, (p) => assert.deepEqual(decodeTftp(encodeTftp(p)), { ...p })) },
        { name: 'mutated valid packets decode or throw TFTP_MALFORMED', property: fc.property(mutated(tftpPacket.map(encodeTftp)), decodeAndServe) },
      ],
    }),
};
