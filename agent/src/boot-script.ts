import { SwarmbootError } from '@swarmboot/contracts';

/** What a node needs from its iPXE script: the kernel and initrd URLs and the kernel command line. */
export interface BootScript {
  kernelUrl: string;
  initrdUrl: string;
  /** kernel arguments after the kernel URL */
  cmdline: string[];
}

/**
 * Parses the iPXE script the scheduler serves (`#!ipxe`, `kernel URL ARGS…`, `initrd URL`, `boot`).
 * Throws `BOOT_SCRIPT_INVALID` when it is not iPXE or names no kernel/initrd (e.g. the
 * "no deployment, exit to local disk" script).
 */
export function parseBootScript(text: string): BootScript {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== '#!ipxe') throw new SwarmbootError('BOOT_SCRIPT_INVALID', 'not an iPXE script (first line must be #!ipxe)');
  let kernel: string[] | undefined;
  let initrdUrl: string | undefined;
  for (const line of lines) {
    const words = line.split(/\s+/);
    if (words[0] === 'kernel' && words[1]) kernel = words.slice(1);
    if (words[0] === 'initrd' && words[1]) initrdUrl = words[1];
  }
  if (!kernel?.[0] || !initrdUrl) {
    throw new SwarmbootError('BOOT_SCRIPT_INVALID', `boot script names no kernel and initrd: ${lines.filter((l) => l.startsWith('echo')).join(' ') || text.slice(0, 200)}`);
  }
  return { kernelUrl: kernel[0], initrdUrl, cmdline: kernel.slice(1) };
}

/** `swarmboot.api=…` style arguments of a kernel command line, by name without the prefix. */
export function swarmbootArgs(cmdline: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of cmdline) {
    const m = /^swarmboot\.([a-z]+)=(.+)$/.exec(arg);
    if (m?.[1] && m[2]) out[m[1]] = m[2];
  }
  return out;
}

/** Splits `tftp://host[:port]/path` into its parts (port 69 when absent, RFC 1350). */
export function parseTftpUrl(url: string): { host: string; port: number; file: string } {
  const u = new URL(url);
  if (u.protocol !== 'tftp:') throw new SwarmbootError('BOOT_SCRIPT_INVALID', `not a tftp:// URL: ${url}`);
  return { host: u.hostname, port: u.port ? Number(u.port) : 69, file: decodeURIComponent(u.pathname.replace(/^\//, '')) };
}

/**
 * The scheduler's "queued, not admitted yet" script (`sleep N`, then `chain … URL` of the same
 * boot script): how long to wait and where to ask again; undefined for any other script. iPXE runs
 * it as is; the emulated node does the same by hand.
 */
export function parseWaitScript(text: string): { seconds: number; url: string } | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== '#!ipxe' || lines.some((l) => l.startsWith('kernel '))) return undefined;
  const sleep = lines.map((l) => /^sleep\s+(\d+)$/.exec(l)).find((m) => m !== null);
  const chain = lines.map((l) => l.split(/\s+/)).find((w) => w[0] === 'chain');
  const url = chain?.filter((w) => !w.startsWith('-')).at(-1);
  if (!sleep?.[1] || url === undefined || !/^https?:\/\//.test(url)) return undefined;
  return { seconds: Number(sleep[1]), url };
}
