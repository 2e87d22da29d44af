import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { listDisks } from '../src/disk/list.js';

// A sysfs and procfs laid out as kernel 6.1 shows them on a server with a virtio disk, an AHCI SATA disk, an NVMe
// namespace, a device-mapper volume on the SATA disk, a CD and a RAM disk (paths copied from real machines; the
// expected by-path names are what udev's path_id gives for them).
let root: string;

async function file(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text + '\n');
}

async function blockDev(name: string, devicePath: string, attrs: Record<string, string>): Promise<void> {
  const real = join(root, 'sys/devices', devicePath, 'block', name);
  for (const [k, v] of Object.entries(attrs)) await file(join(real, k), v);
  await mkdir(join(root, 'sys/block'), { recursive: true });
  await symlink(join('..', 'devices', devicePath, 'block', name), join(root, 'sys/block', name));
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'swarmboot-disk-list-'));
  await blockDev('vda', 'pci0000:00/0000:00:04.0/virtio1', { size: '41943040', removable: '0', ro: '0', serial: 'vm-disk-1', dev: '252:0' });
  await file(join(root, 'sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda1/partition'), '1');
  await file(join(root, 'sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda1/dev'), '252:1');
  await blockDev('sda', 'pci0000:00/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0', { size: '468862128', removable: '0', ro: '0', dev: '8:0', 'device/model': 'SAMSUNG MZ7LH240', 'device/wwid': 'naa.5002538e40a1b2c3' });
  await file(join(root, 'sys/class/ata_port/ata3/port_no'), '3');
  await file(join(root, 'sys/devices/pci0000:00/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0/block/sda/sda2/partition'), '2');
  await file(join(root, 'sys/devices/pci0000:00/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0/block/sda/sda2/dev'), '8:2');
  await mkdir(join(root, 'sys/devices/pci0000:00/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0/block/sda/sda2/holders/dm-0'), { recursive: true });
  await blockDev('dm-0', 'virtual', { size: '1000', dev: '254:0' });
  await mkdir(join(root, 'sys/class/block'), { recursive: true });
  await symlink('../../devices/virtual/block/dm-0', join(root, 'sys/class/block/dm-0'));
  await blockDev('nvme0n1', 'pci0000:00/0000:00:1d.0/0000:3b:00.0/nvme/nvme0', { size: '7814037168', removable: '0', ro: '0', nsid: '1', wwid: 'eui.0025388b71b1c2d3', dev: '259:0', 'device/serial': 'PHLJ1234000A4P0DGN  ', 'device/model': 'INTEL SSDPE2KX040T8' });
  await blockDev('sr0', 'pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0', { size: '2097152', removable: '1', ro: '0' });
  await blockDev('ram0', 'virtual', { size: '8192', removable: '0', ro: '0' });
  // The volume on sda2 is mounted as /srv (mountinfo names it by maj:min 254:0), vda1 is swap.
  await file(join(root, 'proc/self/mountinfo'), [
    '22 1 0:21 / / rw,relatime - tmpfs rootfs rw',
    '30 22 254:0 / /srv rw,relatime - ext4 /dev/mapper/vg-srv rw',
  ].join('\n'));
  await file(join(root, 'proc/swaps'), 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/vda1                               partition\t1048572\t\t0\t\t-2');
});

after(async () => { if (root) await rm(root, { recursive: true, force: true }); });

test('listDisks reads sizes, flags, ids, by-path and use from sysfs and procfs alone', async () => {
  const disks = await listDisks({ sysRoot: join(root, 'sys'), procRoot: join(root, 'proc') });
  assert.deepEqual(disks.map((d) => d.name), ['nvme0n1', 'sda', 'vda'], 'no CD, RAM disk or dm volume');
  const [nvme, sda, vda] = disks as [typeof disks[0], typeof disks[0], typeof disks[0]];
  assert.deepEqual(nvme, {
    name: 'nvme0n1', path: '/dev/nvme0n1', sizeBytes: 7814037168 * 512, removable: false, readOnly: false,
    serial: 'PHLJ1234000A4P0DGN', wwn: 'eui.0025388b71b1c2d3', byPath: 'pci-0000:3b:00.0-nvme-1', pciAddress: '0000:3b:00.0',
    model: 'INTEL SSDPE2KX040T8', mounted: [],
  });
  assert.equal(sda.byPath, 'pci-0000:00:1f.2-ata-3');
  assert.equal(sda.wwn, 'naa.5002538e40a1b2c3');
  assert.deepEqual(sda.mounted, ['/srv'], 'through the dm holder of sda2');
  assert.equal(vda.byPath, 'pci-0000:00:04.0');
  assert.equal(vda.serial, 'vm-disk-1');
  assert.deepEqual(vda.mounted, ['swap']);
});

test('listDisks on a machine with no disks gives an empty list', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'swarmboot-disk-none-'));
  try {
    assert.deepEqual(await listDisks({ sysRoot: join(empty, 'sys'), procRoot: join(empty, 'proc') }), []);
  } finally { await rm(empty, { recursive: true, force: true }); }
});
