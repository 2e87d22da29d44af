import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { decodeTftp, encodeTftp, toNetascii, type TftpPacket } from '../src/protocol/tftp.js';

/** Bytes from a readable spec: strings as ASCII, numbers as single bytes. */
function bytes(...parts: (string | number)[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from([p]))));
}

function assertMalformed(buf: Buffer, pattern?: RegExp): void {
  assert.throws(
    () => decodeTftp(buf),
    (err: unknown) => isSwarmbootError(err, 'TFTP_MALFORMED') && (pattern === undefined || pattern.test(err.message)),
    `expected TFTP_MALFORMED for ${buf.toString('hex')}`,
  );
}

// RRQ for pxelinux.0 in octet mode with blksize 1432 and tsize 0, as iPXE sends it.
const RRQ_WITH_OPTIONS = bytes(0, 1, 'pxelinux.0', 0, 'octet', 0, 'blksize', 0, '1432', 0, 'tsize', 0, '0', 0);

test('RRQ: filename, mode and options decode; option names are case-insensitive', () => {
  const p = decodeTftp(bytes(0, 1, 'boot/vmlinuz', 0, 'OcTeT', 0, 'BlkSize', 0, '1468', 0, 'TSIZE', 0, '0', 0));
  assert.equal(p.kind, 'RRQ');
  if (p.kind !== 'RRQ') return;
  assert.equal(p.filename, 'boot/vmlinuz');
  assert.equal(p.mode, 'octet');
  assert.deepEqual([...p.options], [
    ['blksize', '1468'],
    ['tsize', '0'],
  ]);
});

test('RRQ: mode netascii (any case) and octet; an unknown mode is malformed', () => {
  const a = decodeTftp(bytes(0, 1, 'f', 0, 'NETASCII', 0));
  assert.equal(a.kind === 'RRQ' && a.mode, 'netascii');
  const o = decodeTftp(bytes(0, 1, 'f', 0, 'octet', 0));
  assert.equal(o.kind === 'RRQ' && o.mode, 'octet');
  assert.equal(o.kind === 'RRQ' && o.options.size, 0);
  assertMalformed(bytes(0, 1, 'f', 0, 'binary', 0), /unknown mode/);
});

test('WRQ decodes like RRQ', () => {
  const p = decodeTftp(bytes(0, 2, 'upload.img', 0, 'octet', 0));
  assert.deepEqual(p, { kind: 'WRQ', filename: 'upload.img', mode: 'octet', options: new Map() });
});

test('RRQ truncated at every byte: malformed except exactly after a complete option pair', () => {
  // positions (prefix lengths) where the prefix is itself a complete request
  const afterMode = 2 + 'pxelinux.0'.length + 1 + 'octet'.length + 1;
  const afterBlksize = afterMode + 'blksize'.length + 1 + '1432'.length + 1;
  const complete = new Set([afterMode, afterBlksize]);
  for (let len = 0; len < RRQ_WITH_OPTIONS.length; len++) {
    const prefix = RRQ_WITH_OPTIONS.subarray(0, len);
    if (complete.has(len)) {
      const p = decodeTftp(prefix);
      assert.equal(p.kind, 'RRQ', `prefix of ${len} bytes`);
    } else assertMalformed(prefix);
  }
  const full = decodeTftp(RRQ_WITH_OPTIONS);
  assert.equal(full.kind === 'RRQ' && full.options.get('tsize'), '0');
});

test('missing NUL terminators are malformed', () => {
  assertMalformed(bytes(0, 1, 'file'), /filename: missing NUL/);
  assertMalformed(bytes(0, 1, 'file', 0, 'octet'), /mode: missing NUL/);
  assertMalformed(bytes(0, 1, 'file', 0, 'octet', 0, 'blksize'), /option name: missing NUL/);
  assertMalformed(bytes(0, 1, 'file', 0, 'octet', 0, 'blksize', 0, '512'), /blksize value: missing NUL/);
  assertMalformed(bytes(0, 5, 0, 1, 'File not found'), /error message: missing NUL/);
  assertMalformed(bytes(0, 6, 'tsize', 0, '42'), /missing NUL/);
});

test('bad opcodes are malformed', () => {
  for (const op of [0, 7, 255, 0x0100]) assertMalformed(bytes(op >> 8, op & 0xff, 0, 1), /unknown opcode/);
  assertMalformed(bytes(), /shorter than an opcode/);
  assertMalformed(bytes(0), /shorter than an opcode/);
});

test('duplicate options are rejected, whatever their case', () => {
  assertMalformed(bytes(0, 1, 'f', 0, 'octet', 0, 'blksize', 0, '512', 0, 'BLKSIZE', 0, '1024', 0), /duplicate option blksize/);
  assertMalformed(bytes(0, 6, 'tsize', 0, '1', 0, 'tsize', 0, '1', 0), /duplicate option tsize/);
});

