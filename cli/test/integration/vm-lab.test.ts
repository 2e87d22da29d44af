import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { QmpDriver } from '@swarmboot/power';
import { assetPaths, ensureAssets } from '../../src/assets.js';
import { CLI_ENTRY } from '../../src/stack.js';
import { bootDiskAlone, createLab, labUnavailable, LabNet, type Lab } from '../../src/vm-lab.js';

const pexec = promisify(execFile);

/** Resolves once `child` printed a line matching `pattern`; rejects when it exits first or after `ms`. */
function waitOutput(child: ChildProcess, pattern: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const t = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms: ${seen.slice(-1500)}`)), ms);
    const on = (d: Buffer): void => {
      seen = (seen + d.toString()).slice(-20_000);
      if (pattern.test(seen)) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`exited (${code}) before ${pattern}: ${seen.slice(-1500)}`));
    });
  });
}

const place = (from: string, to: string) => link(from, to).catch(() => copyFile(from, to));

/**
 * A disk whose MBR boot sector (real-mode x86, 16 bit) writes "swarmboot test disk" and a
 * `login: ` prompt to COM1 and halts: the smallest disk a BIOS boots, to see which way a VM went.
 */
async function loginDisk(path: string): Promise<void> {
  const code = [
    0xfa, // cli
    0x31, 0xc0, // xor ax,ax
    0x8e, 0xd8, // mov ds,ax
    0xbe, 0x16, 0x7c, // mov si,0x7c16 (msg)
    0xba, 0xf8, 0x03, // mov dx,0x3f8
    0xac, // next: lodsb
    0x84, 0xc0, // test al,al
    0x74, 0x03, // jz done
    0xee, // out dx,al
    0xeb, 0xf8, // jmp next
    0xf4, // done: hlt
    0xeb, 0xfd, // jmp done
  ];
  const sector = Buffer.alloc(1024 * 1024);
  Buffer.from(code).copy(sector, 0);
  Buffer.from('swarmboot test disk\r\nlogin: \0', 'latin1').copy(sector, code.length);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  await writeFile(path, sector);
}

/*
 * One qemu VM (SeaBIOS, the virtio-net iPXE ROM) in the lab PXE-boots through the real
 * `swarmboot dhcp` (UDP 67) and `swarmboot tftp` (UDP 69) running inside the lab's namespace:
 * DHCP gives iPXE a boot script URL on our TFTP server, the script loads the Debian netboot
 * kernel and initrd by TFTP, and the kernel runs (its banner on the serial console). The lease
 * is read back from Redis. No scheduler: the lab alone, with the two boot services.
 */
test('a VM in the lab PXE-boots through swarmboot dhcp and tftp to a running kernel; an exit script falls through to the disk', { timeout: 300_000 }, async (t) => {
  const why = await labUnavailable();
  if (why) return t.skip(why);
  await ensureAssets({ sampleOnly: true, say: () => undefined });
  const assets = assetPaths();

  const work = await mkdtemp(join(tmpdir(), 'sbvms-labtest-'));
  let lab: Lab | undefined;
  let redis: ChildProcess | undefined;
  try {
    // Redis on a unix socket: reachable from the namespace and from here, no network involved
    const redisSock = join(work, 'redis.sock');
    redis = spawn('redis-server', ['--port', '0', '--unixsocket', redisSock, '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitOutput(redis, /ready to accept connections/, 10_000);

    const root = join(work, 'tftp');
    await mkdir(join(root, 'debian'), { recursive: true });
    await place(join(assets.tftpRoot, 'debian', 'linux'), join(root, 'debian', 'linux'));
    await place(join(assets.tftpRoot, 'debian', 'initrd.gz'), join(root, 'debian', 'initrd.gz'));
    const base = `tftp://${LabNet.host}`;
    const mac = '02:5b:01:00:ff:01';
    const exitMac = '02:5b:01:00:ff:02';
    // what the scheduler serves an installed node: `exit`, back to the firmware, which boots the disk
    await writeFile(join(root, `boot-${exitMac}.ipxe`), '#!ipxe\necho sbvms-lab: exit to the disk\nexit\n');
    await writeFile(
      join(root, `boot-${mac}.ipxe`),
      ['#!ipxe', 'echo sbvms-lab: boot script fetched', `kernel ${base}/debian/linux console=ttyS0,115200 priority=critical`, `initrd ${base}/debian/initrd.gz`, 'boot', ''].join('\n'),
    );
    const dhcpConfig = join(work, 'dhcp.json');
    await writeFile(
      dhcpConfig,
      JSON.stringify({
        // 0.0.0.0: a socket bound to the bridge's address does not receive the clients' broadcasts
        listen: '0.0.0.0:67',
        serverId: LabNet.host,
        subnets: [{ subnet: LabNet.subnet, pool: `${LabNet.poolFirst}-${LabNet.poolLast}`, router: LabNet.host, nextServer: LabNet.host }],
        bootScriptUrl: `${base}/boot-\${mac}.ipxe`,
        redisUrl: redisSock,
        natsUrl: 'none',
        opsListen: '127.0.0.1:9101',
      }),
    );

    const t0 = Date.now();
    lab = await createLab({ workDir: work });
    const dhcp = lab.spawn(process.execPath, [CLI_ENTRY, 'dhcp', '--config', dhcpConfig]);
    const tftp = lab.spawn(process.execPath, [CLI_ENTRY, 'tftp', '--root', root, '--listen', `${LabNet.host}:69`]);
    const dhcpLog: Buffer[] = [];
    dhcp.stdout?.on('data', (d: Buffer) => dhcpLog.push(d));
    await Promise.all([waitOutput(dhcp, /"DHCP listening"/, 30_000), waitOutput(tftp, /"tftp listening"/, 30_000)]);
    const upMs = Date.now() - t0;

    const vm = await lab.startVm({ id: 'vm-lab', mac, memMiB: 1024, diskBytes: 64 * 1024 ** 2 });
    const dhcpOk = await vm.console.waitFor(/Configuring \(net0.*ok|DHCP.*ok/, { timeoutMs: 60_000 });
    const fetched = await vm.console.waitFor(/sbvms-lab: boot script fetched/, { from: dhcpOk.index, timeoutMs: 60_000 });
    const kernel = await vm.console.waitFor(/Linux version \d/, { from: fetched.index, timeoutMs: 150_000 });
    t.diagnostic(`namespace + dhcp + tftp up in ${upMs} ms; power-on → iPXE configured (DHCP, then its IPv6 wait) ${dhcpOk.atMs} ms → script ${fetched.atMs} ms → kernel banner ${kernel.atMs} ms`);

    // the lease the VM holds, as the dhcp service wrote it to Redis
    const lease = (await pexec('redis-cli', ['-s', redisSock, 'hgetall', `sb:dhcp:lease:${mac}`])).stdout;
    assert.match(lease, new RegExp(LabNet.host.replace(/\.\d+$/, '').replace(/\./g, '\\.') + '\\.1\\d\\d'), `a lease from the pool for ${mac}: ${lease}`);
    assert.equal(vm.proc.exitCode, null, 'qemu still running');
    await vm.stop();

    // network first, disk second: a boot script's `exit` falls through to the disk (bootindex)
    const disk = join(work, 'vms', 'vm-exit', 'disk.raw');
    await mkdir(join(work, 'vms', 'vm-exit'), { recursive: true });
    await loginDisk(disk);
    const vm2 = await lab.startVm({ id: 'vm-exit', mac: exitMac, memMiB: 256 });
    const exited = await vm2.console.waitFor(/sbvms-lab: exit to the disk/, { timeoutMs: 60_000 });
    const login = await vm2.console.waitFor(/login:/, { from: exited.index, timeoutMs: 30_000 });
    t.diagnostic(`exit → disk: script ${exited.atMs} ms, disk's login prompt ${login.atMs} ms after power-on`);
    await vm2.stop();

    // the same disk alone, no network
    const alone = await bootDiskAlone({ disk, consoleLog: join(work, 'alone.log'), memMiB: 256, timeoutMs: 60_000 });
    assert.ok(alone.ok, `the disk boots alone: ${alone.tail.join(' | ')}`);
    t.diagnostic(`disk alone: login prompt ${alone.ms} ms after power-on`);
    const nothing = join(work, 'empty.raw');
    await writeFile(nothing, Buffer.alloc(1024 * 1024));
    const notBootable = await bootDiskAlone({ disk: nothing, consoleLog: join(work, 'empty.log'), memMiB: 256, timeoutMs: 15_000 });
    assert.equal(notBootable.ok, false, 'an empty disk does not reach a login prompt');
  } finally {
    await lab?.destroy();
    redis?.kill('SIGTERM');
    await sleep(100);
    await rm(work, { recursive: true, force: true });
  }
  // nothing left behind: the namespace is gone
  const left = (await pexec('ip', ['netns', 'list'])).stdout;
  assert.ok(!lab || !left.includes(lab.netns), `${lab?.netns} deleted`);
});

