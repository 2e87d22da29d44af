import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import { Value } from '@sinclair/typebox/value';
import { SignedImageManifest, SwarmbootError, type ImageManifest } from '@swarmboot/contracts';

/**
 * Signed image manifests (issue 15): Ed25519 (RFC 8032) over RFC 8785 canonical JSON, with
 * node:crypto's one-shot `sign(null, …)` / `verify(null, …)` (Ed25519 hashes internally, so no
 * digest is named). A key is named by its keyId: the first 16 hex digits of the sha256 of its raw
 * 32-byte public key (RFC 8032 §5.1.5 encoding, the last 32 bytes of its SPKI DER).
 */

/** An Ed25519 public key a deployment trusts. */
export interface TrustedKey {
  /** 16 hex digits: sha256 of `raw`, first 8 bytes */
  keyId: string;
  /** the raw 32-byte public key, base64 (the form agents receive it in) */
  raw: string;
  key: KeyObject;
}

/** An Ed25519 private key that signs manifests, with its public half. */
export interface SigningKey {
  key: KeyObject;
  publicKey: TrustedKey;
}

/** DER SPKI header of every Ed25519 public key (RFC 8410 §4): SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (33 bytes) }. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const RAW_KEY_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

/** keyId of a raw 32-byte Ed25519 public key: sha256, first 16 hex digits. */
export function keyIdOf(raw: Uint8Array): string {
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

function trustedKeyOf(key: KeyObject, what: string): TrustedKey {
  if (key.asymmetricKeyType !== 'ed25519') throw new SwarmbootError('SIGNING_KEY_INVALID', `${what} is a ${key.asymmetricKeyType ?? 'symmetric'} key, not Ed25519`);
  const raw = key.export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length);
  return { keyId: keyIdOf(raw), raw: raw.toString('base64'), key };
}

/**
 * An Ed25519 public key from text: an SPKI PEM (`-----BEGIN PUBLIC KEY-----`, as `swarmboot keygen`
 * and `openssl pkey -pubout` write it) or the raw 32 bytes in base64 (44 characters). `what`
 * names the key in errors. Throws SwarmbootError SIGNING_KEY_INVALID.
 */