test('empty filename and empty option name are malformed; NUL padding after the options is tolerated', () => {
  assertMalformed(bytes(0, 1, 0, 'octet', 0), /empty filename/);
  assertMalformed(bytes(0, 1, 'f', 0, 'octet', 0, 0, 'x', 0), /empty option name/);
  const padded = decodeTftp(bytes(0, 1, 'f', 0, 'octet', 0, 'tsize', 0, '0', 0, 0, 0, 0));
  assert.deepEqual(padded.kind === 'RRQ' && [...padded.options], [['tsize', '0']]);
});

test('DATA: block number and payload (empty payload allowed); shorter than 4 bytes is malformed', () => {
  assert.deepEqual(decodeTftp(bytes(0, 3, 0xff, 0xff, 'abc')), { kind: 'DATA', block: 65535, data: Buffer.from('abc') });
  assert.deepEqual(decodeTftp(bytes(0, 3, 0, 0)), { kind: 'DATA', block: 0, data: Buffer.alloc(0) });
  assertMalformed(bytes(0, 3, 0), /DATA shorter/);
});

test('ACK: block number; truncated is malformed', () => {
  assert.deepEqual(decodeTftp(bytes(0, 4, 0x01, 0x02)), { kind: 'ACK', block: 0x0102 });
  assertMalformed(bytes(0, 4), /ACK shorter/);
  assertMalformed(bytes(0, 4, 1), /ACK shorter/);
});

test('ERROR: code and message', () => {
  assert.deepEqual(decodeTftp(bytes(0, 5, 0, 8, 'tsize probe', 0)), { kind: 'ERROR', code: 8, message: 'tsize probe' });
  assert.deepEqual(decodeTftp(bytes(0, 5, 0, 1, 0)), { kind: 'ERROR', code: 1, message: '' });
  for (let len = 0; len < 4; len++) assertMalformed(bytes(0, 5, 0, 1, 0).subarray(0, len));
});

test('OACK: options; an OACK without options is malformed', () => {
  const p = decodeTftp(bytes(0, 6, 'blksize', 0, '1432', 0, 'tsize', 0, '123456', 0));
  assert.deepEqual(p.kind === 'OACK' && [...p.options], [
    ['blksize', '1432'],
    ['tsize', '123456'],
  ]);
  assertMalformed(bytes(0, 6), /without options/);
});

test('encode produces the RFC 1350 byte layout', () => {
  assert.deepEqual(encodeTftp({ kind: 'RRQ', filename: 'pxelinux.0', mode: 'octet', options: new Map([['blksize', '1432'], ['tsize', '0']]) }), RRQ_WITH_OPTIONS);
  assert.deepEqual(encodeTftp({ kind: 'DATA', block: 513, data: Buffer.from('hi') }), bytes(0, 3, 2, 1, 'hi'));
  assert.deepEqual(encodeTftp({ kind: 'ACK', block: 0 }), bytes(0, 4, 0, 0));
  assert.deepEqual(encodeTftp({ kind: 'ERROR', code: 5, message: 'Unknown transfer ID' }), bytes(0, 5, 0, 5, 'Unknown transfer ID', 0));
  assert.deepEqual(encodeTftp({ kind: 'OACK', options: new Map([['tsize', '42']]) }), bytes(0, 6, 'tsize', 0, '42', 0));
});

test('encode then decode returns the packet', () => {
  const packets: TftpPacket[] = [
    { kind: 'RRQ', filename: 'a/b.efi', mode: 'netascii', options: new Map([['timeout', '3']]) },
    { kind: 'WRQ', filename: 'x', mode: 'octet', options: new Map() },
    { kind: 'DATA', block: 0, data: Buffer.alloc(1432, 7) },
    { kind: 'ACK', block: 65535 },
    { kind: 'ERROR', code: 2, message: 'Access violation' },
    { kind: 'OACK', options: new Map([['blksize', '8'], ['tsize', '0']]) },
  ];
  for (const p of packets) assert.deepEqual(decodeTftp(encodeTftp(p)), p);
});

test('encode refuses what cannot be sent', () => {
  assert.throws(() => encodeTftp({ kind: 'DATA', block: 65536, data: Buffer.alloc(0) }), (e: unknown) => isSwarmbootError(e, 'TFTP_MALFORMED'));
  assert.throws(() => encodeTftp({ kind: 'RRQ', filename: 'a\0b', mode: 'octet', options: new Map() }), (e: unknown) => isSwarmbootError(e, 'TFTP_MALFORMED'));
  assert.throws(() => encodeTftp({ kind: 'OACK', options: new Map([['Tsize', '1'], ['tsize', '1']]) }), /duplicate option/);
});

test('netascii: LF becomes CR LF, bare CR becomes CR NUL (RFC 764)', () => {
  assert.deepEqual(toNetascii(Buffer.from('a\nb\rc')), bytes('a', 13, 10, 'b', 13, 0, 'c'));
  const plain = Buffer.from('no line ends');
  assert.equal(toNetascii(plain), plain);
});