/*
 * A VM started powered off (`-S`) prints nothing until the power service's QMP driver powers it
 * on through the socket the lab names for it; the lab takes qemu's RESUME event as the power-on,
 * and console times count from there.
 */
test('a VM started powered off waits for the QMP driver; its power-on time is the RESUME', { timeout: 120_000 }, async (t) => {
  const why = await labUnavailable();
  if (why) return t.skip(why);
  const work = await mkdtemp(join(tmpdir(), 'sbvms-off-'));
  let lab: Lab | undefined;
  try {
    lab = await createLab({ workDir: work });
    const vm = await lab.startVm({ id: 'vm-off', mac: '02:5b:01:00:ff:03', memMiB: 256, diskBytes: 64 * 1024 ** 2, poweredOff: true });
    assert.equal(vm.qmpSocket, lab.qmpSocket('vm-off'));
    await sleep(1500);
    assert.equal(vm.powerOnAt, undefined, 'not running before anyone powers it on');
    assert.equal(vm.console.lines.length, 0, 'no firmware output while powered off');
    const before = Date.now();
    const r = await new QmpDriver({ timeoutMs: 10_000 }).run('pxe-boot', { ref: { driver: 'qmp', address: vm.qmpSocket! }, credentials: undefined }, new AbortController().signal);
    const after = Date.now();
    assert.equal(r.powerState, 'Off');
    const on = await vm.poweredOn;
    assert.ok(on >= before && on <= after, `RESUME (${on}) within the driver's run (${before}..${after})`);
    // the NIC first (the lab's order): iPXE starts
    const ipxe = await vm.console.waitFor(/iPXE initialising devices/, { timeoutMs: 60_000 });
    t.diagnostic(`driver run ${after - before} ms; iPXE ${ipxe.atMs} ms after the RESUME`);
  } finally {
    await lab?.destroy();
    await rm(work, { recursive: true, force: true });
  }
});
