import { test } from 'node:test';
import assert from 'node:assert/strict';
import { negotiateRead } from '../src/domain/options.js';
import { normalizeRequestPath } from '../src/domain/paths.js';

const limits = { maxBlksize: 65464 };

test('no options: no OACK, blksize 512, windowsize 1', () => {
  assert.deepEqual(negotiateRead(new Map(), 100, limits), { blksize: 512, timeoutMs: undefined, windowsize: 1, oack: undefined });
});

test('blksize (RFC 2348): 8..65464 granted, larger capped, smaller or non-numeric declined', () => {
  assert.equal(negotiateRead(new Map([['blksize', '1432']]), 0, limits).oack?.get('blksize'), '1432');
  assert.equal(negotiateRead(new Map([['blksize', '8']]), 0, limits).blksize, 8);
  const big = negotiateRead(new Map([['blksize', '70000']]), 0, limits);
  assert.equal(big.blksize, 65464);
  assert.equal(big.oack?.get('blksize'), '65464');
  assert.equal(negotiateRead(new Map([['blksize', '1468']]), 0, { maxBlksize: 1400 }).blksize, 1400);
  for (const v of ['7', '0', '-1', '0x200', '', '1e3']) {
    const n = negotiateRead(new Map([['blksize', v]]), 0, limits);
    assert.equal(n.oack, undefined, `blksize ${JSON.stringify(v)}`);
    assert.equal(n.blksize, 512);
  }
});

test('tsize (RFC 2349): the OACK carries the size to be sent', () => {
  const n = negotiateRead(new Map([['tsize', '0']]), 123456, limits);
  assert.deepEqual([...(n.oack ?? [])], [['tsize', '123456']]);
});

test('timeout (RFC 2349): 1..255 seconds echoed and used; out of range declined', () => {
  const n = negotiateRead(new Map([['timeout', '3']]), 0, limits);
  assert.equal(n.timeoutMs, 3000);
  assert.equal(n.oack?.get('timeout'), '3');
  assert.equal(negotiateRead(new Map([['timeout', '0']]), 0, limits).oack, undefined);
  assert.equal(negotiateRead(new Map([['timeout', '256']]), 0, limits).oack, undefined);
});

test('only asked and accepted options are echoed; unknown ones (windowsize for now) are left out', () => {
  const n = negotiateRead(new Map([['windowsize', '16'], ['multicast', ''], ['tsize', '0'], ['blksize', '1024']]), 9, limits);
  assert.deepEqual([...(n.oack ?? [])], [['tsize', '9'], ['blksize', '1024']]);
  assert.equal(n.windowsize, 1);
});

test('request paths: relative to the root, leading slashes stripped, escapes refused', () => {
  assert.equal(normalizeRequestPath('pxelinux.0'), 'pxelinux.0');
  assert.equal(normalizeRequestPath('/boot/vmlinuz'), 'boot/vmlinuz');
  assert.equal(normalizeRequestPath('//boot//./x/../vmlinuz'), 'boot/vmlinuz');
  assert.equal(normalizeRequestPath('\\efi\\boot\\bootx64.efi'), 'efi/boot/bootx64.efi');
  assert.equal(normalizeRequestPath('/'), '.');
  assert.equal(normalizeRequestPath('a/..'), '.');
  for (const bad of ['../etc/passwd', '/../etc/passwd', 'a/../../etc/passwd', '..', '..\\..\\etc\\passwd', 'boot/../../x']) {
    assert.equal(normalizeRequestPath(bad), undefined, bad);
  }
});
