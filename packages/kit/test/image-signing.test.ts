import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { isSwarmbootError, type ErrorCode, type ImageManifest, type SignedImageManifest } from '@swarmboot/contracts';
import {
  checkManifestMatches,
  generateSigningKeyPair,
  keyIdOf,
  manifestSigningBytes,
  parsePublicKey,
  parsePublicKeys,
  parseSigningKey,
  signImageManifest,
  verifyImageManifest,
  type SigningKey,
} from '../src/index.js';

const manifest: ImageManifest = {
  name: 'debian-12',
  format: 'rootfs-tar',
  size: 171857920,
  sha256: 'a'.repeat(64),
  infoHash: 'b'.repeat(40),
  created: '2026-12-02T03:00:00.000Z',
};

function newKey(): { signer: SigningKey; publicPem: string } {
  const pair = generateSigningKeyPair();
  return { signer: parseSigningKey(pair.privateKeyPem), publicPem: pair.publicKeyPem };
}

function code(fn: () => unknown): ErrorCode | string {
  try {
    fn();
  } catch (err) {
    return isSwarmbootError(err) ? err.code : String(err);
  }
  return 'no error';
}

test('RFC 8032 §7.1 test 1: a raw base64 public key verifies the RFC’s signature (pure Ed25519, no prehash)', () => {
  const pub = parsePublicKey(Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex').toString('base64'));
  const sig = Buffer.from('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b', 'hex');
  assert.equal(verify(null, Buffer.alloc(0), pub.key, sig), true);
  assert.equal(pub.keyId, createHash('sha256').update(Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex')).digest('hex').slice(0, 16));
});

test('the signed bytes are the RFC 8785 canonical JSON of the six fields and keyId, whatever the key order or extra fields', () => {
  const bytes = manifestSigningBytes({ ...manifest, keyId: '0123456789abcdef' });
  assert.equal(
    bytes.toString('utf8'),
    `{"created":"2026-12-02T03:00:00.000Z","format":"rootfs-tar","infoHash":"${'b'.repeat(40)}","keyId":"0123456789abcdef","name":"debian-12","sha256":"${'a'.repeat(64)}","size":171857920}`,
  );
  const reordered = JSON.parse('{"size":171857920,"keyId":"0123456789abcdef","sha256":"' + 'a'.repeat(64) + '","name":"debian-12","infoHash":"' + 'b'.repeat(40) + '","format":"rootfs-tar","created":"2026-12-02T03:00:00.000Z","extra":1}') as ImageManifest & { keyId: string };
  assert.deepEqual(manifestSigningBytes(reordered), bytes);
});

test('a manifest signed with a key verifies with its public key, given as PEM or as raw base64; keyId is sha256 of the raw key', () => {
  const { signer, publicPem } = newKey();
  const signed = signImageManifest(manifest, signer);
  const raw = Buffer.from(createPublicKey(publicPem).export({ format: 'jwk' }).x ?? '', 'base64url');
  assert.equal(raw.length, 32);
  assert.equal(signed.keyId, createHash('sha256').update(raw).digest('hex').slice(0, 16));
  assert.equal(verifyImageManifest(signed, [parsePublicKey(publicPem)]).keyId, signed.keyId);
  assert.equal(verifyImageManifest(signed, [parsePublicKey(raw.toString('base64'))]).keyId, signed.keyId);
  // an independent check of the signature with node:crypto over the documented bytes
  assert.equal(verify(null, manifestSigningBytes(signed), createPublicKey(publicPem), Buffer.from(signed.signature, 'base64')), true);
});

test('every signed field changed, or the signature changed, is IMAGE_SIGNATURE_INVALID', () => {
  const { signer, publicPem } = newKey();
  const trusted = [parsePublicKey(publicPem)];
  const signed = signImageManifest(manifest, signer);
  const changes: Partial<SignedImageManifest>[] = [
    { name: 'debian-13' },
    { format: 'raw-disk' },
    { size: manifest.size + 1 },
    { sha256: 'c'.repeat(64) },
    { infoHash: 'd'.repeat(40) },
    { created: '2026-12-02T03:00:00.001Z' },
  ];
  for (const change of changes) assert.equal(code(() => verifyImageManifest({ ...signed, ...change }, trusted)), 'IMAGE_SIGNATURE_INVALID', JSON.stringify(change));
  const sig = Buffer.from(signed.signature, 'base64');
  sig[10] = (sig[10] ?? 0) ^ 1;
  assert.equal(code(() => verifyImageManifest({ ...signed, signature: sig.toString('base64') }, trusted)), 'IMAGE_SIGNATURE_INVALID');
  // a field added (additionalProperties: false), a field missing
  assert.equal(code(() => verifyImageManifest({ ...signed, bootable: true }, trusted)), 'IMAGE_SIGNATURE_INVALID');
  const { created: _c, ...missing } = signed;
  assert.equal(code(() => verifyImageManifest(missing, trusted)), 'IMAGE_SIGNATURE_INVALID');
  assert.equal(code(() => verifyImageManifest('not an object', trusted)), 'IMAGE_SIGNATURE_INVALID');
});

test('a manifest signed by a key not trusted is IMAGE_KEY_UNTRUSTED; claiming the trusted keyId does not help', () => {
  const a = newKey();
  const b = newKey();
  const byB = signImageManifest(manifest, b.signer);
  const trustA = [parsePublicKey(a.publicPem)];
  assert.equal(code(() => verifyImageManifest(byB, trustA)), 'IMAGE_KEY_UNTRUSTED');
  assert.equal(code(() => verifyImageManifest(byB, [])), 'IMAGE_KEY_UNTRUSTED');
  // B's signature relabelled with A's keyId: the keyId is signed, and B's signature does not verify with A
  assert.equal(code(() => verifyImageManifest({ ...byB, keyId: trustA[0]?.keyId }, trustA)), 'IMAGE_SIGNATURE_INVALID');
});

test('key rotation: with old and new trusted both verify; with the old key removed its manifests are refused', () => {
  const oldKey = newKey();
  const newer = newKey();
  const byOld = signImageManifest(manifest, oldKey.signer);
  const byNew = signImageManifest(manifest, newer.signer);
  const both = parsePublicKeys(`# rotation in progress\n${oldKey.publicPem}\n${newer.publicPem}`, 'keys file');
  assert.deepEqual(both.map((k) => k.keyId), [byOld.keyId, byNew.keyId]);
  assert.equal(verifyImageManifest(byOld, both).keyId, byOld.keyId);
  assert.equal(verifyImageManifest(byNew, both).keyId, byNew.keyId);
  const afterRotation = parsePublicKeys(newer.publicPem, 'keys file');
  assert.equal(code(() => verifyImageManifest(byOld, afterRotation)), 'IMAGE_KEY_UNTRUSTED');
  assert.equal(verifyImageManifest(byNew, afterRotation).keyId, byNew.keyId);
});

test('keys that are not Ed25519, or not keys, are SIGNING_KEY_INVALID naming them', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  assert.equal(code(() => parsePublicKey(rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString())), 'SIGNING_KEY_INVALID');
  assert.equal(code(() => parseSigningKey(rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())), 'SIGNING_KEY_INVALID');
  assert.equal(code(() => parsePublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----')), 'SIGNING_KEY_INVALID');
  assert.equal(code(() => parsePublicKey(Buffer.alloc(31).toString('base64'))), 'SIGNING_KEY_INVALID');
  assert.equal(code(() => parseSigningKey('not a key')), 'SIGNING_KEY_INVALID');
  try {
    parsePublicKeys(`${Buffer.alloc(32, 1).toString('base64')}\nnonsense`, '/etc/swarmboot/trusted.pub');
    assert.fail('expected a refusal');
  } catch (err) {
    assert.ok(isSwarmbootError(err, 'SIGNING_KEY_INVALID'));
    assert.match(err.message, /\/etc\/swarmboot\/trusted\.pub: line 2/);
  }
  // a private key PEM in a trusted keys list is refused, not turned into its public half
  const ed = generateSigningKeyPair();
  assert.equal(code(() => parsePublicKey(ed.privateKeyPem)), 'SIGNING_KEY_INVALID');
  assert.equal(parseSigningKey(ed.privateKeyPem).publicKey.keyId, ed.keyId);
  assert.equal(createPrivateKey(ed.privateKeyPem).asymmetricKeyType, 'ed25519');
});

test('checkManifestMatches names every differing field; a field the subject lacks is not compared', () => {
  try {
    checkManifestMatches(manifest, { ...manifest, size: 1, sha256: 'e'.repeat(64) }, 'catalog record');
    assert.fail('expected a refusal');
  } catch (err) {
    assert.ok(isSwarmbootError(err, 'IMAGE_MANIFEST_MISMATCH'));
    assert.match(err.message, /size: manifest 171857920, catalog record 1/);
    assert.match(err.message, /sha256: manifest a{64}, catalog record e{64}/);
    assert.doesNotMatch(err.message, /infoHash/);
  }
  checkManifestMatches(manifest, { infoHash: manifest.infoHash }, '.torrent');
  // the keyId is over the raw key (32 bytes), not its PEM
  const pem = generateSigningKeyPair().publicKeyPem;
  assert.equal(keyIdOf(Buffer.from(createPublicKey(pem).export({ format: 'jwk' }).x ?? '', 'base64url')), parsePublicKey(pem).keyId);
  // node:crypto's own round trip for reference: sign(null) is what signImageManifest uses
  const k = generateKeyPairSync('ed25519');
  assert.equal(verify(null, Buffer.from('x'), k.publicKey, sign(null, Buffer.from('x'), k.privateKey)), true);
});
