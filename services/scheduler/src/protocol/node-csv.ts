import { SwarmbootError, type NodeInput } from '@swarmboot/contracts';

/**
 * Parses a node inventory in CSV (RFC 4180 fields, one record per line):
 *
 *   id,mac,hostname[,labels[,rootDisk]]
 *   n-001,52:54:00:00:00:01,rack1-n1,rack=r1;role=worker,serial:S3Z1NX0K
 *
 * The header is required (column names case-insensitive). `hostname` may be empty (defaults to
 * the id later); `labels` is `key=value` pairs separated by `;`; `rootDisk` is the root-disk hint
 * (RootDiskHint in contracts). Blank lines are skipped; a
 * UTF-8 BOM and CRLF line ends are accepted. Throws SwarmbootError `IMPORT_INVALID` naming the
 * 1-based line of the first problem; the returned entries are not yet normalised (see
 * `normalizeNodes`). Returns the entries with their line numbers.
 */
export function parseNodeCsv(text: string): { nodes: NodeInput[]; lines: number[] } {
  const rows = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const fail = (line: number, msg: string): never => {
    throw new SwarmbootError('IMPORT_INVALID', `line ${line}: ${msg}`, { context: { line } });
  };
  let header: string[] | undefined;
  const nodes: NodeInput[] = [];
  const lines: number[] = [];
  rows.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const fields = splitCsvLine(raw, line);
    if (header === undefined) {
      header = fields.map((f) => f.trim().toLowerCase());
      const ok =
        header.length >= 3 && header.length <= 5 && header[0] === 'id' && header[1] === 'mac' && header[2] === 'hostname' && (header.length < 4 || header[3] === 'labels') && (header.length < 5 || header[4] === 'rootdisk');
      if (!ok) fail(line, `expected the header id,mac,hostname[,labels[,rootDisk]], got ${JSON.stringify(raw)}`);
      return;
    }
    if (fields.length < 2 || fields.length > header.length) fail(line, `expected ${header.length} fields (${header.join(',')}), got ${fields.length}`);
    const [id = '', mac = '', hostname = '', labelText = '', rootDisk = ''] = fields.map((f) => f.trim());
    if (id === '') fail(line, 'id is empty');
    if (mac === '') fail(line, 'mac is empty');
    const node: NodeInput = { id, mac };
    if (hostname !== '') node.hostname = hostname;
    if (labelText !== '') node.labels = parseLabels(labelText, (msg) => fail(line, msg));
    if (rootDisk !== '') node.rootDisk = rootDisk;
    nodes.push(node);
    lines.push(line);
  });
  if (header === undefined) fail(1, 'empty file (expected the header id,mac,hostname[,labels])');
  return { nodes, lines };
}

/** `k=v;k=v` → record; `fail` throws. */
export function parseLabels(text: string, fail: (msg: string) => never): Record<string, string> {
  // a Map, then own properties: `labels[key] = v` would drop a label named __proto__ (found by fuzzing)
  const labels = new Map<string, string>();
  for (const part of text.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? '' : part.slice(0, eq).trim();
    if (key === '') fail(`bad label ${JSON.stringify(part)} (expected key=value)`);
    if (labels.has(key)) fail(`label ${key} given twice`);
    labels.set(key, part.slice(eq + 1).trim());
  }
  return Object.fromEntries(labels);
}

/** One CSV record (RFC 4180 §2: fields may be double-quoted, `""` is a quote inside quotes). */
function splitCsvLine(raw: string, line: number): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (raw[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = raw.indexOf('"', i);
        if (q < 0) throw new SwarmbootError('IMPORT_INVALID', `line ${line}: unterminated quoted field`, { context: { line } });
        value += raw.slice(i, q);
        if (raw[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === raw.length) return fields;
      if (raw[i] !== ',') throw new SwarmbootError('IMPORT_INVALID', `line ${line}: text after a quoted field`, { context: { line } });
      i++;
    } else {
      const c = raw.indexOf(',', i);
      if (c < 0) {
        fields.push(raw.slice(i));
        return fields;
      }
      fields.push(raw.slice(i, c));
      i = c + 1;
    }
  }
}
