import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { parseSize, selectDisk, type BlockDisk } from '../src/disk/select.js';

const G = 1024 ** 3;
const disk = (name: string, sizeBytes: number, more: Partial<BlockDisk> = {}): BlockDisk => ({
  name, path: `/dev/${name}`, sizeBytes, removable: false, readOnly: false, mounted: [], ...more,
});

// A typical server: a 240 GB boot SSD (SATA), two 4 TB data disks (NVMe), a USB stick, a read-only virtual CD.
const server: BlockDisk[] = [
  disk('sda', 240e9, { byPath: 'pci-0000:00:17.0-ata-1', pciAddress: '0000:00:17.0', serial: 'S3YJNX0K123456', wwn: 'naa.5002538e40a1b2c3' }),
  disk('nvme0n1', 4e12, { byPath: 'pci-0000:3b:00.0-nvme-1', pciAddress: '0000:3b:00.0', serial: 'PHLJ1234000A4P0DGN', wwn: 'eui.0025388b71b1c2d3' }),
  disk('nvme1n1', 4e12, { byPath: 'pci-0000:5e:00.0-nvme-1', pciAddress: '0000:5e:00.0', serial: 'PHLJ1234000B4P0DGN' }),
  disk('sdb', 32 * G, { removable: true }),
  disk('sdc', 8 * G, { readOnly: true }),
];

function code(fn: () => unknown): string {
  try { fn(); } catch (err) { if (isSwarmbootError(err)) return err.code; throw err; }
  return 'no error';
}

test('sizes: binary suffixes, decimal with B, plain bytes', () => {
  assert.equal(parseSize('20G'), 20 * G);
  assert.equal(parseSize('2T'), 2 * 1024 ** 4);
  assert.equal(parseSize('1.5GiB'), 1.5 * G);
  assert.equal(parseSize('500GB'), 500e9);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('12 parsecs'), undefined);
});

test('no hint: the smallest fixed writable unused disk that fits; never the USB stick or the CD', () => {
  assert.equal(selectDisk(server, { minBytes: 2 * G }).name, 'sda');
  assert.equal(selectDisk(server, { minBytes: 300e9 }).name, 'nvme0n1', 'ties by size go by name');
});

test('no hint: a mounted smaller disk is passed over for the next that fits', () => {
  const disks = server.map((d) => (d.name === 'sda' ? { ...d, mounted: ['/'] } : d));
  assert.equal(selectDisk(disks, { minBytes: 2 * G }).name, 'nvme0n1');
});

test('hint by path, by-path (both spellings, udev ≥ 252 ATA link suffix, bare PCI function), serial, wwn', () => {
  assert.equal(selectDisk(server, { hint: '/dev/nvme1n1', minBytes: G }).name, 'nvme1n1');
  assert.equal(selectDisk(server, { hint: '/dev/disk/by-path/pci-0000:5e:00.0-nvme-1', minBytes: G }).name, 'nvme1n1');
  assert.equal(selectDisk(server, { hint: 'by-path:pci-0000:3b:00.0-nvme-1', minBytes: G }).name, 'nvme0n1');
  assert.equal(selectDisk(server, { hint: 'by-path:pci-0000:00:17.0-ata-1.0', minBytes: G }).name, 'sda');
  assert.equal(selectDisk(server, { hint: 'by-path:pci-0000:5e:00.0', minBytes: G }).name, 'nvme1n1', 'one disk on that PCI function');
  assert.equal(selectDisk(server, { hint: 'serial:PHLJ1234000A4P0DGN', minBytes: G }).name, 'nvme0n1');
  assert.equal(selectDisk(server, { hint: 'wwn:0x5002538e40a1b2c3', minBytes: G }).name, 'sda');
  assert.equal(selectDisk(server, { hint: 'wwn:EUI.0025388B71B1C2D3', minBytes: G }).name, 'nvme0n1');
});

test('a named removable disk is taken: the operator asked for it', () => {
  assert.equal(selectDisk(server, { hint: '/dev/sdb', minBytes: G }).name, 'sdb');
});

test('size rules restrict the candidates, then the smallest that fits', () => {
  assert.equal(selectDisk(server, { hint: 'size>=1T', minBytes: G }).name, 'nvme0n1');
  assert.equal(selectDisk(server, { hint: 'size>=100G,size<=1T', minBytes: G }).name, 'sda');
  assert.equal(code(() => selectDisk(server, { hint: 'size>=10T', minBytes: G })), 'DISK_NOT_FOUND');
});

test('refusals carry their codes', () => {
  assert.equal(code(() => selectDisk([], { minBytes: G })), 'DISK_NOT_FOUND', 'no disk at all');
  assert.equal(code(() => selectDisk([disk('sdb', 32 * G, { removable: true })], { minBytes: G })), 'DISK_NOT_FOUND', 'only removable');
  assert.equal(code(() => selectDisk(server, { hint: '/dev/sdz', minBytes: G })), 'DISK_NOT_FOUND', 'hint matches nothing');
  assert.equal(code(() => selectDisk(server, { hint: 'by-path:pci-0000:00:17.0-ata-2', minBytes: G })), 'DISK_NOT_FOUND', 'other ATA port');
  assert.equal(code(() => selectDisk(server, { hint: 'label:boot', minBytes: G })), 'DISK_NOT_FOUND', 'hint not understood');
  assert.equal(code(() => selectDisk(server, { hint: '/dev/sdc', minBytes: G })), 'DISK_NOT_FOUND', 'read-only');
  assert.equal(code(() => selectDisk(server, { hint: '/dev/sda', minBytes: 300e9 })), 'DISK_TOO_SMALL');
  assert.equal(code(() => selectDisk(server, { minBytes: 5e12 })), 'DISK_TOO_SMALL');
  const mounted = server.map((d) => (d.name === 'sda' ? { ...d, mounted: ['/', 'swap'] } : d));
  assert.equal(code(() => selectDisk(mounted, { hint: '/dev/sda', minBytes: G })), 'DISK_MOUNTED');
  assert.equal(code(() => selectDisk(mounted, { hint: 'size<=1T', minBytes: G })), 'DISK_MOUNTED', 'the only one that fits is in use');
});

test('two disks on one PCI function: a bare PCI hint is ambiguous, not a guess', () => {
  const two = [disk('nvme0n1', 4e12, { pciAddress: '0000:3b:00.0', byPath: 'pci-0000:3b:00.0-nvme-1' }), disk('nvme0n2', 4e12, { pciAddress: '0000:3b:00.0', byPath: 'pci-0000:3b:00.0-nvme-2' })];
  assert.equal(code(() => selectDisk(two, { hint: 'by-path:pci-0000:3b:00.0', minBytes: G })), 'DISK_NOT_FOUND');
});
