import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { decodeNetconsole, extendedLine, MAX_NETCONSOLE_MESSAGE_BYTES, type NetconsoleMalformedReason } from '../src/protocol/netconsole.js';

function reasonOf(input: Buffer): NetconsoleMalformedReason | 'decoded' {
  try {
    decodeNetconsole(input);
    return 'decoded';
  } catch (err) {
    assert.ok(isSwarmbootError(err, 'NETCONSOLE_MALFORMED'), String(err));
    return err.context['reason'] as NetconsoleMalformedReason;
  }
}

function extended(s: string | Buffer) {
  const d = decodeNetconsole(typeof s === 'string' ? Buffer.from(s) : s);
  assert.equal(d.kind, 'extended');
  return d;
}

test('plain format: console text, one line or several, severity 6 unless a <N> prefix says otherwise', () => {
  // What a 6.1 kernel sends with netconsole=@/,6666@ip/ (printk.time on): the text and its newline.
  const one = decodeNetconsole(Buffer.from('[    0.000000] Linux version 6.1.0-27-amd64 (debian-kernel@lists.debian.org)\n'));
  assert.deepEqual(one, { kind: 'plain', lines: [{ format: 'netconsole', facility: 0, severity: 6, message: '[    0.000000] Linux version 6.1.0-27-amd64 (debian-kernel@lists.debian.org)' }] });
  const two = decodeNetconsole(Buffer.from('<3>[    2.5] sd 0:0:0:0: [sda] failed\r\n\n<12>user says\n<999>not a level\n'));
  assert.equal(two.kind, 'plain');
  if (two.kind !== 'plain') return;
  assert.deepEqual(
    two.lines.map((l) => [l.facility, l.severity, l.message]),
    [
      [0, 3, '[    2.5] sd 0:0:0:0: [sda] failed'],
      [1, 4, 'user says'],
      [0, 6, '<999>not a level'],
    ],
  );
});

test('plain format: bytes that are not UTF-8 become U+FFFD; nothing but line ends is empty', () => {
  const d = decodeNetconsole(Buffer.from([0x62, 0x61, 0xff, 0x64, 0x0a]));
  assert.equal(d.kind === 'plain' && d.lines[0]?.message, 'ba\ufffdd');
  assert.equal(reasonOf(Buffer.from('\n\r\n\0')), 'empty');
  assert.equal(reasonOf(Buffer.alloc(0)), 'empty');
  assert.equal(reasonOf(Buffer.alloc(64 * 1024 + 1, 0x61)), 'oversized');
});

test('extended format (netconsole.rst "Extended console"): level, seq, µs since boot, contflag, \\xNN escapes, dictionary', () => {
  const d = extended('6,416,1758426,-;e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps\\x0aFull\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:19.0\n');
  if (d.kind !== 'extended') return;
  assert.deepEqual(d.header, { facility: 0, severity: 6, seq: 416, bootTimeUs: 1758426, contflag: '-' });
  assert.deepEqual(extendedLine(d.header, d.body), {
    format: 'netconsole',
    facility: 0,
    severity: 6,
    message: 'e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps\nFull',
    seq: 416,
    bootTimeUs: 1758426,
    fields: { SUBSYSTEM: 'pci', DEVICE: '+pci:0000:00:19.0' },
  });
  // /dev/kmsg written by a user process: facility user (13 = 1 << 3 | 5); UTF-8 escaped byte by byte.
  const u = extended('13,468,514729715,c;caf\\xc3\\xa9 \\x5c');
  if (u.kind !== 'extended') return;
  assert.deepEqual([u.header.facility, u.header.severity, u.header.contflag], [1, 5, 'c']);
  assert.equal(extendedLine(u.header, u.body).message, 'café \\');
});

test('fuzz regression: a dictionary key named __proto__ (input "6,1,2,-;x\\n __proto__=v") is kept', () => {
  const d = extended('6,1,2,-;x\n __proto__=v\n constructor=w');
  if (d.kind !== 'extended') return;
  assert.deepEqual(Object.entries(extendedLine(d.header, d.body).fields ?? {}), [
    ['__proto__', 'v'],
    ['constructor', 'w'],
  ]);
});

test('extended format: release prepended (`r`), ncfrag, unknown fields after the flag', () => {
  const d = extended('6.13.0-04048-g4f561a87745a,13,468,514729715,-,ncfrag=0/31;the first chunk,');
  if (d.kind !== 'extended') return;
  assert.deepEqual(d.header, { facility: 1, severity: 5, seq: 468, bootTimeUs: 514729715, contflag: '-', release: '6.13.0-04048-g4f561a87745a', fragment: { offset: 0, total: 31 } });
  assert.equal(d.body.toString(), 'the first chunk,');
  const x = extended('4,17,99,+,future=1;text');
  assert.equal(x.kind === 'extended' && x.header.fragment, undefined);
});

test('extended format: a bad level or ncfrag is dropped; text that only looks like a header is plain', () => {
  assert.equal(reasonOf(Buffer.from('192,1,1,-;x')), 'bad_header');
  assert.equal(reasonOf(Buffer.from('6,1,1,-,ncfrag=16/20;12345')), 'bad_fragment', 'past the total');
  assert.equal(reasonOf(Buffer.from('6,1,1,-,ncfrag=0/20;')), 'bad_fragment', 'no body');
  assert.equal(reasonOf(Buffer.from(`6,1,1,-,ncfrag=0/${MAX_NETCONSOLE_MESSAGE_BYTES + 1};x`)), 'bad_fragment', 'a total above the bound');
  for (const text of ['a,b;c\n', '6,1,1;x\n', '6,1,x,-;y\n', '[ 1.0] 6,1,1,-;y\n']) assert.equal(decodeNetconsole(Buffer.from(text)).kind, 'plain', text);
});
