import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBootenv, REPO, type Bootenv } from './bootenv-build.js';

// /init in a real VM (qemu, TCG): the install environment boots from -kernel/-initrd with the
// command line iPXE would give it, takes a DHCP lease from qemu's user network (10.0.2.2 is the
// host's loopback), sends the kernel log by netconsole, starts the agent — which fails, the API
// being a stub here — reports the failure to the API and leaves a shell on the console.

const MAC = '52:54:00:5b:0e:01';
const BOOT_TIMEOUT_MS = 150_000;

interface Report {
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}

let env: Bootenv;
let api: Server;
let apiPort: number;
let netcon: Socket;
let netconPort: number;
const reports: Report[] = [];
const netconLines: string[] = [];

before(async () => {
  env = await buildBootenv();
  api = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      reports.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body });
      // the node is not admitted: the agent stops after its `booted` report, /init reports the exit
      if (req.url?.endsWith('/install')) {
        res.writeHead(409, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'NOT_ADMITTED', message: 'node n1 is registered, not admitted in an active deployment' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ state: 'installing', release: false }));
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiPort = (api.address() as AddressInfo).port;
  netcon = createSocket('udp4');
  netcon.on('message', (m) => netconLines.push(m.toString('utf8')));
  await new Promise<void>((resolve) => netcon.bind(0, '127.0.0.1', resolve));
  netconPort = netcon.address().port;
});

after(async () => {
  api?.close();
  netcon?.close();
});

/** qemu under TCG, the kernel and initramfs given directly (as iPXE would after its HTTP fetch), one virtio NIC on qemu's user network; -no-reboot: reboot and power-off end qemu. */
function startVm(bootenv: Bootenv, cmdline: string, nic = ['-nic', `user,model=virtio-net-pci,mac=${MAC}`]): ChildProcess {
  return spawn('qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '1024', '-smp', '1', '-nodefaults', '-display', 'none', '-no-reboot',
    '-kernel', bootenv.vmlinuz, '-initrd', bootenv.initrd, '-append', cmdline,
    ...nic,
    '-serial', 'stdio', '-monitor', 'none',
  ], { stdio: ['pipe', 'pipe', 'pipe'] });
}

async function stopVm(vm: ChildProcess): Promise<void> {
  if (vm.exitCode !== null || vm.signalCode !== null) return;
  const exited = new Promise((resolve) => vm.once('exit', resolve));
  vm.kill('SIGKILL');
  await exited;
}

/** The serial console: everything the guest printed so far, and a wait for a pattern in it. */
class Console {
  text = '';
  private waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  constructor(private readonly vm: ChildProcess) {
    vm.stdout!.on('data', (d: Buffer) => {
      this.text += d.toString('utf8');
      this.waiters = this.waiters.filter((w) => {
        const m = this.text.match(w.re);
        if (m) w.resolve(m);
        return !m;
      });
    });
  }
  wait(re: RegExp, what: string, deadline: number): Promise<RegExpMatchArray> {
    const m = this.text.match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`console: no ${what} (${re}) in time; last output:\n${this.text.slice(-3000)}`)), Math.max(0, deadline - Date.now()));
      this.waiters.push({ re, resolve: (mm) => (clearTimeout(timer), resolve(mm)) });
    });
  }
  write(s: string): void {
    this.vm.stdin!.write(s);
  }
}

