import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { SwarmbootError, type ImageRecord, type SignedImageManifest } from '@swarmboot/contracts';
import { checkManifestMatches, generateSigningKeyPair, parseSigningKey, signImageManifest, type SigningKey } from '@swarmboot/kit';

/** Reads a PKCS#8 PEM Ed25519 private key file (`swarmboot keygen`). Throws SIGNING_KEY_INVALID naming the file. */
export async function readSigningKey(path: string): Promise<SigningKey> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new SwarmbootError('SIGNING_KEY_INVALID', `cannot read the signing key ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  return parseSigningKey(pem, `signing key ${path}`);
}

/**
 * Writes a new Ed25519 key pair: `<prefix>.key` (PKCS#8 PEM, mode 0600) and `<prefix>.pub` (SPKI
 * PEM, for deployments' trustedKeys). Never overwrites a file (EEXIST). Returns the paths and keyId.
 */
export async function writeKeyPair(prefix: string): Promise<{ privateKeyPath: string; publicKeyPath: string; keyId: string }> {
  const pair = generateSigningKeyPair();
  const privateKeyPath = `${prefix}.key`;
  const publicKeyPath = `${prefix}.pub`;
  await writeFile(privateKeyPath, pair.privateKeyPem, { flag: 'wx', mode: 0o600 });
  await writeFile(publicKeyPath, pair.publicKeyPem, { flag: 'wx', mode: 0o644 });
  return { privateKeyPath, publicKeyPath, keyId: pair.keyId };
}

/** Size (bytes) and sha256 (hex) of a file, read once. */
async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Signs the catalog record of an image after checking it against the file the signer holds:
 * the file's size, sha256 and infohash (the .torrent the seeder makes of these bytes under the
 * record's file name and piece length) must be the record's, so the signer vouches for bytes it
 * has, not for what the seeder says. Throws IMAGE_MANIFEST_MISMATCH naming the fields that differ.
 */
export async function signRecord(file: string, record: ImageRecord, key: SigningKey, now = new Date()): Promise<SignedImageManifest> {
  if (!(await stat(file)).isFile()) throw new SwarmbootError('IMAGE_FILE_INVALID', `${file} is not a file`);
  const { size, sha256 } = await hashFile(file);
  // the seeder (and webtorrent) only when signing: `swarmboot image list` does not load them
  const { infoHashOfFile } = await import('@swarmboot/seeder');
  const infoHash = await infoHashOfFile(file, record.file, record.pieceLength);
  const manifest = { name: record.name, format: record.format, size, sha256, infoHash, created: now.toISOString() };
  checkManifestMatches(manifest, record, `catalog record (the seeder's; the file ${file} is the manifest)`);
  return signImageManifest(manifest, key);
}
