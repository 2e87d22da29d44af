/**
 * iPXE scripts served at `GET /v1/boot/:mac` (https://ipxe.org/scripting). Pure text builders.
 * Every script starts with `#!ipxe`; anything the node must see goes through `echo`, and every
 * path ends in something bootable (`boot`, `exit` to the next boot device, or a `chain` retry),
 * because a PXE client that gets nothing usable stops.
 */
export interface InstallBoot {
  /** base URL of kernel and initrd, e.g. `tftp://10.0.0.1:69` */
  tftpUrl: string;
  kernel: string;
  initrd: string;
  /** extra kernel arguments */
  cmdline: string;
  /** base URL of this API as nodes reach it */
  publicUrl: string;
  nodeId: string;
  deploymentId: string;
}

/** Boots the installer: kernel + initrd, with the node's identity on the kernel command line. */
export function installScript(b: InstallBoot): string {
  const base = b.tftpUrl.replace(/\/+$/, '');
  const api = b.publicUrl.replace(/\/+$/, '');
  const args = [b.cmdline.trim(), `swarmboot.api=${api}`, `swarmboot.node=${b.nodeId}`, `swarmboot.deployment=${b.deploymentId}`, 'initrd=initrd.gz'].filter((a) => a !== '');
  return ['#!ipxe', `kernel ${base}/${b.kernel.replace(/^\/+/, '')} ${args.join(' ')}`, `initrd ${base}/${b.initrd.replace(/^\/+/, '')}`, 'boot', ''].join('\n');
}

/** Says why and exits to the next boot device (the local disk). */
export function localBootScript(message: string): string {
  return ['#!ipxe', `echo ${echoSafe(message)}`, 'exit', ''].join('\n');
}

/** Queued, not admitted yet: waits `seconds` and fetches its script again. */
export function waitScript(message: string, retryUrl: string, seconds: number): string {
  return ['#!ipxe', `echo ${echoSafe(message)}`, `sleep ${Math.max(1, Math.round(seconds))}`, `chain --replace --autofree ${retryUrl}`, ''].join('\n');
}

/** iPXE expands `${…}` in commands and ends a command at a newline: keep messages inert. */
function echoSafe(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/\$/g, '');
}
