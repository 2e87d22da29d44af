import { test } from 'node:test';
import assert from 'node:assert/strict';
import { orderWith, parseEfibootmgr } from '../src/uefi-boot.js';

/** efibootmgr 17 on OVMF (Debian 12), booted from the NIC's PXEv4 entry, after the agent added its entry. */
const OVMF = [
  'BootCurrent: 0003',
  'Timeout: 0 seconds',
  'BootOrder: 0007,0003,0004,0005,0006,0001,0000,0002',
  'Boot0000* UiApp\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)',
  'Boot0001* UEFI Misc Device\tPciRoot(0x0)/Pci(0x3,0x0){auto_created_boot_option}',
  'Boot0002* EFI Internal Shell\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(7c04a583-9e3e-4f1c-ad65-e05268d0b4d1)',
  'Boot0003* UEFI PXEv4 (MAC:025B01000001) 2\tPciRoot(0x0)/Pci(0x2,0x0)/MAC(025b01000001,1)/IPv4(0.0.0.0,0,DHCP,0.0.0.0,0.0.0.0,0.0.0.0)',
  'Boot0004* UEFI PXEv6 (MAC:025B01000001)\tPciRoot(0x0)/Pci(0x2,0x0)/MAC(025b01000001,1)/IPv6([::],0,Static,[::],[::],64)',
  'Boot0007* swarmboot installed system\tHD(2,GPT,0f3d…,0x1000,0x80000)/File(\\EFI\\BOOT\\BOOTX64.EFI)',
  '',
].join('\n');

test('parseEfibootmgr: BootCurrent, BootOrder and the entries with their labels', () => {
  const s = parseEfibootmgr(OVMF);
  assert.equal(s.current, '0003');
  assert.deepEqual(s.order, ['0007', '0003', '0004', '0005', '0006', '0001', '0000', '0002']);
  assert.deepEqual(s.entries.map((e) => [e.num, e.label]), [
    ['0000', 'UiApp'],
    ['0001', 'UEFI Misc Device'],
    ['0002', 'EFI Internal Shell'],
    ['0003', 'UEFI PXEv4 (MAC:025B01000001) 2'],
    ['0004', 'UEFI PXEv6 (MAC:025B01000001)'],
    ['0007', 'swarmboot installed system'],
  ]);
  assert.deepEqual(parseEfibootmgr('EFI variables are not supported on this system.\n'), { order: [], entries: [] });
});

test('orderWith: the installed system right after the network entry that booted, not before it', () => {
  const s = parseEfibootmgr(OVMF);
  assert.deepEqual(orderWith(s, '0007'), ['0003', '0007', '0004', '0005', '0006', '0001', '0000', '0002']);
  const { current: _c, ...noCurrent } = s;
  assert.deepEqual(orderWith(noCurrent, '0007'), ['0007', '0003', '0004', '0005', '0006', '0001', '0000', '0002'], 'no BootCurrent: first');
});