test('/init in a VM: NIC up, DHCP lease, netconsole, agent started, failure reported, shell on the console', { timeout: BOOT_TIMEOUT_MS + 30_000 }, async (t) => {
  const cmdline = [
    'console=ttyS0',
    `BOOTIF=01-${MAC.replace(/:/g, '-').toUpperCase()}`,
    `swarmboot.api=http://10.0.2.2:${apiPort}`,
    'swarmboot.node=n1',
    'swarmboot.deployment=d1',
    `netconsole=@/,${netconPort}@10.0.2.2/`,
  ].join(' ');
  const started = Date.now();
  const deadline = started + BOOT_TIMEOUT_MS;
  const vm = startVm(env, cmdline);
  let qemuErr = '';
  vm.stderr!.on('data', (d: Buffer) => (qemuErr += d.toString()));
  const con = new Console(vm);
  try {
    const init = await con.wait(/\[\s*([\d.]+)\] Run \/init as init process/, 'Run /init', deadline);
    const atInit = Date.now();
    await con.wait(/swarmboot: modules loaded: (\d+)/, 'modules loaded', deadline);
    await con.wait(new RegExp(`swarmboot: NIC (\\w+) \\(${MAC}\\) up`), 'NIC up', deadline);
    const lease = await con.wait(/swarmboot: DHCP lease 10\.0\.2\.15\/24 on eth0 from 10\.0\.2\.2 \(router 10\.0\.2\.2, [^)]*\) \[t=([\d.]+)s\]/, 'DHCP lease', deadline);
    const atLease = Date.now();
    await con.wait(/swarmboot: netconsole @10\.0\.2\.15\/eth0,\d+@10\.0\.2\.2\/([0-9a-f]{2}:){5}[0-9a-f]{2}/, 'netconsole with the router MAC', deadline);
    await con.wait(/swarmboot: starting the agent/, 'agent start', deadline);
    const failed = await con.wait(/swarmboot: FAILED: (AGENT_EXITED: exit \d+)/, 'agent failure', deadline);
    await con.wait(/swarmboot: failure reported to /, 'failure reported', deadline);
    await con.wait(/swarmboot# /, 'shell prompt', deadline);
    const atPrompt = Date.now();

    // the shell answers, the network is still up, the agent's output was kept
    con.write('ip -4 addr show eth0; echo agentlog=$(wc -c </run/swarmboot/agent.log); echo sb-$((6*7))\n');
    await con.wait(/\nsb-42/, 'shell output', deadline);
    assert.match(con.text, /inet 10\.0\.2\.15\/24/);
    const logBytes = Number(con.text.match(/agentlog=(\d+)/)?.[1]);
    assert.ok(logBytes > 0, 'agent.log is empty');

    // the agent's own calls (booted, the refused manifest), then /init's failure report
    assert.deepEqual(reports.map((x) => `${x.method} ${x.url}`), ['POST /v1/nodes/n1/report', 'GET /v1/nodes/n1/install', 'POST /v1/nodes/n1/report'], JSON.stringify(reports));
    assert.deepEqual(JSON.parse(reports[0]!.body), { deploymentId: 'd1', stage: 'booted' });
    const r = reports[2]!;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/v1/nodes/n1/report');
    assert.equal(r.contentType, 'application/json');
    const body = JSON.parse(r.body) as { deploymentId: string; stage: string; reason: string };
    assert.deepEqual(body, { deploymentId: 'd1', stage: 'failed', reason: failed[1] });
    assert.match(body.reason, /^AGENT_EXITED: exit [1-9]\d*$/);

    assert.ok(netconLines.some((l) => /Linux version 6\.1\.0-/.test(l)), `netconsole sent ${netconLines.length} lines, no kernel banner`);

    t.diagnostic(`guest clock: /init at ${init[1]} s, DHCP lease at ${lease[1]} s`);
    t.diagnostic(`wall clock: /init ${((atInit - started) / 1000).toFixed(1)} s, lease ${((atLease - started) / 1000).toFixed(1)} s, prompt after the failure report ${((atPrompt - started) / 1000).toFixed(1)} s`);
    t.diagnostic(`netconsole lines received: ${netconLines.length}`);
  } catch (err) {
    if (qemuErr) t.diagnostic(`qemu stderr: ${qemuErr}`);
    throw err;
  } finally {
    await stopVm(vm);
  }
});

