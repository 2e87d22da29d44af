import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { checkFileName, checkImageName } from '../src/domain/names.js';
import { isSeederPeerId, seederPeerId } from '../src/domain/peer-id.js';
import { SEEDER_PEER_ID_PREFIX } from '../src/index.js';

test('image names: letters, digits, . _ -, first a letter or digit, at most 64', () => {
  for (const ok of ['ubuntu', 'Ubuntu-24.04_amd64', '0', 'a'.repeat(64)]) assert.equal(checkImageName(ok), ok);
  for (const bad of ['', '.hidden', '-x', 'a/b', '..', 'a b', 'é', 'a'.repeat(65), undefined, 42]) {
    assert.throws(() => checkImageName(bad), (e: unknown) => isSwarmbootError(e, 'IMAGE_NAME_INVALID'), String(bad));
  }
});

test('file names are one path component without a leading dot', () => {
  assert.equal(checkFileName('disk.img'), 'disk.img');
  for (const bad of ['', '.seed-state.json', '../etc/passwd', 'a/b', 'a\\b', undefined]) {
    assert.throws(() => checkFileName(bad), (e: unknown) => isSwarmbootError(e, 'IMAGE_FILE_INVALID'), String(bad));
  }
});

test('the seeder peer id is 20 ASCII bytes starting with -SB0001-SEEDER', () => {
  assert.equal(SEEDER_PEER_ID_PREFIX, '-SB0001-SEEDER');
  const id = seederPeerId();
  assert.equal(id.length, 20);
  assert.equal(id.subarray(0, 14).toString('ascii'), '-SB0001-SEEDER');
  assert.match(id.toString('latin1'), /^[\x21-\x7e]{20}$/);
  assert.ok(isSeederPeerId(id));
  assert.ok(isSeederPeerId(id.toString('hex')), 'webtorrent reports peer ids as hex');
  assert.ok(!isSeederPeerId(Buffer.from('-WW0300-abcdefghijkl')));
  assert.ok(!isSeederPeerId(Buffer.from('-SB0001-SEED')), 'a truncated id is not the seeder');
});
