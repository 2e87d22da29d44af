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

/** A BMC with its account: what a driver needs for one operation. QMP has no account (undefined). */
export interface BmcTarget {
  ref: BmcRef;
  credentials: Credentials | undefined;
}

/**
 * What is wrong with a BMC reference beyond its schema, or undefined: Redfish and IPMI name
 * credentials (an entry without would reach the BMC with none and be refused, or worse, accepted);
 * a QMP `address` is an absolute socket path and names no credentials (QMP has no authentication:
 * a name there would suggest a protection that does not exist).
 */
export function refProblem(ref: BmcRef): string | undefined {
  if (ref.driver === 'qmp') {
    if (!ref.address.startsWith('/')) return `a qmp address is the absolute path of the VM's QMP socket (got ${JSON.stringify(ref.address)})`;
    if (ref.credentials !== undefined) return 'qmp has no authentication: remove credentials (protect the socket by its file permissions)';
    return undefined;
  }
  return ref.credentials === undefined ? `a ${ref.driver} BMC needs credentials (a name in SWARMBOOT_POWER_CREDENTIALS_FILE)` : undefined;
}

/** The account of a Redfish or IPMI target; BMC_CREDENTIALS_UNKNOWN when it has none (resolve never hands such a target out). */
export function account(target: BmcTarget): Credentials {
  if (target.credentials === undefined) throw new SwarmbootError('BMC_CREDENTIALS_UNKNOWN', `${target.ref.address}: no credentials for a ${target.ref.driver} BMC`);
  return target.credentials;
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
   * Throws BMC_UNKNOWN (no BMC), BMC_REF_INVALID (the request's own BMC fails `refProblem`; the
   * inventory's were checked at load), BMC_CREDENTIALS_UNKNOWN (a Redfish/IPMI BMC names no
   * credentials, or ones the file does not hold).
   */
  resolve(req: Pick<PowerRequested, 'nodeId' | 'mac' | 'bmc'>): BmcTarget {
    const ref = req.bmc ?? this.bmcs[req.nodeId] ?? (req.mac === undefined ? undefined : this.bmcs[req.mac]);
    if (ref === undefined) throw new SwarmbootError('BMC_UNKNOWN', `no BMC for node ${req.nodeId}${req.mac === undefined ? '' : ` (${req.mac})`} in the request or the inventory`);
    if (ref.driver === 'qmp') {
      const problem = refProblem(ref);
      if (problem !== undefined) throw new SwarmbootError('BMC_REF_INVALID', `node ${req.nodeId}: ${problem}`);
      return { ref, credentials: undefined };
    }
    if (ref.credentials === undefined) throw new SwarmbootError('BMC_CREDENTIALS_UNKNOWN', `node ${req.nodeId}: a ${ref.driver} BMC needs credentials and names none`);
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
  for (const [key, ref] of Object.entries(bmcs)) {
    const problem = refProblem(ref);
    if (problem !== undefined) throw new SwarmbootError('CONFIG_INVALID', `SWARMBOOT_POWER_BMCS=${bmcsFile}: /${key} ${problem}`);
  }
  const keyed = Object.fromEntries(Object.entries(bmcs).map(([k, v]) => [/^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/.test(k) ? k.toLowerCase() : k, v]));
  return new BmcInventory(keyed, credentials);
}
