import { readFile } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { CommonConfig, TokensConfig, parsePublicKeys, type TrustedKey } from '@swarmboot/kit';
import { DefaultPorts, SwarmbootError, type NodeState } from '@swarmboot/contracts';
import { WEBHOOK_EVENT_TYPES } from './domain/webhooks.js';
import { TIMED_STATES, isTimedState, type TimedState } from './domain/state-machine.js';

/**
 * Default timeouts of the active states (s), from the measured figures in docs/benchmarks.md:
 * - admitted 300: power-on, POST and PXE to a lease; a VM leases 5.2 s after power-on, but a
 *   server's firmware POST takes 1–3 min before its NIC's ROM runs.
 * - dhcp 120: from the lease to the boot loader over TFTP and the boot script (18.2 s in the VM
 *   demo, 13 s of it iPXE 1.0.0 waiting for an IPv6 router advertisement); ×6 for load.
 * - booting 600: kernel and initrd (or the 43.5 MB install environment) and the agent's first
 *   report: 200 clients fetching the 40 MB initrd over TFTP behind a 1 Gbit/s link with 1 % loss
 *   finished in 158 s at windowsize 1 (bench/tftp), /init reaches its lease 8 s later under TCG.
 * - installing 1800: between two reports of the agent (it reports progress while downloading),
 *   and the disk write after the download, which sends none: 90 s for 701.5 MB unpacked with three
 *   TCG VMs writing at once; 20× that for larger images and slow disks.
 * - verifying 900: sha256 at 48.5 MB/s under TCG hashes 40 GB in 14 min.
 */
export const DEFAULT_STATE_TIMEOUTS: Readonly<Record<TimedState, number>> = Object.freeze({ admitted: 300, dhcp: 120, booting: 600, installing: 1800, verifying: 900 });

