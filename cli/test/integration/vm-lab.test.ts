import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { assetPaths, ensureAssets } from '../../src/assets.js';
import { CLI_ENTRY } from '../../src/stack.js';
import { createLab, labUnavailable, LabNet, type Lab } from '../../src/vm-lab.js';

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

/*
 * One qemu VM (SeaBIOS, the virtio-net iPXE ROM) in the lab PXE-boots through the real
 * `swarmboot dhcp` (UDP 67) and `swarmboot tftp` (UDP 69) running inside the lab's namespace:
 * DHCP gives iPXE a boot script URL on our TFTP server, the script loads the Debian netboot
 * kernel and initrd by TFTP, and the kernel runs (its banner on the serial console). The lease
 * is read back from Redis. No scheduler: the lab alone, with the two boot services.
 */
test('a VM in the lab PXE-boots through swarmboot dhcp and tftp to a running kernel', { timeout: 240_000 }, async (t) => {
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
    await writeFile(
      join(root, 'lab.ipxe'),
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
        bootScriptUrl: `${base}/lab.ipxe`,
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

    const mac = '02:5b:01:00:ff:01';
    const vm = await lab.startVm({ id: 'vm-lab', mac, memMiB: 1024, diskBytes: 64 * 1024 ** 2 });
    const dhcpOk = await vm.console.waitFor(/Configuring \(net0.*ok|DHCP.*ok/, { timeoutMs: 60_000 });
    const fetched = await vm.console.waitFor(/sbvms-lab: boot script fetched/, { from: dhcpOk.index, timeoutMs: 60_000 });
    const kernel = await vm.console.waitFor(/Linux version \d/, { from: fetched.index, timeoutMs: 150_000 });
    t.diagnostic(`namespace + dhcp + tftp up in ${upMs} ms; power-on → DHCP ${dhcpOk.atMs} ms → script ${fetched.atMs} ms → kernel banner ${kernel.atMs} ms`);

    // the lease the VM holds, as the dhcp service wrote it to Redis
    const lease = (await pexec('redis-cli', ['-s', redisSock, 'hgetall', `sb:dhcp:lease:${mac}`])).stdout;
    assert.match(lease, new RegExp(LabNet.host.replace(/\.\d+$/, '').replace(/\./g, '\\.') + '\\.1\\d\\d'), `a lease from the pool for ${mac}: ${lease}`);
    assert.equal(vm.proc.exitCode, null, 'qemu still running');
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
