import { SwarmbootError, type ErrorCode, type NodeInput } from '@swarmboot/contracts';
import { normalizeMac } from '@swarmboot/kit';

/** A node as registered: MAC lower-case colon form, hostname defaulted to the id. */
export interface NodeRegistration {
  id: string;
  mac: string;
  hostname: string;
  labels: Record<string, string>;
  /** root-disk hint (RootDiskHint), passed to the node's agent */
  rootDisk?: string | undefined;
}

const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/**
 * Validates and normalises a batch (one POST or one import), all or nothing: bad ids or MACs,
 * and ids, MACs or hostnames given twice, throw SwarmbootError `code` naming the entry with
 * `where(i)` (e.g. `line 4`). Conflicts with nodes already stored are checked atomically in Redis.
 */
export function normalizeNodes(inputs: readonly NodeInput[], code: ErrorCode, where: (i: number) => string): NodeRegistration[] {
  const ids = new Map<string, number>();
  const macs = new Map<string, number>();
  const hosts = new Map<string, number>();
  return inputs.map((input, i) => {
    const fail = (msg: string): never => {
      throw new SwarmbootError(code, `${where(i)}: ${msg}`, { context: { index: i } });
    };
    if (!NODE_ID.test(input.id)) fail(`bad node id ${JSON.stringify(input.id)} (letters, digits, - and _, at most 63)`);
    const mac = normalizeMac(input.mac);
    if (mac === undefined || !/^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$/.test(input.mac)) return fail(`bad MAC ${JSON.stringify(input.mac)}`);
    const hostname = input.hostname === undefined || input.hostname === '' ? input.id : input.hostname;
    if (hostname.length > 63 || /[\s]/.test(hostname)) fail(`bad hostname ${JSON.stringify(hostname)}`);
    for (const [map, key, what] of [
      [ids, input.id, 'id'],
      [macs, mac, 'MAC'],
      [hosts, hostname, 'hostname'],
    ] as const) {
      const seen = map.get(key);
      if (seen !== undefined) fail(`${what} ${key} also given at ${where(seen)}`);
      map.set(key, i);
    }
    if (input.rootDisk !== undefined && !/^\S{1,200}$/.test(input.rootDisk)) fail(`bad rootDisk ${JSON.stringify(input.rootDisk)}`);
    return { id: input.id, mac, hostname, labels: { ...(input.labels ?? {}) }, ...(input.rootDisk === undefined ? {} : { rootDisk: input.rootDisk }) };
  });
}
