import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labPowerInventory, labStackEnv, vmNode } from '../src/demo-vms.js';
import { ConsoleWatcher, qemuArgs, stripTerminal } from '../src/vm-lab.js';

// Bytes as qemu writes them to a serial console file: SeaBIOS/iPXE escape sequences, CRLF, lines
// split across writes, and getty's `login: ` prompt with no newline after it.
test('the console watcher follows an appended file: split lines, escapes, a prompt without newline, from a mark', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sbvms-console-'));
  const file = join(dir, 'console.log');
  await writeFile(file, '');
  const w = new ConsoleWatcher(file, Date.now());
  try {
    await appendFile(file, '\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2)\r\n\r\n\x1b[0;1miPXE 1.0.0\x1b[0m -- Open Source\r\nConfiguring (net0 02:5b:01:00:00:01)...');
    const seabios = await w.waitFor(/SeaBIOS/, { timeoutMs: 2000 });
    assert.equal(seabios.text, 'SeaBIOS (version 1.16.2)');
    assert.equal(w.lines[1]?.text, 'iPXE 1.0.0 -- Open Source');

    // the rest of a line comes in a later write
    const pending = w.waitFor(/Configuring .* ok$/, { timeoutMs: 3000 });
    await sleep(300);
    // a UTF-8 character split across two writes stays one character
    const dash = Buffer.from('swarmboot: FAILED — shell on the console\r\n');
    await appendFile(file, Buffer.concat([Buffer.from('... ok\r\n'), dash.subarray(0, 19)]));
    await sleep(300);
    await appendFile(file, Buffer.concat([dash.subarray(19), Buffer.from('Debian GNU/Linux 12 vm-001 ttyS0\r\n\r\nvm-001 login: ')]));
    assert.equal((await pending).text, 'Configuring (net0 02:5b:01:00:00:01)...... ok');
    assert.equal((await w.waitFor(/FAILED/, { timeoutMs: 2000 })).text, 'swarmboot: FAILED — shell on the console');
    const login = await w.waitFor(/login:/, { timeoutMs: 2000 });
    assert.equal(login.text, 'vm-001 login: ');

    // only what comes after a mark: the first prompt does not count for the second boot
    const mark = w.mark();
    await assert.rejects(w.waitFor(/login:/, { from: mark, timeoutMs: 500 }), (err: { code?: string; message: string }) => err.code === 'VM_CONSOLE_TIMEOUT' && err.message.includes('vm-001 login:'));
    await appendFile(file, '\r\n[  OK  ] Reached target reboot\r\nSeaBIOS (version 1.16.2)\r\nvm-001 login: ');
    const second = await w.waitFor(/login:/, { from: mark, timeoutMs: 2000 });
    assert.ok(second.index > login.index);
    assert.ok(second.atMs >= login.atMs);
    assert.deepEqual(w.tail(2), ['SeaBIOS (version 1.16.2)', 'vm-001 login: ']);
  } finally {
    await w.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a wait ends when the VM does, with the reason and the last lines', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sbvms-console-'));
  const file = join(dir, 'console.log');
  await writeFile(file, 'Kernel panic - not syncing: VFS: Unable to mount root fs\n');
  const w = new ConsoleWatcher(file, Date.now());
  let end: (why: string) => void = () => undefined;
  w.until(new Promise<string>((r) => (end = r)));
  try {
    const waiting = w.waitFor(/login:/, { timeoutMs: 10_000 });
    await sleep(100);
    end('qemu exited (0)');
    await assert.rejects(waiting, (err: { code?: string; message: string }) => err.code === 'VM_EXITED' && err.message.includes('Kernel panic'));
  } finally {
    await w.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('stripTerminal removes ANSI sequences and control characters, keeps the text', () => {
  assert.equal(stripTerminal('\x1b[1m\x1b[37m\x1b[40miPXE 1.0.0\x1b[0m\x1b[37m\x1b[40m -- Open'), 'iPXE 1.0.0 -- Open');
  assert.equal(stripTerminal('Press Ctrl-B...\b \b\b \bnet0: up'), 'Press Ctrl-B...  net0: up');
});

test('qemuArgs: a VM started powered off has -S and one QMP monitor per socket; a powered-on one neither', () => {
  const base = { mac: '02:5b:01:00:00:01', disk: '/d/disk.raw', consoleLog: '/d/console.log', memMiB: 512, tap: 'tap1' };
  const off = qemuArgs({ ...base, paused: true, qmp: ['/s/vm-001.qmp', '/s/vm-001.watch'] });
  assert.ok(off.includes('-S'));
  assert.deepEqual(off.flatMap((a, i) => (a === '-qmp' ? [off[i + 1]] : [])), ['unix:/s/vm-001.qmp,server=on,wait=off', 'unix:/s/vm-001.watch,server=on,wait=off']);
  const on = qemuArgs(base);
  assert.ok(!on.includes('-S') && !on.includes('-qmp'));
});

test('labPowerInventory and labStackEnv: each node id → its QMP socket, read by the power service at the stagger rate', () => {
  const inv = JSON.parse(labPowerInventory([vmNode(1), vmNode(2)], (id) => `/tmp/sbvms-x/${id}.qmp`)) as Record<string, unknown>;
  assert.deepEqual(inv, { 'vm-001': { driver: 'qmp', address: '/tmp/sbvms-x/vm-001.qmp' }, 'vm-002': { driver: 'qmp', address: '/tmp/sbvms-x/vm-002.qmp' } });
  const env = labStackEnv({ seederUploadLimit: 1, bootenvDir: '/b', powerBmcs: '/w/power-bmcs.json', powerPerSecond: 1000 / 1500 });
  assert.equal(env.power['SWARMBOOT_POWER_BMCS'], '/w/power-bmcs.json');
  assert.equal(Number(env.power['SWARMBOOT_POWER_RATE_PER_SECOND']).toFixed(3), '0.667');
});
