import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import {
  decodeDhcp,
  decodeRelayAgentInfo,
  encodeRelayAgentInfo,
  encodeUserClasses,
  getBootfileName,
  getClientArch,
  getClientArchs,
  getHostname,
  getMessageType,
  getRelayAgentInfo,
  getUserClasses,
  getVendorClass,
  hasRelaySourcePort,
  bootfileOption,
} from '../src/index.js';
import { DISCOVER } from './fixtures/captures.js';

/**
 * A relayed PXE DISCOVER as an x64 UEFI ROM behind a relay sends it (options written out by
 * hand from RFC 2132, 3004, 3046, 4578 and 8357).
 */
const PXE_RELAYED_OPTIONS =
  '350101' + // 53 DISCOVER
  '3c20' + Buffer.from('PXEClient:Arch:00007:UNDI:003016').toString('hex') + // 60 vendor class (32 octets)
  '5d020007' + // 93 arch 7 (EFI x64)
  '5e03010300' + // 94 NDI UNDI 3.0
  '4d0a04695058450474657374' + // 77 RFC 3004 list: "iPXE", "test"
  '0c056e2d303031' + // 12 hostname "n-001"
  '520c' + '0104' + '65746830' + '0202' + 'abcd' + '1300' + // 82: circuit "eth0", remote abcd, relay source port
  'ff';

function msgWith(optionsHex: string) {
  return decodeDhcp(Buffer.concat([DISCOVER.subarray(0, 240), Buffer.from(optionsHex, 'hex')]));
}

function assertMalformed(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => isSwarmbootError(err, 'DHCP_MALFORMED'));
}

test('typed accessors read a relayed PXE DISCOVER', () => {
  const m = msgWith(PXE_RELAYED_OPTIONS);
  assert.equal(getMessageType(m), 1);
  assert.equal(getVendorClass(m), 'PXEClient:Arch:00007:UNDI:003016');
  assert.equal(getClientArch(m), 7);
  assert.deepEqual(getUserClasses(m), ['iPXE', 'test']);
  assert.equal(getHostname(m), 'n-001');
  const rai = getRelayAgentInfo(m);
  assert.equal(rai?.get(1)?.toString(), 'eth0');
  assert.equal(rai?.get(2)?.toString('hex'), 'abcd');
  assert.equal(rai?.get(19)?.length, 0);
  assert.equal(hasRelaySourcePort(m), true);
});

test('user class 77: bare "iPXE" text (as iPXE sends it) is one class', () => {
  assert.deepEqual(getUserClasses(msgWith('350101' + '4d04' + Buffer.from('iPXE').toString('hex') + 'ff')), ['iPXE']);
  // a zero UC_Len is not RFC 3004: taken as raw text
  assert.deepEqual(getUserClasses(msgWith('350101' + '4d0300' + '6162' + 'ff')), ['\u0000ab']);
  assert.equal(encodeUserClasses(['iPXE', 'x']).toString('hex'), '0469505845' + '0178');
});

test('option 93 is a list of 16-bit types; an odd length is malformed', () => {
  assert.deepEqual(getClientArchs(msgWith('350101' + '5d0400000007' + 'ff')), [0, 7]);
  assertMalformed(() => getClientArch(msgWith('350101' + '5d03000700' + 'ff')));
});

test('fixed-length options with a wrong length are malformed', () => {
  assertMalformed(() => getMessageType(msgWith('35020101' + 'ff')));
});

test('option 82 sub-options: round trip, and a sub-option past the option is malformed', () => {
  const subs: [number, Buffer][] = [
    [1, Buffer.from('eth0')],
    [19, Buffer.alloc(0)],
  ];
  const encoded = encodeRelayAgentInfo(subs);
  assert.equal(encoded.toString('hex'), '010465746830' + '1300');
  assert.deepEqual([...decodeRelayAgentInfo(encoded)], subs);
  assertMalformed(() => decodeRelayAgentInfo(Buffer.from('0105657468', 'hex')));
  assertMalformed(() => hasRelaySourcePort(msgWith('350101' + '52030104' + '65' + 'ff')));
  assert.equal(hasRelaySourcePort(msgWith('350101' + '5206' + '010465746830' + 'ff')), false);
});

test('option 67 is written with a NUL and read without it', () => {
  const value = bootfileOption('ipxe.efi');
  assert.equal(value.at(-1), 0);
  const m = msgWith('350101' + '43' + value.length.toString(16).padStart(2, '0') + value.toString('hex') + 'ff');
  assert.equal(getBootfileName(m), 'ipxe.efi');
});
