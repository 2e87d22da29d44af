import { ClientArch } from '../protocol/constants.js';

/**
 * Boot files per client kind. The PXE ROM chainloads iPXE (by TFTP, from `nextServer`), which
 * then asks again with user class "iPXE" and gets the scheduler's boot script URL. UEFI HTTP boot
 * clients (vendor class `HTTPClient…`, option 93 = 15/16/19) get a URL instead of a TFTP path.
 */
export interface BootFileSet {
  /** option 93 = 0 (or a PXEClient without option 93): legacy BIOS */
  bios: string;
  /** option 93 = 6 */
  efiIa32: string;
  /** option 93 = 7 or 9; `snponly.efi` for NICs whose UNDI iPXE lacks a driver for */
  efiX64: string;
  /** option 93 = 11 */
  efiArm64: string;
  /** UEFI HTTP boot, x86 (15) and x64 (16): an http(s) URL of the iPXE EFI binary */
  httpX64?: string;
  /** UEFI HTTP boot, arm64 (19) */
  httpArm64?: string;
}

/** The defaults: what `swarmboot` serves from its TFTP root. */
export const BootFiles: Readonly<BootFileSet> = Object.freeze({
  bios: 'undionly.kpxe',
  efiIa32: 'ipxe.efi',
  efiX64: 'ipxe.efi',
  efiArm64: 'ipxe-arm64.efi',
});

/** RFC 4578 §2.1 / IANA processor architecture types of UEFI HTTP boot. */
export const HttpBootArch = { x86: 15, x64: 16, arm64: 19 } as const;

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
  /** defaults to {@link BootFiles} */
  files?: Readonly<BootFileSet>;
}

/** The user class iPXE sends (RFC 3004 option 77; iPXE sends the bare text). */
export const IPXE_USER_CLASS = 'iPXE';

/** The kind of boot client, from options 60 and 77. */
export type ClientKind = 'ipxe' | 'pxe' | 'http' | 'other';

/** iPXE (user class) before PXE ROM (`PXEClient…`) before UEFI HTTP boot (`HTTPClient…`). */
export function clientKind(req: Pick<BootRequest, 'userClasses' | 'vendorClass'>): ClientKind {
  if (req.userClasses?.includes(IPXE_USER_CLASS)) return 'ipxe';
  if (req.vendorClass?.startsWith('PXEClient')) return 'pxe';
  if (req.vendorClass?.startsWith('HTTPClient')) return 'http';
  return 'other';
}

/**
 * The boot file for a client, or undefined when it gets none:
 * - user class "iPXE": the scheduler's boot script URL — iPXE is already running, and handing it
 *   the iPXE binary again would loop forever (chainload loop);
 * - UEFI HTTP boot (vendor class `HTTPClient`, or option 93 = 15/16/19): the configured URL;
 * - otherwise by option 93 architecture; a PXE client (vendor class `PXEClient…`) that sent no
 *   option 93 predates RFC 4578 and is taken as x86 BIOS;
 * - an unknown architecture, or a client that is not PXE at all, gets none.
 */
export function chooseBootFile(req: BootRequest, policy: BootPolicy): string | undefined {
  const f = policy.files ?? BootFiles;
  const kind = clientKind(req);
  if (kind === 'ipxe') return policy.bootScriptUrl.replaceAll('${mac}', req.mac);
  const httpArch = req.arch === HttpBootArch.x86 || req.arch === HttpBootArch.x64 || req.arch === HttpBootArch.arm64;
  if (kind === 'http' || httpArch) return req.arch === HttpBootArch.arm64 ? f.httpArm64 : f.httpX64;
  switch (req.arch) {
    case undefined:
      return kind === 'pxe' ? f.bios : undefined;
    case ClientArch.x86Bios:
      return f.bios;
    case ClientArch.efiIa32:
      return f.efiIa32;
    case ClientArch.efiX64:
    case ClientArch.efiBc:
      return f.efiX64;
    case ClientArch.efiArm64:
      return f.efiArm64;
    default:
      return undefined;
  }
}
