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

/** What a real node's install environment needs on its kernel command line. */
export interface EnvironmentBoot {
  /** base URL of `vmlinuz` and `initrd.img` (HTTP) */
  bootenvUrl: string;
  /** extra kernel arguments (console=…) */
  cmdline: string;
  publicUrl: string;
  nodeId: string;
  deploymentId: string;
  /** the node's MAC (aa:bb:cc:dd:ee:ff): /init brings up the NIC that booted */
  mac: string;
  /** syslog `host:port` of the agent */
  syslog: string;
  /** netconsole target `ipv4:port`, or undefined for none */
  netconsole: string | undefined;
  /** install attempt (1-based) and the most allowed, shown on the console */
  attempt: number;
  attempts: number;
}

/**
 * Boots swarmboot's install environment over HTTP (kernel + initramfs, scripts/build-bootenv.sh).
 * `BOOTIF=01-<mac>` is pxelinux's name for the NIC that booted (htype 1, Ethernet); the
 * environment's /init reads it, as it reads `swarmboot.*`. `netconsole=@/,PORT@IP/` leaves the
 * source address and device to /init, which knows them after DHCP (Documentation/networking/netconsole.rst).
 */
export function environmentScript(b: EnvironmentBoot): string {
  const base = b.bootenvUrl.replace(/\/+$/, '');
  const api = b.publicUrl.replace(/\/+$/, '');
  const nc = b.netconsole === undefined ? undefined : /^(.+):(\d+)$/.exec(b.netconsole);
  const args = [
    'initrd=initrd.img',
    b.cmdline.trim(),
    `BOOTIF=01-${b.mac.toLowerCase().replace(/:/g, '-')}`,
    `swarmboot.api=${api}`,
    `swarmboot.node=${b.nodeId}`,
    `swarmboot.deployment=${b.deploymentId}`,
    `swarmboot.syslog=${b.syslog}`,
    nc ? `netconsole=@/,${nc[2]}@${nc[1]}/` : '',
  ].filter((a) => a !== '');
  return [
    '#!ipxe',
    `echo ${echoSafe(`swarmboot: node ${b.nodeId}, deployment ${b.deploymentId}, install attempt ${b.attempt} of ${b.attempts}`)}`,
    `kernel ${base}/vmlinuz ${args.join(' ')}`,
    `initrd ${base}/initrd.img`,
    'boot',
    '',
  ].join('\n');
}

/**
 * Says why and boots the local disk. BIOS: `sanboot --no-describe --drive 0x80` boots the first
 * hard disk through INT 13h without handing iPXE's network to it, and `exit` (back to the
 * firmware's next boot device) is the fallback when that disk cannot boot. UEFI: `exit 1` — a
 * boot option that returns EFI_SUCCESS makes the boot manager stop and show its menu, one that
 * fails makes it try the next boot option (UEFI 2.10 §3.1.1; measured with OVMF: plain `exit`
 * left the VM in the setup menu). `exit` must come last: nothing runs after it.
 */
export function localBootScript(message: string): string {
  return ['#!ipxe', `echo ${echoSafe(message)}`, 'iseq ${platform} pcbios && sanboot --no-describe --drive 0x80 ||', 'exit 1', ''].join('\n');
}

/** Queued, not admitted yet: waits `seconds` and fetches its script again. */
export function waitScript(message: string, retryUrl: string, seconds: number): string {
  return ['#!ipxe', `echo ${echoSafe(message)}`, `sleep ${Math.max(1, Math.round(seconds))}`, `chain --replace --autofree ${retryUrl}`, ''].join('\n');
}

/** iPXE expands `${…}` in commands and ends a command at a newline: keep messages inert. */
function echoSafe(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/\$/g, '');
}
