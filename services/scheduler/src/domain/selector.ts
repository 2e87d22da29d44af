import { SwarmbootError } from '@swarmboot/contracts';

/**
 * A label selector `key=value[,key=value]` (every pair must match) or `*` (every node).
 * Parsed into `{ all: true }` or the list of required pairs. Throws SwarmbootError `VALIDATION`.
 */
export type Selector = { all: true } | { all: false; pairs: [string, string][] };

export function parseSelector(text: string): Selector {
  const s = text.trim();
  if (s === '*') return { all: true };
  if (s === '') throw new SwarmbootError('VALIDATION', 'selector is empty (use "*" for every node)');
  const pairs: [string, string][] = [];
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? '' : part.slice(0, eq).trim();
    if (eq < 0 || key === '') throw new SwarmbootError('VALIDATION', `selector ${JSON.stringify(text)}: expected key=value[,key=value] or "*"`);
    pairs.push([key, part.slice(eq + 1).trim()]);
  }
  return { all: false, pairs };
}

export function matchesSelector(labels: Readonly<Record<string, string>>, selector: Selector): boolean {
  return selector.all || selector.pairs.every(([k, v]) => labels[k] === v);
}
