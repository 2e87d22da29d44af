import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSwarmbootError, type ImageRecord } from '@swarmboot/contracts';
import { parsePublicKey, verifyImageManifest } from '@swarmboot/kit';
import { infoHashOfFile, pieceLengthFor } from '@swarmboot/seeder';
import { readSigningKey, signRecord, writeKeyPair } from '../src/image-sign.js';

/**
 * The signer's side of issue 15: the key files `swarmboot keygen` writes, and `signRecord`, which
 * signs a catalog record only when the file the signer holds has the record's size, sha256 and
 * infohash — a seeder that answers with other bytes' figures gets no signature.
 */
test('keygen writes a 0600 private key and a public key, never over existing files; signRecord signs only a record of the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sb-image-sign-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const keys = await writeKeyPair(join(dir, 'ops'));
  assert.equal((await stat(keys.privateKeyPath)).mode & 0o777, 0o600);
  const pub = parsePublicKey(await readFile(keys.publicKeyPath, 'utf8'));
  assert.equal(pub.keyId, keys.keyId);
  await assert.rejects(writeKeyPair(join(dir, 'ops')), (err: NodeJS.ErrnoException) => err.code === 'EEXIST');
  await assert.rejects(readSigningKey(keys.publicKeyPath), (err: unknown) => isSwarmbootError(err, 'SIGNING_KEY_INVALID'));
  await assert.rejects(readSigningKey(join(dir, 'missing.key')), (err: unknown) => isSwarmbootError(err, 'SIGNING_KEY_INVALID'));

  const file = join(dir, 'disk.img');
  const bytes = Buffer.alloc(300_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 255;
  await writeFile(file, bytes);
  const pieceLength = pieceLengthFor(bytes.length);
  const record: ImageRecord = {
    name: 'disk', file: 'disk.img', format: 'raw-disk', bootable: false, size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    infoHash: await infoHashOfFile(file, 'disk.img', pieceLength),
    pieceLength, torrentUrl: 'http://seeder/torrent', webSeedUrl: 'http://seeder/file', addedAt: new Date().toISOString(),
  };
  const key = await readSigningKey(keys.privateKeyPath);
  const signed = await signRecord(file, record, key);
  assert.equal(verifyImageManifest(signed, [pub]).keyId, keys.keyId);
  assert.deepEqual([signed.name, signed.format, signed.size, signed.sha256, signed.infoHash], [record.name, record.format, record.size, record.sha256, record.infoHash]);

  for (const [lie, field] of [
    [{ sha256: 'f'.repeat(64) }, 'sha256'],
    [{ size: bytes.length + 1 }, 'size'],
    [{ infoHash: '0'.repeat(40) }, 'infoHash'],
    // the seeder's .torrent under another file name is another infohash
    [{ file: 'other.img' }, 'infoHash'],
  ] as const) {
    await assert.rejects(signRecord(file, { ...record, ...lie }, key), (err: unknown) => isSwarmbootError(err, 'IMAGE_MANIFEST_MISMATCH') && err.message.includes(`${field}: manifest`), JSON.stringify(lie));
  }
});