test('/init in a VM: the agent gets the NIC, address and a tmpfs work dir, the disk tools work; exit 0 + after=kexec boots the loaded kernel, after=poweroff powers off', { timeout: BOOT_TIMEOUT_MS + 120_000 }, async (t) => {
  // a test install environment with a stand-in agent (bootenv-probe-agent.ts), zstd -3 for a quick build
  const out = await mkdtemp(join(tmpdir(), 'sb-bootenv-probe-'));
  let vm: ChildProcess | undefined;
  let files: Server | undefined;
  try {
    const probeEnv = await buildBootenv(['--out', out], {
      SWARMBOOT_BOOTENV_AGENT_ENTRY: join(REPO, 'agent/dist/test/integration/bootenv-probe-agent.js'),
      SWARMBOOT_BOOTENV_ZSTD_LEVEL: '3',
    });
    // the kernel and initramfs the probe fetches and kexecs, as the real agent does with the installed system's
    const served: string[] = [];
    files = createServer((req, res) => {
      const name = req.url === '/vmlinuz' ? probeEnv.vmlinuz : req.url === '/initrd.img' ? probeEnv.initrd : undefined;
      if (!name) return void res.writeHead(404).end();
      served.push(req.url ?? '');
      void readFile(name).then((b) => res.writeHead(200, { 'content-length': b.length }).end(b));
    });
    await new Promise<void>((resolve) => files!.listen(0, '127.0.0.1', resolve));
    const filesPort = (files.address() as AddressInfo).port;
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    // swarmboot.mac= spelled with capitals and dashes: /init normalises it
    vm = startVm(probeEnv, `console=ttyS0 swarmboot.mac=${MAC.toUpperCase().replace(/:/g, '-')} swarmboot.node=n2 swarmboot.probe.kexec=http://10.0.2.2:${filesPort}`);
    const con = new Console(vm);
    const exited = new Promise<number | null>((resolve) => vm!.once('exit', (code) => resolve(code)));
    const line = await con.wait(/PROBE (\{.*\})\r?\n/, 'PROBE line', deadline);
    const probe = JSON.parse(line[1]!) as { iface: string; ip: string; mac: string; work: string; workFs: string; parts: string[]; mounted: string[]; tools: string[]; cmdline: string };
    assert.equal(probe.iface, 'eth0');
    assert.equal(probe.ip, '10.0.2.15');
    assert.equal(probe.mac, MAC);
    assert.equal(probe.work, '/var/lib/swarmboot');
    assert.equal(probe.workFs, 'tmpfs');
    assert.deepEqual(probe.parts, ['/dev/loop0p1', '/dev/loop0p2']);
    assert.deepEqual(probe.mounted.sort(), ['/mnt/esp vfat', '/mnt/root ext4']);
    assert.deepEqual(probe.tools, ['sgdisk', 'kexec', 'tar', 'zstd', 'xz', 'wipefs', 'partx', 'resize2fs', 'e2fsck', 'fsck.vfat', 'chroot']);
    await con.wait(/swarmboot: agent done; next: kexec/, 'agent done, kexec', deadline);
    const kexeced = Date.now();
    // the second kernel runs the same /init: a second lease and a second probe, then power-off
    const second = await con.wait(/Command line: [^\n]*swarmboot\.probe\.kexeced=1[\s\S]*PROBE (\{.*\})\r?\n/, 'PROBE after kexec', deadline);
    assert.match((JSON.parse(second[1]!) as { cmdline: string }).cmdline, /swarmboot\.probe\.kexeced=1/);
    assert.deepEqual(served, ['/vmlinuz', '/initrd.img']);
    await con.wait(/swarmboot: agent done; next: poweroff/, 'agent done, poweroff', deadline);
    await con.wait(/reboot: Power down/, 'power down', deadline);
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))]);
    assert.equal(code, 0, 'qemu did not exit after the guest powered off');
    t.diagnostic(`probe initrd (zstd -3): ${probeEnv.manifest.initrd.bytes} bytes; kexec to the second probe: ${((Date.now() - kexeced) / 1000).toFixed(1)} s`);
  } finally {
    if (vm) await stopVm(vm);
    files?.close();
    await rm(out, { recursive: true, force: true });
  }
});

test('/init in a VM without a DHCP server: NO_DHCP_LEASE after 3 bounded attempts, nothing reported, shell on the console', { timeout: BOOT_TIMEOUT_MS + 30_000 }, async () => {
  // the NIC's frames go to a UDP port nobody reads: no offer ever comes
  const reportsBefore = reports.length;
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  const vm = startVm(env, `console=ttyS0 BOOTIF=01-${MAC.replace(/:/g, '-')} swarmboot.api=http://10.0.2.2:${apiPort} swarmboot.node=n3 swarmboot.deployment=d3`, [
    '-netdev', 'socket,id=n0,udp=127.0.0.1:9,localaddr=127.0.0.1:0',
    '-device', `virtio-net-pci,netdev=n0,mac=${MAC}`,
  ]);
  const con = new Console(vm);
  try {
    await con.wait(/swarmboot: no DHCP lease on eth0 \(attempt 3\)/, 'third failed attempt', deadline);
    await con.wait(new RegExp(`swarmboot: FAILED: NO_DHCP_LEASE: no DHCP offer on eth0 \\(${MAC}\\) after 3 attempts`), 'NO_DHCP_LEASE', deadline);
    await con.wait(/swarmboot: no network: the failure is not reported/, 'no report', deadline);
    await con.wait(/swarmboot# /, 'shell prompt', deadline);
    assert.doesNotMatch(con.text, /starting the agent/);
    assert.equal(reports.length, reportsBefore);
  } finally {
    await stopVm(vm);
  }
});
