import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { SyslogFrameDecoder, type SyslogFramingReason } from '../src/protocol/syslog-framing.js';

// What util-linux logger 2.38.1 wrote on one connection (captured on this machine with a plain
// TCP listener): `printf 'one\ntwo\n' | logger --tcp --octet-count --rfc5424 -t sbtest`, and
// `printf 'three\n' | logger --tcp --rfc3164 -t sbtest` (non-transparent, LF trailer).
const M1 = '<12>1 2026-12-01T21:45:22.460861+00:00 vm sbtest - - [timeQuality tzKnown="1" isSynced="0"] one';
const M2 = '<12>1 2026-12-01T21:45:22.460924+00:00 vm sbtest - - [timeQuality tzKnown="1" isSynced="0"] two';
const OCTET_COUNTED = Buffer.from(`95 ${M1}95 ${M2}`);
const LF_FRAMED = Buffer.from('<13>Dec  1 21:45:22 vm sbtest: three\n');

function feed(decoder: SyslogFrameDecoder, bytes: Buffer, step: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += step) {
    const { frames, error } = decoder.push(bytes.subarray(i, i + step));
    assert.equal(error, undefined);
    for (const f of frames) out.push(f.toString());
  }
  return out;
}

function reasonOf(chunks: string[], max?: number): SyslogFramingReason | 'ok' {
  const d = new SyslogFrameDecoder(max);
  for (const c of chunks) {
    const { error } = d.push(Buffer.from(c));
    if (!error) continue;
    assert.ok(isSwarmbootError(error, 'SYSLOG_FRAMING'), String(error));
    return error.context['reason'] as SyslogFramingReason;
  }
  return 'ok';
}

test('octet counting (RFC 6587 §3.4.1): logger --octet-count, whole and byte by byte', () => {
  assert.equal(M1.length, 95);
  for (const step of [OCTET_COUNTED.length, 1, 2, 7, 96]) {
    const d = new SyslogFrameDecoder();
    assert.deepEqual(feed(d, OCTET_COUNTED, step), [M1, M2], `step ${step}`);
    assert.equal(d.mode, 'octet-counting');
    assert.equal(d.pending, 0);
  }
});

test('octet counting: a frame may hold LF and NUL (that is what the count is for); a cut one is pending', () => {
  const d = new SyslogFrameDecoder();
  assert.deepEqual(feed(d, Buffer.from('11 <14>a\nb\0c d10 <14>'), 3), ['<14>a\nb\0c d']);
  assert.equal(d.pending, 4, 'the second frame waits for its 10 bytes');
});

test('non-transparent framing (RFC 6587 §3.4.2): LF trailer, NUL trailer, empty frames skipped, byte by byte', () => {
  const d = new SyslogFrameDecoder();
  assert.deepEqual(feed(d, LF_FRAMED, 1), ['<13>Dec  1 21:45:22 vm sbtest: three']);
  assert.equal(d.mode, 'non-transparent');
  assert.deepEqual(feed(d, Buffer.from('<14>a\n\n<14>b\0<14>c'), 4), ['<14>a', '<14>b']);
  assert.equal(d.pending, 5, '"<14>c" has no trailer yet');
});

test('frames before a framing error in the same chunk are still given', () => {
  const { frames, error } = new SyslogFrameDecoder().push(Buffer.from('5 <14>a12x'));
  assert.deepEqual(frames.map(String), ['<14>a']);
  assert.equal(error?.context['reason'], 'bad_framing');
});

test('framing errors: wrong first byte, MSG-LEN broken or too large, an endless line', () => {
  assert.equal(reasonOf(['hello\n']), 'bad_framing');
  assert.equal(reasonOf(['0 ']), 'bad_framing');
  assert.equal(reasonOf(['5 <14>a', '0']), 'bad_framing', 'a later MSG-LEN with a leading zero');
  assert.equal(reasonOf(['12x']), 'bad_framing');
  assert.equal(reasonOf(['65537 ']), 'oversized');
  assert.equal(reasonOf(['9999999']), 'oversized', 'seven digits without SP');
  assert.equal(reasonOf(['101 '], 100), 'oversized');
  assert.equal(reasonOf(['100 '], 100), 'ok');
  assert.equal(reasonOf(['<14>' + 'x'.repeat(97)], 100), 'oversized');
  assert.equal(reasonOf(['<14>' + 'x'.repeat(96)], 100), 'ok');
});
