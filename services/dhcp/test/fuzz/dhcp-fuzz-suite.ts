import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSwarmbootError } from '@swarmboot/contracts';
import { bytes, decodeOrReject, mutated, type FuzzSuite } from '@swarmboot/testkit';
import {
  DhcpOption,
  MAGIC_COOKIE,
  decodeDhcp,
  decodeRelayAgentInfo,
  encodeDhcp,
  encodeRelayAgentInfo,
  encodeUserClasses,
  getBootfileName,
  getClientArchs,
  getClientId,
  getHostname,
  getLeaseTime,
  getMessageType,
  getParameterRequestList,
  getRequestedIp,
  getRouter,
  getServerId,
  getSubnetMask,
  getUserClasses,
  getVendorClass,
  hasRelaySourcePort,
  type DhcpMessage,
} from '../../src/index.js';

/*
 * Fuzzing of the DHCPv4 codec (RFC 2131 §2 header, RFC 2132 options, RFC 3396 long options,
 * RFC 3046 option 82) and of the typed option accessors the server and the relay client read.
 * Replaces the seeded mutation loop of dhcp-codec.test.ts (issue 15).
 */

const malformed = (err: unknown): boolean => isSwarmbootError(err, 'DHCP_MALFORMED');

/** Every accessor the request path calls; each may throw only DHCP_MALFORMED. */
const ACCESSORS: ((m: DhcpMessage) => unknown)[] = [
  getMessageType,
  getRequestedIp,
  getServerId,
  getLeaseTime,
  getSubnetMask,
  getRouter,
  getParameterRequestList,
  getVendorClass,
  getClientId,
  getUserClasses,
  getClientArchs,
  getHostname,
  getBootfileName,
  hasRelaySourcePort,
];

/** decode, then every accessor: nothing but DHCP_MALFORMED, nothing slow. */
function decodeAndRead(buf: Buffer): void {
  const msg = decodeOrReject(decodeDhcp, buf, malformed);
  if (msg === undefined) return;
  for (const read of ACCESSORS) decodeOrReject(read, msg, malformed);
}

const u8 = fc.integer({ min: 0, max: 255 });
const ip = fc.tuple(u8, u8, u8, u8).map((q) => q.join('.'));
/** text that survives a UTF-8 round trip, without NUL, at most `max` octets (the field's size less its NUL) */
const fieldText = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', maxLength: max }).filter((s) => !s.includes('\0') && Buffer.from(s, 'utf8').toString('utf8') === s && Buffer.byteLength(s, 'utf8') <= max);
const octets = (max: number): fc.Arbitrary<Buffer> => bytes(max);

/**
 * Option codes 1..254 but 52 (overload: a value 1..3 would turn sname/file into option areas,
 * which the encoder never writes); values up to 600 octets, so RFC 3396 splitting is exercised.
 */
const options: fc.Arbitrary<Map<number, Buffer>> = fc
  .uniqueArray(fc.tuple(fc.integer({ min: 1, max: 254 }).filter((c) => c !== DhcpOption.overload), octets(600)), { selector: ([code]) => code, maxLength: 24 })
  .map((entries) => new Map(entries));

/** DhcpMessage values the encoder accepts (RFC 2131 §2 field sizes; chaddr of hlen octets). */
export const dhcpMessage: fc.Arbitrary<DhcpMessage> = fc.integer({ min: 0, max: 16 }).chain((hlen) =>
  fc.record({
    op: fc.constantFrom(1, 2),
    htype: u8,
    hlen: fc.constant(hlen),
    hops: u8,
    xid: fc.integer({ min: 0, max: 0xffffffff }),
    secs: fc.integer({ min: 0, max: 0xffff }),
    flags: fc.integer({ min: 0, max: 0xffff }),
    ciaddr: ip,
    yiaddr: ip,
    siaddr: ip,
    giaddr: ip,
    chaddr: fc.uint8Array({ minLength: hlen, maxLength: hlen }).map((a) => Buffer.from(a)),
    sname: fieldText(63),
    file: fieldText(127),
    options,
  }),
);

/** Header and cookie intact, then random option octets: reaches the option parser far more often than plain random bytes. */
const cookieThenGarbage: fc.Arbitrary<Buffer> = fc.tuple(octets(236), octets(400), fc.constantFrom(1, 2), fc.integer({ min: 0, max: 20 })).map(([head, tail, op, hlen]) => {
  const header = Buffer.alloc(240);
  head.copy(header);
  header[0] = op;
  header[2] = hlen;
  header.writeUInt32BE(MAGIC_COOKIE, 236);
  return Buffer.concat([header, tail]);
});

const sortedEntries = (m: Map<number, Buffer>): [number, string][] => [...m].map(([c, v]): [number, string] => [c, v.toString('hex')]).sort((a, b) => a[0] - b[0]);

export const dhcpFuzz: FuzzSuite = {
  codec: 'dhcp',
  open: () =>
    Promise.resolve({
      properties: [
        { name: 'arbitrary bytes decode or throw DHCP_MALFORMED', property: fc.property(octets(700), decodeAndRead) },
        { name: 'a valid header with random options decodes or throws DHCP_MALFORMED', property: fc.property(cookieThenGarbage, decodeAndRead) },
        {
          name: 'decode(encode(m)) = m',
          property: fc.property(dhcpMessage, (m) => {
            const back = decodeDhcp(encodeDhcp(m));
            const { options: sent, ...head } = m;
            const { options: got, ...gotHead } = back;
            assert.deepEqual(gotHead, head);
            assert.deepEqual(sortedEntries(got), sortedEntries(sent));
          }),
        },
        {
          name: 'option 82 and option 77 lists round-trip',
          property: fc.property(
            fc.uniqueArray(fc.tuple(u8, octets(255)), { selector: ([c]) => c, maxLength: 8 }),
            fc.array(fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 6 }),
            (subs, classes) => {
              const relay = decodeRelayAgentInfo(encodeRelayAgentInfo(subs.map(([c, v]) => [c, v] as const)));
              assert.deepEqual([...relay].map(([c, v]) => [c, v.toString('hex')]), subs.map(([c, v]) => [c, v.toString('hex')]));
              const msg: DhcpMessage = { op: 1, htype: 1, hlen: 0, hops: 0, xid: 0, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: Buffer.alloc(0), sname: '', file: '', options: new Map([[DhcpOption.userClass, encodeUserClasses(classes)]]) };
              assert.deepEqual(getUserClasses(decodeDhcp(encodeDhcp(msg))), classes);
            },
          ),
        },
        { name: 'mutated valid messages decode or throw DHCP_MALFORMED', property: fc.property(mutated(dhcpMessage.map(encodeDhcp)), decodeAndRead) },
      ],
    }),
};