export function parsePublicKey(text: string, what = 'the public key'): TrustedKey {
  const t = text.trim();
  try {
    if (t.startsWith('-----BEGIN PUBLIC KEY-----')) return trustedKeyOf(createPublicKey({ key: t, format: 'pem' }), what);
    // node would derive the public half of a private key PEM: a private key has no business in a trust list
    if (t.startsWith('-----BEGIN')) throw new SwarmbootError('SIGNING_KEY_INVALID', `${what} is a PEM ${/^-----BEGIN ([A-Z ]+)-----/.exec(t)?.[1] ?? 'block'}, not a PUBLIC KEY`);
    if (RAW_KEY_BASE64.test(t)) return trustedKeyOf(createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(t, 'base64')]), format: 'der', type: 'spki' }), what);
  } catch (err) {
    if (err instanceof SwarmbootError) throw err;
    throw new SwarmbootError('SIGNING_KEY_INVALID', `${what} does not parse as an Ed25519 public key: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  throw new SwarmbootError('SIGNING_KEY_INVALID', `${what} is neither a PEM public key nor 32 bytes in base64 (44 characters)`);
}

/**
 * Every public key of a text holding several: PEM blocks, or one raw base64 key per line; blank
 * lines and `#` comments skipped. `what` names the source in errors (a file, a variable).
 * Throws SIGNING_KEY_INVALID naming the entry.
 */
export function parsePublicKeys(text: string, what: string): TrustedKey[] {
  const keys: TrustedKey[] = [];
  const pem = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g;
  for (const m of text.matchAll(pem)) keys.push(parsePublicKey(m[0], `${what}: PEM block ${keys.length + 1}`));
  const rest = text.replace(pem, '').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  rest.forEach((line, i) => keys.push(parsePublicKey(line, `${what}: line ${i + 1} outside PEM blocks`)));
  return keys;
}

/** An Ed25519 private key from a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). Throws SIGNING_KEY_INVALID. */
export function parseSigningKey(pem: string, what = 'the signing key'): SigningKey {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new SwarmbootError('SIGNING_KEY_INVALID', `${what} does not parse as a PEM private key: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SwarmbootError('SIGNING_KEY_INVALID', `${what} is a ${key.asymmetricKeyType ?? 'symmetric'} key, not Ed25519`);
  return { key, publicKey: trustedKeyOf(createPublicKey(key), what) };
}

/** A new Ed25519 key pair: the private key as PKCS#8 PEM, the public one as SPKI PEM, and its keyId. */
export function generateSigningKeyPair(): { privateKeyPem: string; publicKeyPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    keyId: trustedKeyOf(publicKey, 'the new key').keyId,
  };
}

/**
 * The bytes an Ed25519 signature covers: the RFC 8785 canonical JSON (UTF-8) of the manifest's
 * fields `name, format, size, sha256, infoHash, created` and `keyId` — only these, whatever else
 * the object holds.
 */
export function manifestSigningBytes(m: ImageManifest & { keyId: string }): Buffer {
  const { name, format, size, sha256, infoHash, created, keyId } = m;
  return Buffer.from(canonicalize({ name, format, size, sha256, infoHash, created, keyId }) ?? '', 'utf8');
}

/** Signs `manifest` with `signer`. */
export function signImageManifest(manifest: ImageManifest, signer: SigningKey): SignedImageManifest {
  const { name, format, size, sha256, infoHash, created } = manifest;
  const unsigned = { name, format, size, sha256, infoHash, created, keyId: signer.publicKey.keyId };
  return { ...unsigned, signature: sign(null, manifestSigningBytes(unsigned), signer.key).toString('base64') };
}

/**
 * Checks that `signed` is a SignedImageManifest signed by one of `trusted`; returns that key.
 * Throws SwarmbootError IMAGE_SIGNATURE_INVALID (malformed, or the signature does not verify:
 * a field or the signature was changed) or IMAGE_KEY_UNTRUSTED (its keyId is none of `trusted`).
 */
export function verifyImageManifest(signed: unknown, trusted: readonly TrustedKey[]): TrustedKey {
  if (!Value.Check(SignedImageManifest, signed)) {
    const first = Value.Errors(SignedImageManifest, signed).First();
    throw new SwarmbootError('IMAGE_SIGNATURE_INVALID', `the signed manifest is malformed${first ? `: ${first.path || '/'} ${first.message}` : ''}`);
  }
  const candidates = trusted.filter((k) => k.keyId === signed.keyId);
  if (candidates.length === 0) {
    throw new SwarmbootError('IMAGE_KEY_UNTRUSTED', `manifest of ${signed.name} is signed by key ${signed.keyId}; trusted: ${trusted.map((k) => k.keyId).join(', ') || 'none'}`, { context: { keyId: signed.keyId } });
  }
  const data = manifestSigningBytes(signed);
  const signature = Buffer.from(signed.signature, 'base64');
  const key = candidates.find((k) => verify(null, data, k.key, signature));
  if (!key) throw new SwarmbootError('IMAGE_SIGNATURE_INVALID', `the signature of ${signed.name}'s manifest does not verify with key ${signed.keyId}: the manifest or its signature was changed`, { context: { keyId: signed.keyId } });
  return key;
}

/** What of an image a manifest must match. */
export type ManifestSubject = Partial<Pick<ImageManifest, 'name' | 'format' | 'size' | 'sha256' | 'infoHash'>>;

/**
 * The fields where `manifest` and `subject` differ (`field: manifest X, <source> Y`); a field
 * `subject` lacks is not compared. Empty when they match.
 */
export function manifestMismatches(manifest: ImageManifest, subject: ManifestSubject, source: string): string[] {
  const out: string[] = [];
  for (const f of ['name', 'format', 'size', 'sha256', 'infoHash'] as const) {
    const v = subject[f];
    if (v !== undefined && v !== manifest[f]) out.push(`${f}: manifest ${String(manifest[f])}, ${source} ${String(v)}`);
  }
  return out;
}

/** Throws SwarmbootError IMAGE_MANIFEST_MISMATCH naming the differing fields when `manifest` does not describe `subject`. */
export function checkManifestMatches(manifest: ImageManifest, subject: ManifestSubject, source: string): void {
  const diff = manifestMismatches(manifest, subject, source);
  if (diff.length > 0) throw new SwarmbootError('IMAGE_MANIFEST_MISMATCH', `the signed manifest of ${manifest.name} does not describe the ${source}: ${diff.join('; ')}`, { context: { fields: diff } });
}
