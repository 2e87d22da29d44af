import { Type, type Static } from '@sinclair/typebox';
import { ImageAdded } from './events.js';

/** An image in the catalog (Redis hash `RedisKeys.image(name)`, JSON in field `json`). */
export const ImageRecord = Type.Composite([ImageAdded, Type.Object({ addedAt: Type.String() })]);
export type ImageRecord = Static<typeof ImageRecord>;
