/*
 * Entity tags of node records (RFC 9110 §8.8.3) and the If-Match precondition (§13.1.1), as pure
 * functions: no Redis, no fastify.
 */

/** A strong entity tag of `version` (hex): `"<version>"`. */
export function formatEtag(version: string): string {
  return `"${version}"`;
}

/**
 * An If-Match field value → what it accepts: `any` (`*`: the resource exists), or the versions
 * of its strong entity tags. Weak tags (`W/"…"`) are dropped: If-Match compares strongly
 * (§13.1.1), so they never match. Malformed members are dropped too, so a header of nothing but
 * them matches nothing (and the request fails its precondition rather than running unchecked).
 */
export function parseIfMatch(value: string): { any: true } | { any: false; versions: string[] } {
  if (value.trim() === '*') return { any: true };
  const versions: string[] = [];
  // entity-tag = [ weak ] opaque-tag; opaque-tag = DQUOTE *etagc DQUOTE (§8.8.3), comma-separated list
  for (const m of value.matchAll(/(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"/g)) if (m[1] === undefined && m[2] !== undefined) versions.push(m[2]);
  return { any: false, versions };
}
