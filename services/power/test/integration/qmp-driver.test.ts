import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { isSwarmbootError, type ErrorCode } from '@swarmboot/contracts';
import { QmpDriver, QmpSession } from '../../src/drivers/qmp.js';
import type { BmcTarget } from '../../src/domain/inventory.js';

// The QMP driver against real qemu (TCG): a SeaBIOS VM started powered off (-S) with a disk whose
// boot sector prints a line, and a virtio NIC with iPXE's ROM behind the disk in the boot order.
// What the driver did is read where it shows: query-status, the devices' bootindex, and SeaBIOS's
// "Booting from …" lines on the serial console (fw_cfg etc/sercon-port mirrors them to COM1).

const QEMU = 'qemu-system-x86_64';
const have = await promisify(execFile)('sh', ['-c', `command -v ${QEMU}`]).then(() => true, () => false);
const why = !have ? `${QEMU} is not installed (Debian: qemu-system-x86)` : !existsSync('/usr/lib/ipxe/qemu/efi-virtio.rom') && !existsSync('/usr/share/qemu/efi-virtio.rom') ? 'the iPXE ROM of virtio-net is missing (Debian: ipxe-qemu)' : undefined;

const never = new AbortController().signal;
const target = (address: string): BmcTarget => ({ ref: { driver: 'qmp', address }, credentials: undefined });
const driver = new QmpDriver({ timeoutMs: 5000 });
const rejects = async (p: Promise<unknown>, code: ErrorCode, text?: RegExp): Promise<void> => {
  await assert.rejects(p, (err: unknown) => isSwarmbootError(err, code) && (text === undefined || text.test(err.message)));
};

let dir: string;
const procs: ChildProcess[] = [];
const servers: Server[] = [];

before(async () => {
  // unix socket paths are limited to 108 bytes: a short directory
  dir = await mkdtemp(join(tmpdir(), 'sbqmp-'));
});
after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once('exit', r)))));
  for (const s of servers) s.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Starts qemu powered off with its QMP socket; resolves once the socket takes connections. */
