import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';

/*
 * A stand-in agent for bootenv-vm.test.ts, bundled into a test install environment in place of
 * the real one (same `main()` contract): it prints what /init handed it and drives the disk tools
 * and modules the real agent uses on a loop device (GPT with sfdisk, partition nodes from
 * devtmpfs, vfat ESP and ext4 root made and mounted), prints `PROBE {json}` and exits 0.
 * With `swarmboot.probe.kexec=URL` on the command line it then does what the real agent does to
 * boot the installed system without firmware: fetches URL/vmlinuz and URL/initrd.img, `kexec -l`
 * them with this command line (that argument replaced by `swarmboot.probe.kexeced=1`) and asks
 * /init for `kexec`; otherwise it asks /init to power off.
 */
function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

export async function main(): Promise<void> {
  const work = process.env.SWARMBOOT_AGENT_WORK ?? '';
  const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').map((l) => l.split(' '));
  const workFs = mounts.find((m) => m[1] === work)?.[2];
  const img = `${work}/disk.img`;
  sh('truncate', ['-s', '96M', img]);
  const dev = sh('losetup', ['-f', '--show', '-P', img]);
  execFileSync('sfdisk', ['-q', '--label', 'gpt', dev], { input: 'size=32MiB, type=uefi\ntype=linux\n' });
  sh('blockdev', ['--rereadpt', dev]);
  const parts = [`${dev}p1`, `${dev}p2`].filter((p) => existsSync(p));
  sh('mkfs.vfat', ['-F', '32', parts[0] ?? `${dev}p1`]);
  sh('mkfs.ext4', ['-q', '-F', parts[1] ?? `${dev}p2`]);
  sh('mkdir', ['-p', '/mnt/root', '/mnt/esp']);
  sh('mount', ['-t', 'ext4', `${dev}p2`, '/mnt/root']);
  sh('mount', ['-t', 'vfat', `${dev}p1`, '/mnt/esp']);
  const mounted = (await readFile('/proc/mounts', 'utf8')).split('\n').filter((l) => l.includes('/mnt/')).map((l) => l.split(' ').slice(1, 3).join(' '));
  sh('umount', ['/mnt/esp']);
  sh('umount', ['/mnt/root']);
  sh('losetup', ['-d', dev]);
  const probe = {
    iface: process.env.SWARMBOOT_NODE_IFACE,
    ip: process.env.SWARMBOOT_NODE_IP,
    mac: process.env.SWARMBOOT_NODE_MAC,
    work,
    workFs,
    parts,
    mounted,
    cmdline: (await readFile('/proc/cmdline', 'utf8')).trim(),
    tools: ['sgdisk', 'kexec', 'tar', 'zstd', 'xz', 'wipefs', 'partx', 'resize2fs', 'e2fsck', 'fsck.vfat', 'chroot'].filter((t) => {
      try {
        execFileSync(t, ['--help'], { stdio: 'ignore' });
        return true;
      } catch (err) {
        return (err as { code?: string }).code !== 'ENOENT';
      }
    }),
  };
  process.stdout.write(`PROBE ${JSON.stringify(probe)}\n`);
  const args = probe.cmdline.split(' ');
  const kexecUrl = args.find((a) => a.startsWith('swarmboot.probe.kexec='))?.slice('swarmboot.probe.kexec='.length);
  if (!kexecUrl) {
    await writeFile('/run/swarmboot/after', 'poweroff\n');
    return;
  }
  for (const f of ['vmlinuz', 'initrd.img']) {
    const res = await fetch(`${kexecUrl}/${f}`);
    if (!res.ok) throw new Error(`GET ${kexecUrl}/${f}: ${res.status}`);
    await writeFile(`${work}/${f}`, Buffer.from(await res.arrayBuffer()));
  }
  const append = [...args.filter((a) => !a.startsWith('swarmboot.probe.kexec=')), 'swarmboot.probe.kexeced=1'].join(' ');
  sh('kexec', ['-l', `${work}/vmlinuz`, `--initrd=${work}/initrd.img`, `--append=${append}`]);
  await writeFile('/run/swarmboot/after', 'kexec\n');
}
