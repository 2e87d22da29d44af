import { ClientArch } from '../protocol/constants.js';

/**
 * iPXE builds served by TFTP per client architecture (RFC 4578 §2.1 option 93 values): the PXE
 * ROM chainloads iPXE, which then asks again with user class "iPXE" and gets the boot script URL.
 */
export const BootFiles: Readonly<Record<number, string>> = Object.freeze({
  [ClientArch.x86Bios]: 'undionly.kpxe',
  [ClientArch.efiIa32]: 'ipxe.efi',
  [ClientArch.efiX64]: 'ipxe.efi',
  [ClientArch.efiBc]: 'ipxe.efi',
  [ClientArch.efiArm64]: 'ipxe-arm64.efi',
});

export interface BootRequest {
  /** lower-case colon MAC (chaddr) */
  mac: string;
  /** first value of option 93, when sent */
  arch?: number;
  /** option 77 classes */
  userClasses?: readonly string[];
  /** option 60 */
  vendorClass?: string;
}

export interface BootPolicy {
  /** boot script URL template; `${mac}` becomes the client's MAC */
  bootScriptUrl: string;
}

/** The user class iPXE sends (RFC 3004 option 77; iPXE sends the bare text). */
export const IPXE_USER_CLASS = 'iPXE';

/**
 * The boot file for a client, or undefined when it gets none:
 * - user class "iPXE": the scheduler's boot script URL — iPXE is already running, and handing it
 *   the iPXE binary again would loop forever (chainload loop);
 * - otherwise by option 93 architecture ({@link BootFiles}); a PXE client (vendor class
 *   `PXEClient…`) that sent no option 93 predates RFC 4578 and is taken as x86 BIOS;
 * - an unknown architecture, or a client that is not PXE at all, gets none.
 */
export function chooseBootFile(req: BootRequest, policy: BootPolicy): string | undefined {
  if (req.userClasses?.includes(IPXE_USER_CLASS)) return policy.bootScriptUrl.replaceAll('${mac}', req.mac);
  if (req.arch !== undefined) return BootFiles[req.arch];
  if (req.vendorClass?.startsWith('PXEClient')) return BootFiles[ClientArch.x86Bios];
  return undefined;
}
