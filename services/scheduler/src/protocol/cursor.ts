import { SwarmbootError } from '@swarmboot/contracts';

/** The lists of the API that page with a cursor. */
export type CursorList = 'nodes' | 'deployments';

/**
 * Where a page of a sorted-set list ended: the last entry's score and member. The next page
 * starts after it, so entries added meanwhile neither repeat nor shift the pages.
 */
export interface Position {
  score: number;
  member: string;
}

/** The opaque `nextCursor` of a page of `list` that ended at `at`: base64url of `[list, score, member]`. */
export function encodeCursor(list: CursorList, at: Position): string {
  return Buffer.from(JSON.stringify([list, at.score, at.member])).toString('base64url');
}

/**
 * The position a `cursor` of `list` names. Throws CURSOR_INVALID when it does not decode, or was
 * made by another list (a deployments cursor given to /v1/nodes).
 */
export function decodeCursor(list: CursorList, cursor: string): Position {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.length !== 3 || value[0] !== list || typeof value[1] !== 'number' || !Number.isFinite(value[1]) || typeof value[2] !== 'string') {
    throw new SwarmbootError('CURSOR_INVALID', `not a cursor of the ${list} list; pass the nextCursor of the previous page as it is`);
  }
  return { score: value[1], member: value[2] };
}