async function startQemu(name: string, extra: string[]): Promise<{ sock: string; proc: ChildProcess }> {
  const sock = join(dir, `${name}.qmp`);
  const proc = spawn(QEMU, ['-accel', 'tcg', '-S', '-nodefaults', '-display', 'none', '-m', '128', '-qmp', `unix:${sock},server=on,wait=off`, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(proc);
  for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(50);
  assert.ok(existsSync(sock), `qemu made ${sock}`);
  return { sock, proc };
}

/** A 1 MiB disk whose boot sector writes `text` to COM1 and halts (real-mode x86). */
async function printingDisk(path: string, text: string): Promise<void> {
  // cli; xor ax,ax; mov ds,ax; mov si,msg; mov dx,0x3f8; next: lodsb; test al,al; jz done; out dx,al; jmp next; done: hlt; jmp done
  const code = [0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x16, 0x7c, 0xba, 0xf8, 0x03, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xf4, 0xeb, 0xfd];
  const disk = Buffer.alloc(1024 * 1024);
  Buffer.from(code).copy(disk, 0);
  Buffer.from(`${text}\r\n\0`, 'latin1').copy(disk, code.length);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  await writeFile(path, disk);
}

/** The console from byte `from` on, once `pattern` shows in it (polling; bounded by `ms`). */
async function consoleUntil(file: string, from: number, pattern: RegExp, ms = 60_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const text = (await readFile(file)).subarray(from).toString('latin1');
    if (pattern.test(text)) return text;
    if (Date.now() > end) assert.fail(`no ${pattern} on the console within ${ms} ms:\n${text.slice(-1500)}`);
    await sleep(200);
  }
}
const consoleSize = async (file: string): Promise<number> => (await readFile(file)).length;

/** query-status and the devices' bootindex, read on a session of our own. */
async function inspect(sock: string): Promise<{ status: string; nic: unknown; disk: unknown }> {
  const s = await QmpSession.open(sock, AbortSignal.timeout(5000), () => true);
  try {
    const status = ((await s.execute('query-status')) as { status: string }).status;
    const nic = await s.execute('qom-get', { path: '/machine/peripheral/nic0', property: 'bootindex' });
    const disk = await s.execute('qom-get', { path: '/machine/peripheral/disk0', property: 'bootindex' });
    return { status, nic, disk };
  } finally {
    s.close();
  }
}

test('qmp driver on a real qemu: status Off, on (disk first), pxe-boot (NIC first, and it stays), cycle, off, on (a cold boot)', { skip: why, timeout: 5 * 60_000 }, async () => {
  const disk = join(dir, 'disk.raw');
  const consoleLog = join(dir, 'console.log');
  const sercon = join(dir, 'sercon-port.bin');
  await printingDisk(disk, 'swarmboot qmp test disk');
  await writeFile(consoleLog, '');
  await writeFile(sercon, Buffer.from([0xf8, 0x03]));
  const { sock } = await startQemu('vm', [
    '-chardev', `file,id=con0,path=${consoleLog},append=on`, '-serial', 'chardev:con0',
    '-fw_cfg', `name=etc/sercon-port,file=${sercon}`,
    '-drive', `file=${disk},if=none,id=d0,format=raw,snapshot=on`, '-device', 'virtio-blk-pci,drive=d0,id=disk0,bootindex=1',
    // no -netdev: iPXE finds no link, gives up, and SeaBIOS goes on to the next device
    '-device', 'virtio-net-pci,id=nic0,mac=02:5b:7e:00:00:01,bootindex=2',
  ]);
  const t = target(sock);

  assert.deepEqual(await driver.run('status', t, never), { powerState: 'Off' });
  assert.equal((await inspect(sock)).status, 'prelaunch');

  let mark = await consoleSize(consoleLog);
  assert.deepEqual(await driver.run('on', t, never), { powerState: 'Off' }, 'on reports the state it found');
  assert.equal((await inspect(sock)).status, 'running');
  let seen = await consoleUntil(consoleLog, mark, /swarmboot qmp test disk/);
  assert.match(seen, /Booting from Hard Disk/);
  assert.doesNotMatch(seen.slice(0, seen.indexOf('Booting from Hard Disk')), /Booting from ROM/, 'the VM’s own order: the disk first');
  assert.deepEqual(await driver.run('on', t, never), { powerState: 'On' }, 'on when on: nothing');

  mark = await consoleSize(consoleLog);
  assert.deepEqual(await driver.run('pxe-boot', t, never), { powerState: 'On' });
  seen = await consoleUntil(consoleLog, mark, /Booting from (ROM|Hard Disk)/);
  assert.match(seen.match(/Booting from (ROM|Hard Disk)/)![0], /ROM/, `pxe-boot boots the NIC's ROM first:\n${seen.slice(-800)}`);
  const after = await inspect(sock);
  assert.deepEqual([after.status, after.nic, after.disk], ['running', 0, 1], 'the NIC is first in the order, the disk after it');

  // the override stays (QEMU has no one-time flag): the next reset boots the NIC again, and a
  // second pxe-boot finds nothing to change
  mark = await consoleSize(consoleLog);
  assert.deepEqual(await driver.run('cycle', t, never), { powerState: 'On' });
  seen = await consoleUntil(consoleLog, mark, /Booting from (ROM|Hard Disk)/);
  assert.match(seen.match(/Booting from (ROM|Hard Disk)/)![0], /ROM/, `after pxe-boot, a cycle boots the NIC:\n${seen.slice(-800)}`);
  await driver.run('pxe-boot', t, never);
  const again = await inspect(sock);
  assert.deepEqual([again.nic, again.disk], [0, 1]);

  assert.deepEqual(await driver.run('off', t, never), { powerState: 'On' });
  assert.equal((await inspect(sock)).status, 'prelaunch', 'off: stopped and reset, as a machine without power');
  assert.deepEqual(await driver.run('status', t, never), { powerState: 'Off' });
  assert.deepEqual(await driver.run('off', t, never), { powerState: 'Off' }, 'off when off: nothing');

  mark = await consoleSize(consoleLog);
  await driver.run('on', t, never);
  seen = await consoleUntil(consoleLog, mark, /Booting from/);
  assert.match(seen, /SeaBIOS \(version/, 'on after off starts from the firmware');
});

test('qmp driver: pxe-boot of a VM without a NIC is BMC_REJECTED and leaves it as it was', { skip: why, timeout: 60_000 }, async () => {
  const { sock } = await startQemu('nonic', []);
  await rejects(driver.run('pxe-boot', target(sock), never), 'BMC_REJECTED', /no NIC/);
  assert.deepEqual(await driver.run('status', target(sock), never), { powerState: 'Off' });
});

/** A unix socket server that does `behave` with each connection. */
async function fakeMonitor(name: string, behave: (c: Socket) => void): Promise<string> {
  const sock = join(dir, `${name}.sock`);
  const srv = createServer(behave);
  servers.push(srv);
  await new Promise<void>((resolve) => srv.listen(sock, resolve));
  return sock;
}

const Greeting = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\r\n';

test('qmp driver: no socket, a file that is not one, silence, garbage and QMP errors map to BMC_* codes', { skip: why, timeout: 60_000 }, async () => {
  const quick = new QmpDriver({ timeoutMs: 500 });
  await rejects(quick.run('status', target(join(dir, 'nothing-here.qmp')), never), 'BMC_UNREACHABLE', /no QMP socket/);
  const plain = join(dir, 'plain-file');
  await writeFile(plain, 'x');
  await rejects(quick.run('status', target(plain), never), 'BMC_UNREACHABLE');
  const silent = await fakeMonitor('silent', () => undefined);
  await rejects(quick.run('status', target(silent), never), 'BMC_TIMEOUT', /no greeting/);
  const garbage = await fakeMonitor('garbage', (c) => c.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await rejects(quick.run('status', target(garbage), never), 'BMC_RESPONSE_INVALID');
  const closing = await fakeMonitor('closing', (c) => c.end(Greeting));
  await rejects(quick.run('status', target(closing), never), 'BMC_UNREACHABLE', /closed/);
  // a monitor that greets and refuses every command, as QEMU does (with the command's id)
  const refusing = await fakeMonitor('refusing', (c) => {
    c.write(Greeting);
    c.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        const { id } = JSON.parse(line) as { id?: number };
        c.write(`${JSON.stringify({ id, error: { class: 'GenericError', desc: 'nope' } })}\r\n`);
      }
    });
  });
  await rejects(quick.run('status', target(refusing), never), 'BMC_REJECTED', /qmp_capabilities: GenericError: nope/);
  // shutdown (the caller's signal) is not a timeout: its reason comes through as is
  const stop = new AbortController();
  const pending = quick.run('status', target(silent), stop.signal);
  stop.abort(new Error('power service stopping'));
  await assert.rejects(pending, /power service stopping/);
});
