import { SwarmbootError } from '@swarmboot/contracts';

/*
 * QEMU Machine Protocol (QMP) framing and messages, pure: no socket. QEMU's docs/interop/qmp-spec.rst:
 * the server sends JSON objects, one per line (each followed by CRLF) — a greeting (§ Server
 * Greeting), then for each command either a success `{"return": …}` or an error
 * `{"error": {"class", "desc"}}` (§ Commands Responses), with asynchronous events
 * `{"event", "data", "timestamp"}` in between (§ Asynchronous events). The client sends
 * `{"execute": name, "arguments": {…}, "id": …}` and must send `qmp_capabilities` first
 * (§ Capabilities Negotiation).
 */

/** One message from the server. `id` is the command's own `id`, echoed (absent when the command had none). */
export type QmpMessage =
  | { kind: 'greeting'; version: string; capabilities: string[] }
  | { kind: 'return'; id?: unknown; value: unknown }
  | { kind: 'error'; id?: unknown; errorClass: string; desc: string }
  | { kind: 'event'; event: string; data: Record<string, unknown>; timestamp?: { seconds: number; microseconds: number } | undefined };

/** A line longer than this is not QMP from a VM's monitor (its largest answers here, qom-list, are a few kB). */
export const MaxQmpLine = 1024 * 1024;

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Parses one line the server sent. Throws SwarmbootError BMC_RESPONSE_INVALID for anything that is
 * not one of the four message shapes (not JSON, not an object, an error without class/desc …).
 */
export function parseQmpMessage(line: string): QmpMessage {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    throw new SwarmbootError('BMC_RESPONSE_INVALID', `QMP: not JSON: ${JSON.stringify(line.slice(0, 120))}`);
  }
  if (!isObject(doc)) throw new SwarmbootError('BMC_RESPONSE_INVALID', `QMP: not a JSON object: ${JSON.stringify(line.slice(0, 120))}`);
  const id = 'id' in doc ? { id: doc['id'] } : {};
  if (isObject(doc['QMP'])) {
    const qmp = doc['QMP'];
    const v = isObject(qmp['version']) && isObject(qmp['version']['qemu']) ? qmp['version']['qemu'] : {};
    const caps = Array.isArray(qmp['capabilities']) ? qmp['capabilities'].filter((c): c is string => typeof c === 'string') : [];
    return { kind: 'greeting', version: [v['major'], v['minor'], v['micro']].map((n) => (typeof n === 'number' ? n : '?')).join('.'), capabilities: caps };
  }
  if ('return' in doc) return { kind: 'return', ...id, value: doc['return'] };
  if (isObject(doc['error'])) {
    const e = doc['error'];
    if (typeof e['class'] !== 'string' || typeof e['desc'] !== 'string') throw new SwarmbootError('BMC_RESPONSE_INVALID', `QMP: an error without class and desc: ${JSON.stringify(line.slice(0, 120))}`);
    return { kind: 'error', ...id, errorClass: e['class'], desc: e['desc'] };
  }
  if (typeof doc['event'] === 'string') {
    const ts = doc['timestamp'];
    const timestamp = isObject(ts) && typeof ts['seconds'] === 'number' && typeof ts['microseconds'] === 'number' ? { seconds: ts['seconds'], microseconds: ts['microseconds'] } : undefined;
    return { kind: 'event', event: doc['event'], data: isObject(doc['data']) ? doc['data'] : {}, timestamp };
  }
  throw new SwarmbootError('BMC_RESPONSE_INVALID', `QMP: not a greeting, return, error or event: ${JSON.stringify(line.slice(0, 120))}`);
}

/**
 * Cuts the server's byte stream into lines (LF, a CR before it dropped), keeping a partial line
 * across chunks; a UTF-8 character split across chunks stays whole (the bytes are joined before
 * decoding). Throws BMC_RESPONSE_INVALID when a line grows past `maxLine` bytes.
 */
export class QmpLineSplitter {
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly maxLine = MaxQmpLine) {}

  /** The complete, non-blank lines in what arrived so far. */
  push(chunk: Buffer): string[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const lines: string[] = [];
    let start = 0;
    for (let nl = this.pending.indexOf(0x0a, start); nl >= 0; nl = this.pending.indexOf(0x0a, start)) {
      const line = this.pending.subarray(start, nl).toString('utf8').replace(/\r$/, '');
      if (line.trim() !== '') lines.push(line);
      start = nl + 1;
    }
    this.pending = this.pending.subarray(start);
    if (this.pending.length > this.maxLine) throw new SwarmbootError('BMC_RESPONSE_INVALID', `QMP: a line of more than ${this.maxLine} bytes`);
    return lines;
  }
}

/** The client's command line: `{"execute": …, "arguments": …, "id": …}` and LF. */
export function encodeQmpCommand(execute: string, args?: Record<string, unknown>, id?: number): string {
  return `${JSON.stringify({ execute, ...(args === undefined ? {} : { arguments: args }), ...(id === undefined ? {} : { id }) })}\n`;
}
