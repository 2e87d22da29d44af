import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { BmcRef, SwarmbootError, type PowerRequested } from '@swarmboot/contracts';

/** A BMC account. The password is a secret: it goes to the BMC and nowhere else (no logs, no events). */
export const Credentials = Type.Object({ username: Type.String({ minLength: 1 }), password: Type.String() }, { additionalProperties: false });
export type Credentials = Static<typeof Credentials>;

/** The credentials file (SWARMBOOT_POWER_CREDENTIALS_FILE): name → account. */
export const CredentialsFile = Type.Record(Type.String({ minLength: 1 }), Credentials);
/** The inventory file (SWARMBOOT_POWER_BMCS): node id or lower-case MAC → BMC. */
export const InventoryFile = Type.Record(Type.String({ minLength: 1 }), BmcRef);

/** pino redaction paths for everything that may hold a password (createLogger `redact`). */
export const SecretPaths = ['password', '*.password', '*.*.password', 'credentials.password', 'headers.authorization', '*.headers.authorization', 'env.IPMI_PASSWORD', '*.env.IPMI_PASSWORD'] as const;

/** A BMC with its account: what a driver needs for one operation. */
export interface BmcTarget {
  ref: BmcRef;
  credentials: Credentials;
}

/**
 * Where nodes' BMCs are and how to log in to them: the inventory (node id or MAC → BmcRef) and the
 * credentials (name → account), both read once at start-up.
 */
export class BmcInventory {
  constructor(
    private readonly bmcs: Readonly<Record<string, BmcRef>>,
    private readonly credentials: Readonly<Record<string, Credentials>>,
  ) {}

  /**
   * The BMC of a request: its own `bmc`, else the inventory's entry for `nodeId`, else for `mac`.
   * Throws BMC_UNKNOWN (no BMC) or BMC_CREDENTIALS_UNKNOWN (the named credentials are not in the file).
   */
  resolve(req: Pick<PowerRequested, 'nodeId' | 'mac' | 'bmc'>): BmcTarget {
    const ref = req.bmc ?? this.bmcs[req.nodeId] ?? (req.mac === undefined ? undefined : this.bmcs[req.mac]);
    if (ref === undefined) throw new SwarmbootError('BMC_UNKNOWN', `no BMC for node ${req.nodeId}${req.mac === undefined ? '' : ` (${req.mac})`} in the request or the inventory`);
    const credentials = this.credentials[ref.credentials];
    if (credentials === undefined) throw new SwarmbootError('BMC_CREDENTIALS_UNKNOWN', `the credentials file has no entry ${JSON.stringify(ref.credentials)} (node ${req.nodeId})`);
    return { ref, credentials };
  }

  /** Number of BMCs in the inventory (the start-up log line). */
  get size(): number {
    return Object.keys(this.bmcs).length;
  }
}

/**
 * Reads a YAML (or JSON, a subset) file and checks it against `schema`. Throws CONFIG_INVALID naming
 * `variable` and the first offending path — never the value: the file may hold passwords.
 */
function readChecked<S extends typeof CredentialsFile | typeof InventoryFile>(path: string, variable: string, schema: S): Static<S> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SwarmbootError('CONFIG_INVALID', `${variable}=${path}: ${(err as Error).message.split('\n')[0] ?? 'unreadable'}`);
  }
  if (!Value.Check(schema, doc)) {
    const first = Value.Errors(schema, doc).First();
    throw new SwarmbootError('CONFIG_INVALID', `${variable}=${path}: ${first?.path ?? '/'} ${first?.message ?? 'invalid'}`);
  }
  return doc as Static<S>;
}

/**
 * Loads the inventory (`bmcsFile`, optional: '' means requests carry their BMC) and the
 * credentials (`credentialsFile`, '' means none). MAC keys are lower-cased. Throws CONFIG_INVALID.
 */
export function loadInventory(bmcsFile: string, credentialsFile: string): BmcInventory {
  const bmcs = bmcsFile === '' ? {} : readChecked(bmcsFile, 'SWARMBOOT_POWER_BMCS', InventoryFile);
  const credentials = credentialsFile === '' ? {} : readChecked(credentialsFile, 'SWARMBOOT_POWER_CREDENTIALS_FILE', CredentialsFile);
  const keyed = Object.fromEntries(Object.entries(bmcs).map(([k, v]) => [/^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/.test(k) ? k.toLowerCase() : k, v]));
  return new BmcInventory(keyed, credentials);
}
