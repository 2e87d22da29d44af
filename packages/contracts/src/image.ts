import { Type, type Static } from '@sinclair/typebox';
import { ImageAdded, ImageFormatSchema } from './events.js';

/**
 * What a signer vouches for about an image (issue 15): the fields an agent checks before it
 * writes a byte. `infoHash` binds the .torrent's info dictionary (file name, length, piece length,
 * every piece's SHA-1; BEP 3), `sha256` the whole file. `created`: when it was signed (ISO 8601).
 */
export const ImageManifest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    format: ImageFormatSchema,
    size: Type.Integer({ minimum: 0, description: 'bytes' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    infoHash: Type.String({ pattern: '^[0-9a-f]{40}$' }),
    created: Type.String({ minLength: 1, maxLength: 40, description: 'ISO 8601, when the manifest was signed' }),
  },
  { additionalProperties: false },
);
export type ImageManifest = Static<typeof ImageManifest>;

/**
 * An ImageManifest signed with Ed25519 (RFC 8032): `signature` is over the UTF-8 bytes of the
 * RFC 8785 canonical JSON of the manifest's six fields plus `keyId` (kit's `manifestSigningBytes`).
 * `keyId`: the first 16 hex digits of the sha256 of the signer's raw 32-byte public key.
 */
export const SignedImageManifest = Type.Composite(
  [
    ImageManifest,
    Type.Object({
      keyId: Type.String({ pattern: '^[0-9a-f]{16}$', description: 'first 16 hex digits of sha256(raw Ed25519 public key)' }),
      signature: Type.String({ pattern: '^[A-Za-z0-9+/]{86}==$', description: 'Ed25519 signature (64 bytes), base64' }),
    }),
  ],
  { additionalProperties: false },
);
export type SignedImageManifest = Static<typeof SignedImageManifest>;

/**
 * An image in the catalog (Redis hash `RedisKeys.image(name)`, JSON in field `json`; the signed
 * manifest, when the image was signed, in field `manifest`, dropped when the image is replaced).
 */
export const ImageRecord = Type.Composite([
  ImageAdded,
  Type.Object({
    addedAt: Type.String(),
    signedManifest: Type.Optional(SignedImageManifest),
  }),
]);
export type ImageRecord = Static<typeof ImageRecord>;
