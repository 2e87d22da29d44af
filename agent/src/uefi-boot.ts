import { existsSync } from 'node:fs';
import type { Logger } from '@swarmboot/kit';
import { run } from './disk/spawn.js';

/** Where Linux shows UEFI variables (efivarfs, mounted by the install environment's /init). */
export const EFIVARS = '/sys/firmware/efi/efivars';
/** The label of the boot entry the agent keeps for the installed system (one per machine). */
export const ENTRY_LABEL = 'swarmboot installed system';
/** The removable-media loader grub-install --removable writes, which every image we write carries (UEFI 2.10 §3.5.1.1). */
export const LOADER = '\\EFI\\BOOT\\BOOTX64.EFI';

export interface EfiBootState {
  /** BootCurrent: the entry this boot came from (the network, in the install environment) */
  current?: string;
  order: string[];
  entries: { num: string; label: string; active: boolean }[];
}

/** Parses `efibootmgr` (efibootmgr 17) output: BootCurrent, BootOrder and the Boot#### lines (pure). */
export function parseEfibootmgr(text: string): EfiBootState {
  const state: EfiBootState = { order: [], entries: [] };
  for (const line of text.split('\n')) {
    const cur = /^BootCurrent:\s*([0-9A-Fa-f]{4})/.exec(line);
    if (cur?.[1]) state.current = cur[1].toUpperCase();
    const order = /^BootOrder:\s*(.*)$/.exec(line);
    if (order?.[1] !== undefined) state.order = order[1].split(',').map((s) => s.trim().toUpperCase()).filter((s) => /^[0-9A-F]{4}$/.test(s));
    const entry = /^Boot([0-9A-Fa-f]{4})(\*?)\s+([^\t]*)/.exec(line);
    if (entry?.[1] && entry[3] !== undefined) state.entries.push({ num: entry[1].toUpperCase(), active: entry[2] === '*', label: entry[3].trim() });
  }
  return state;
}

/**
 * BootOrder with `added` right after the entry this boot came from: the network stays first, so
 * the machine can be installed again, and the installed system comes before the firmware's other
 * network entries (OVMF tries PXEv6, HTTPv4 and HTTPv6 before a disk: 5.7 min measured) (pure).
 */
export function orderWith(state: EfiBootState, added: string): string[] {
  const rest = state.order.filter((n) => n !== added);
  const at = state.current === undefined ? -1 : rest.indexOf(state.current);
  return at < 0 ? [added, ...rest] : [...rest.slice(0, at + 1), added, ...rest.slice(at + 1)];
}

/**
 * On a UEFI machine, makes the installed disk boot next: one boot entry for the ESP's removable
 * loader (replacing the agent's earlier one), placed after the network entry in BootOrder, and
 * BootNext pointing at it for the reboot that follows the install. Without it the firmware's boot
 * manager walks every network entry before the disk once iPXE exits. Returns what it did, or why
 * not; never throws (the firmware finds the disk on its own, only later).
 */
export async function bootInstalledNext(disk: string, espPartition: string, log: Logger): Promise<string> {
  if (!existsSync(EFIVARS)) return 'not a UEFI boot';
  const partNo = /(\d+)$/.exec(espPartition)?.[1];
  if (!partNo) return `no partition number in ${espPartition}`;
  try {
    const efi = async (...args: string[]): Promise<EfiBootState> => parseEfibootmgr(await run('efibootmgr', args));
    for (const old of (await efi()).entries.filter((e) => e.label === ENTRY_LABEL)) await efi('-b', old.num, '-B');
    const state = await efi('-c', '-d', disk, '-p', partNo, '-L', ENTRY_LABEL, '-l', LOADER);
    const added = state.entries.find((e) => e.label === ENTRY_LABEL)?.num;
    if (!added) return 'efibootmgr created no entry';
    const order = orderWith(state, added);
    await efi('-o', order.join(','));
    await efi('-n', added);
    log.info({ entry: added, bootOrder: order, esp: espPartition }, 'UEFI: the installed system boots next');
    return `Boot${added} (${espPartition} ${LOADER}) is BootNext; BootOrder ${order.join(',')}`;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    log.warn({ err }, 'UEFI boot entry not set; the firmware will find the disk after its other boot options');
    return `not set: ${why.slice(0, 300)}`;
  }
}
