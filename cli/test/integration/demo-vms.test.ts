import { execFile } from 'node:child_process';
import { copyFile, link, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { assetPaths, ensureAssets } from '../../src/assets.js';
import { runVmDemo } from '../../src/demo-vms.js';
import { labUnavailable } from '../../src/vm-lab.js';

const pexec = promisify(execFile);
const say = (m: string): void => void process.stderr.write(`  ${m}\n`);

/** Lab namespaces of this process still there (others' namespaces come and go meanwhile). */
async function ourNamespaces(): Promise<string[]> {
  return (await pexec('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`sbvms-${process.pid}-`));
}
const place = (from: string, to: string) => link(from, to).catch(() => copyFile(from, to));

/*
 * The whole path with a real machine's firmware: one SeaBIOS VM, started powered off, is powered
 * on by the deployment (scheduler → power service → QMP), PXE-boots the install
 * environment from the stack in the lab, the agent writes the VM's disk from the swarm, reports
 * installed, the deployment is released, the VM reboots into its own disk (login prompt on the
 * serial console), and that disk boots once more alone, without network. Bounded: 20 min.
 */
test('demo --vms 1: a BIOS VM installs the image, boots its own disk, and the disk boots alone', { timeout: 20 * 60_000 }, async (t) => {
  const why = await labUnavailable();
  if (why) return t.skip(why);
  const work = await mkdtemp(join(tmpdir(), 'sbvms-demo-'));
  try {
    const s = await runVmDemo({ vms: 1, work, say, installTimeoutMs: 12 * 60_000, bootTimeoutMs: 5 * 60_000 });
    const n = s.nodes[0]!;
    t.diagnostic(`stack ${s.stackStartMs} ms; deployment → running ${s.deployToFirstPowerOnMs} ms; power ${JSON.stringify(n.power)}; installed ${n.installedMs} ms; disk boot ${n.firstDiskBootMs} ms; alone ${n.diskCheck?.ms} ms; timeline ${JSON.stringify(n.timeline)}`);
    // powered on by the deployment, through the scheduler's pxe-boot request and the power service's QMP driver
    assert.ok(n.powerOnAt !== undefined, 'the VM was powered on');
    assert.ok(n.power.requests >= 1 && n.power.completed >= 1, `its power request completed: ${JSON.stringify(n.power)}`);
    assert.ok(n.power.completedToRunningMs !== undefined && Math.abs(n.power.completedToRunningMs) < 5000, 'the VM began to run when the power request completed');
    assert.equal(s.installed, 1, `installed: ${n.reason ?? ''}\n${(n.consoleTail ?? []).join('\n')}`);
    assert.equal(s.bootedFromDisk, 1, `booted from its disk: ${n.reason ?? ''}\n${(n.consoleTail ?? []).join('\n')}`);
    assert.equal(s.failed, 0);
    assert.ok(n.installedMs !== undefined && n.firstDiskBootMs !== undefined && n.firstDiskBootMs > n.installedMs, 'the login prompt comes after the install');
    assert.equal(n.diskCheck?.ok, true, 'the kept disk boots alone, without network');
    const got = (n.stats?.bytesFromSeeder ?? 0) + (n.stats?.bytesFromPeers ?? 0) + (n.stats?.bytesFromWebSeed ?? 0);
    assert.ok(got >= s.image.bytes, `the node fetched the image (${got} of ${s.image.bytes} bytes)`);
    // the install wrote the disk: blocks allocated in the sparse file
    const disk = await stat(join(work, 'vms', n.id, 'disk.raw'));
    assert.ok(disk.blocks * 512 > 64 * 1024 ** 2, `disk.raw holds the install (${disk.blocks * 512} bytes allocated)`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  assert.deepEqual(await ourNamespaces(), [], 'the lab namespace is gone');
});

/*
 * Honest failures: a VM whose install environment never installs (here the Debian netboot
 * installer stands in for it — a real kernel that never reports) is given up at its deadline and
 * reported with the node's state and its last console lines; the lab is cleaned up.
 */
test('demo --vms 1: a VM that never reports installed is reported with its state and console', { timeout: 8 * 60_000 }, async (t) => {
  const why = await labUnavailable();
  if (why) return t.skip(why);
  await ensureAssets({ sampleOnly: true, say });
  const work = await mkdtemp(join(tmpdir(), 'sbvms-demo-'));
  const bootenv = join(work, 'not-a-bootenv');
  await mkdir(bootenv);
  const netboot = join(assetPaths().tftpRoot, 'debian');
  await place(join(netboot, 'linux'), join(bootenv, 'vmlinuz'));
  await place(join(netboot, 'initrd.gz'), join(bootenv, 'initrd.img'));
  try {
    const s = await runVmDemo({ vms: 1, work, say, bootenvDir: bootenv, memMiB: 1024, installTimeoutMs: 100_000, checkDisks: false });
    const n = s.nodes[0]!;
    t.diagnostic(`timeline ${JSON.stringify(n.timeline)}; console ${JSON.stringify(n.console)}`);
    assert.equal(s.installed, 0);
    assert.equal(s.failed, 1);
    assert.match(n.reason ?? '', /not installed 100 s after power-on/);
    assert.ok(n.timeline.some((e) => e.state === 'dhcp'), 'it got its lease from the stack in the lab');
    assert.ok(n.console.kernelMs !== undefined, 'it booted the kernel it was given');
    assert.ok((n.consoleTail ?? []).length > 0, 'its last console lines are in the summary');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  assert.deepEqual(await ourNamespaces(), [], 'the lab namespace is gone');
});