/** Environment of `swarmboot scheduler`, parsed once by `parseConfig(SchedulerConfig, env)` in main.ts. */
export const SchedulerConfig = Type.Object({
  ...CommonConfig,
  ...TokensConfig,
  SWARMBOOT_SCHEDULER_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.scheduler}`, description: 'host:port of the REST API' }),
  SWARMBOOT_PUBLIC_URL: Type.String({
    default: `http://127.0.0.1:${DefaultPorts.scheduler}`,
    pattern: '^https?://[^\\s/]+(/[^\\s]*)?$',
    description: 'base URL nodes use to reach this API (goes into the iPXE script and the kernel command line)',
  }),
  SWARMBOOT_TFTP_URL: Type.String({ default: `tftp://127.0.0.1:${DefaultPorts.tftp}`, pattern: '^(tftp|https?)://\\S+$', description: 'where iPXE fetches the kernel and initrd' }),
  SWARMBOOT_BOOT_KERNEL: Type.String({ default: 'debian/linux', minLength: 1, description: 'kernel path below SWARMBOOT_TFTP_URL' }),
  SWARMBOOT_BOOT_INITRD: Type.String({ default: 'debian/initrd.gz', minLength: 1, description: 'initrd path below SWARMBOOT_TFTP_URL' }),
  SWARMBOOT_BOOT_CMDLINE: Type.String({ default: 'console=ttyS0,115200 priority=critical', description: 'extra kernel arguments' }),
  SWARMBOOT_BOOTENV_DIR: Type.String({
    default: '',
    description: 'directory holding the install environment (vmlinuz, initrd.img from scripts/build-bootenv.sh), served at /v1/bootenv/<file>; empty: not served here',
  }),
  SWARMBOOT_BOOTENV_URL: Type.String({
    default: '',
    pattern: '^(https?://\\S+)?$',
    description: 'base URL iPXE fetches vmlinuz and initrd.img from (HTTP: faster than TFTP for 50 MB); empty: SWARMBOOT_PUBLIC_URL/v1/bootenv',
  }),
  SWARMBOOT_BOOTENV_CMDLINE: Type.String({ default: 'console=tty0 console=ttyS0,115200n8', description: 'extra kernel arguments of the install environment' }),
  SWARMBOOT_NETCONSOLE_TARGET: Type.String({
    default: '',
    pattern: '^(\\d+\\.\\d+\\.\\d+\\.\\d+:\\d+|off)?$',
    description: `IPv4:port kernel messages go to (netconsole=); empty: the syslog target host, port ${DefaultPorts.netconsole} (the log sink's SWARMBOOT_NETCONSOLE_LISTEN); off: none`,
  }),
  SWARMBOOT_INSTALL_ATTEMPTS: Type.Integer({ default: 3, minimum: 1, maximum: 100, description: 'install attempts of a real node per deployment before it is failed and boots its local disk' }),
  SWARMBOOT_LINGER_SECONDS: Type.Integer({ default: 900, minimum: 0, maximum: 86400, description: 'an installed real node seeds until released, or this long at most (s)' }),
  SWARMBOOT_SCHEDULER_IDEMPOTENCY_TTL_SECONDS: Type.Integer({
    default: 86400,
    minimum: 60,
    maximum: 30 * 86400,
    description: 'how long the answer to a POST with an Idempotency-Key is kept for replay (s); a retry after that runs again',
  }),
  SWARMBOOT_SCHEDULER_WEBHOOKS: Type.String({
    default: '',
    description: 'webhooks that get the scheduler events as signed CloudEvents: a JSON list of {url, secret, types?, name?}, or the path of a file holding one; empty: none',
  }),
  SWARMBOOT_SCHEDULER_WEBHOOK_ATTEMPTS: Type.Integer({ default: 8, minimum: 1, maximum: 50, description: 'attempts of one webhook delivery (network error, timeout, 408, 429, 5xx) before it is dropped' }),
  SWARMBOOT_SCHEDULER_WEBHOOK_BACKOFF_MS: Type.Integer({ default: 1000, minimum: 1, maximum: 600_000, description: 'the first retry of a webhook delivery waits up to this long (ms), each next up to twice as long (full jitter)' }),
  SWARMBOOT_SCHEDULER_WEBHOOK_BACKOFF_CAP_MS: Type.Integer({ default: 300_000, minimum: 1, maximum: 3_600_000, description: 'no wait between webhook attempts is longer (ms), a Retry-After included' }),
  SWARMBOOT_SCHEDULER_WEBHOOK_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'one webhook attempt (connect, send, answer) is given up after this long (ms), then retried' }),
  SWARMBOOT_SCHEDULER_WEBHOOK_CONCURRENCY: Type.Integer({ default: 8, minimum: 1, maximum: 256, description: 'deliveries in flight per webhook (so events may arrive out of order: order by `time`)' }),
  SWARMBOOT_SCHEDULER_WEBHOOK_QUEUE: Type.Integer({ default: 10_000, minimum: 1, maximum: 1_000_000, description: 'events waiting per webhook; more are dropped and counted (outcome overflow)' }),
  SWARMBOOT_SCHEDULER_TIMELINE_PROGRESS_SECONDS: Type.Integer({
    default: 10,
    minimum: 1,
    maximum: 3600,
    description: "a node's timeline keeps at most one swarm-progress entry per this many seconds (the agent reports every second)",
  }),
  // canary 5: a broken image or boot path costs five nodes' boot phase, not a rack's; max in flight 200: the
  // largest boot storm measured to complete without a failed transfer (bench/tftp: 200 clients, 40 MB
  // initrd, 1 Gbit/s, 1 % loss, 100 % completed) — beyond it the window has to earn each node
  SWARMBOOT_SCHEDULER_CANARY_SIZE: Type.Integer({ default: 5, minimum: 1, maximum: 100000, description: 'nodes of a deployment\'s first wave (the canary); later waves wait until every canary node left the boot phase (a deployment\'s `canary` overrides it)' }),
  SWARMBOOT_SCHEDULER_FAILURE_BUDGET: Type.Number({ default: 0.1, minimum: 0, maximum: 100000, description: 'failed nodes a deployment may have before it pauses: below 1 a fraction of its nodes, from 1 a count (a deployment\'s `failureBudget` overrides it)' }),
  SWARMBOOT_SCHEDULER_MAX_IN_FLIGHT: Type.Integer({ default: 200, minimum: 1, maximum: 100000, description: 'nodes of a deployment in the boot phase (admitted, dhcp, booting) at once, at most, whatever the controller measures (a deployment\'s `maxInFlight` overrides it)' }),
  SWARMBOOT_SCHEDULER_RATE_PER_SECOND: Type.Number({ default: 0, minimum: 0, maximum: 100000, description: 'admissions per second per deployment, at most; 0: no limit (a deployment\'s `ratePerSecond` overrides it)' }),
  SWARMBOOT_SCHEDULER_TICK_MS: Type.Integer({ default: 1000, minimum: 10, maximum: 60_000, description: 'how often a replica steps the admission of each active deployment and looks for stuck nodes (ms); events step it in between' }),
  SWARMBOOT_SCHEDULER_STATE_TIMEOUTS: Type.String({
    default: Object.entries(DEFAULT_STATE_TIMEOUTS).map(([k, v]) => `${k}=${v}`).join(','),
    pattern: '^(\\s*(admitted|dhcp|booting|installing|verifying)=\\d+(\\.\\d+)?\\s*)(,\\s*(admitted|dhcp|booting|installing|verifying)=\\d+(\\.\\d+)?\\s*)*$',
    description: 'seconds a node may stay in each active state without a change or a report (state=seconds, comma-separated; unnamed states keep their default) before it is sent back to admitted and PXE-booted again (docs/architecture.md, "Nodes that recover")',
  }),
  SWARMBOOT_SCHEDULER_TIMEOUT_RETRIES: Type.Integer({ default: 2, minimum: 0, maximum: 100, description: 'times a stuck node of a deployment is sent back to admitted before it is failed (BOOT_TIMEOUT or INSTALL_TIMEOUT)' }),
  SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE: Type.String({
    default: '',
    description: 'file of Ed25519 public keys (PEM blocks, or raw base64 one per line; # comments) a deployment that names no trustedKeys trusts: its image must be signed by one of them; empty: such deployments do not check signatures',
  }),
  SWARMBOOT_SYSLOG_TARGET: Type.String({ default: `127.0.0.1:${DefaultPorts.syslog}`, description: 'syslog host:port given to agents in the install manifest' }),
  SWARMBOOT_OPS_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.ops.scheduler}`, description: 'host:port of /healthz and /metrics' }),
});
export type SchedulerConfig = Static<typeof SchedulerConfig>;


/**
 * SWARMBOOT_SCHEDULER_STATE_TIMEOUTS (`state=seconds,…`, checked by the schema's pattern) as ms per
 * timed state; states it does not name keep DEFAULT_STATE_TIMEOUTS. Throws CONFIG_INVALID for a
 * state named twice or a zero timeout.
 */
export function parseStateTimeouts(value: string): Record<TimedState, number> {
  const out: Record<TimedState, number> = { ...DEFAULT_STATE_TIMEOUTS };
  const seen = new Set<string>();
  for (const part of value.split(',')) {
    const [state = '', seconds = ''] = part.split('=').map((x) => x.trim());
    if (!isTimedState(state as NodeState) || seen.has(state) || !(Number(seconds) > 0)) {
      throw new SwarmbootError('CONFIG_INVALID', `SWARMBOOT_SCHEDULER_STATE_TIMEOUTS: ${JSON.stringify(part.trim())}: name each of ${TIMED_STATES.join(', ')} at most once, with seconds > 0`, {
        context: { variables: ['SWARMBOOT_SCHEDULER_STATE_TIMEOUTS'] },
      });
    }
    seen.add(state);
    out[state as TimedState] = Number(seconds);
  }
  for (const k of TIMED_STATES) out[k] *= 1000;
  return out;
}

/**
 * One webhook as configured: `url` (http or https) gets a POST per event; `secret` is a
 * Standard Webhooks secret, `whsec_` + base64 of 24 to 64 random bytes (standardwebhooks.com,
 * "Symmetric signatures"; e.g. `echo whsec_$(openssl rand -base64 32)`); `types` keeps only these
 * event types (default: all of WEBHOOK_EVENT_TYPES); `name` labels its metrics and logs (default
 * `webhook-<n>`, its place in the list; never the URL, which may hold a token).
 */
export const WebhookConfig = Type.Object(
  {
    url: Type.String({ pattern: '^https?://[^\\s]+$' }),
    secret: Type.String({ pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$' }),
    types: Type.Optional(Type.Array(Type.Union(WEBHOOK_EVENT_TYPES.map((t) => Type.Literal(t))), { minItems: 1, uniqueItems: true })),
    name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })),
  },
  { additionalProperties: false },
);

/** A webhook ready to deliver to (WebhookConfig with its name filled in). */
export interface WebhookTarget {
  name: string;
  url: string;
  secret: string;
  types?: readonly string[] | undefined;
}

const VARIABLE = 'SWARMBOOT_SCHEDULER_WEBHOOKS';

/**
 * Reads SWARMBOOT_SCHEDULER_WEBHOOKS: empty → none; starting with `[` → the JSON list itself;
 * else the path of a file holding it (so secrets can come from a mounted Secret rather than the
 * environment). Throws SwarmbootError CONFIG_INVALID naming the variable, the entry and the field;
 * the message never holds a secret (nor the variable's value, which contains them).
 */
export async function loadWebhooks(value: string, read: (path: string) => Promise<string> = (p) => readFile(p, 'utf8')): Promise<WebhookTarget[]> {
  const fail = (why: string): never => {
    throw new SwarmbootError('CONFIG_INVALID', `${VARIABLE}: ${why}`, { context: { variables: [VARIABLE] } });
  };
  const raw = value.trim();
  if (raw === '') return [];
  let text = raw;
  if (!raw.startsWith('[')) {
    try {
      text = await read(raw);
    } catch (err) {
      fail(`cannot read the file ${JSON.stringify(raw)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    fail(raw.startsWith('[') ? 'not JSON' : `the file ${JSON.stringify(raw)} is not JSON`);
  }
  if (!Array.isArray(list)) return fail('expected a JSON list of webhooks');
  const names = new Set<string>();
  return list.map((entry: unknown, i) => {
    const first = Value.Errors(WebhookConfig, entry).First();
    // the path and TypeBox's message name the field and the rule, never the value
    if (first) fail(`entry ${i}: ${first.path || '(entry)'} ${first.message}`);
    const w = entry as Static<typeof WebhookConfig>;
    const keyBytes = Buffer.from(w.secret.slice('whsec_'.length), 'base64').length;
    if (keyBytes < 24 || keyBytes > 64) fail(`entry ${i}: /secret must hold 24 to 64 bytes (has ${keyBytes})`);
    const name = w.name ?? `webhook-${i + 1}`;
    if (names.has(name)) fail(`entry ${i}: the name ${name} is taken`);
    names.add(name);
    return { name, url: w.url, secret: w.secret, types: w.types };
  });
}

const TRUSTED_KEYS_VARIABLE = 'SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE';

/**
 * The default trusted image signing keys from the file at `path` (SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE;
 * kit's `parsePublicKeys` format); none for an empty path. Throws CONFIG_INVALID naming the
 * variable (unreadable file, a key that does not parse, no key in the file).
 */
export async function loadTrustedKeys(path: string, read: (path: string) => Promise<string> = (p) => readFile(p, 'utf8')): Promise<TrustedKey[]> {
  if (path.trim() === '') return [];
  const fail = (why: string, cause?: unknown): never => {
    throw new SwarmbootError('CONFIG_INVALID', `${TRUSTED_KEYS_VARIABLE}: ${why}`, { cause, context: { variables: [TRUSTED_KEYS_VARIABLE] } });
  };
  let text = '';
  try {
    text = await read(path.trim());
  } catch (err) {
    fail(`cannot read ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
  let keys: TrustedKey[] = [];
  try {
    keys = parsePublicKeys(text, JSON.stringify(path));
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err), err);
  }
  if (keys.length === 0) fail(`${JSON.stringify(path)} holds no public key`);
  return keys;
}
