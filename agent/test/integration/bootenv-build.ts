import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/*
 * What the install-environment tests share: the repository root, the agent entry the build bundles,
 * and the build itself (scripts/build-bootenv.sh into the asset cache; skipped when up to date).
 */

export const run = promisify(execFile);

/** The repository root (this file is agent/dist/test/integration/bootenv-build.js once compiled). */
export const REPO = resolve(fileURLToPath(import.meta.url), '../../../../..');

/**
 * The agent entry the build bundles: $SWARMBOOT_BOOTENV_AGENT_ENTRY, else the node agent
 * (agent/dist/src/node-main.js) when it exists, else the emulated agent (agent/dist/src/main.js:
 * the same `main()` export and the same dependency tree, webtorrent@3 included).
 */
export function agentEntry(): string {
  const fromEnv = process.env.SWARMBOOT_BOOTENV_AGENT_ENTRY;
  if (fromEnv) return resolve(fromEnv);
  const nodeMain = join(REPO, 'agent/dist/src/node-main.js');
  return existsSync(nodeMain) ? nodeMain : join(REPO, 'agent/dist/src/main.js');
}

export function cacheDir(): string {
  return process.env.SWARMBOOT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'swarmboot');
}

/** manifest.json of the install environment (fields the tests read). */
export interface BootenvManifest {
  kernelVersion: string;
  kernelPackage: string;
  modulesListed: string[];
  modules: string[];
  /** `zstd -19` or `gzip -9` */
  compression: string;
  componentBytes: Record<string, number>;
  unpackedBytes: number;
  vmlinuz: { bytes: number; sha256: string };
  initrd: { bytes: number; sha256: string };
  totalCompressedBytes: number;
  inputsKey: string;
}

export interface Bootenv {
  dir: string;
  vmlinuz: string;
  initrd: string;
  manifest: BootenvManifest;
}

/** Runs scripts/build-bootenv.sh (extra args, e.g. --force --out DIR) and reads what it built. */
export async function buildBootenv(args: string[] = [], env: Record<string, string> = {}): Promise<Bootenv> {
  const { stdout } = await run('bash', [join(REPO, 'scripts/build-bootenv.sh'), ...args], {
    env: { ...process.env, SWARMBOOT_BOOTENV_AGENT_ENTRY: agentEntry(), ...env },
    maxBuffer: 16 * 1024 * 1024,
  });
  const dir = stdout.trim().split('\n').pop() ?? '';
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as BootenvManifest;
  return { dir, vmlinuz: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), manifest };
}
