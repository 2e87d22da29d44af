import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Events, type PowerAction, type PowerCompleted, type PowerFailed } from '@swarmboot/contracts';
import { connectNats, createLogger, EventBus } from '@swarmboot/kit';
import { freePort, spawnMain, startNats, waitFor, type MainProcess, type Started } from '@swarmboot/testkit';
import { QmpSession } from '../../src/drivers/qmp.js';

// `swarmboot power` with a qemu VM (a NIC, no disk) as the node's BMC: an inventory of one qmp entry and no
// credentials file, requests over real NATS. What reached the VM is counted on a second QMP
// monitor of the same qemu: each host-initiated reset is one BMC operation of the driver.

const QEMU = 'qemu-system-x86_64';
const have = await promisify(execFile)('sh', ['-c', `command -v ${QEMU}`]).then(() => true, () => false);
const entry = fileURLToPath(new URL('../../src/index.js', import.meta.url));
const CoalesceMs = 2000;

let dir: string;
let nats: Started;
let qemu: ChildProcess;
let watch: QmpSession;
let proc: MainProcess;
let bus: EventBus;

before(async () => {
  if (!have) return;
  dir = await mkdtemp(join(tmpdir(), 'sbqmps-'));
  const bmc = join(dir, 'vm.qmp');
  const watchSock = join(dir, 'vm.watch');
  qemu = spawn(QEMU, ['-accel', 'tcg', '-S', '-nodefaults', '-display', 'none', '-m', '64', '-qmp', `unix:${bmc},server=on,wait=off`, '-qmp', `unix:${watchSock},server=on,wait=off`, '-device', 'virtio-net-pci,id=nic0,mac=02:5b:7e:00:00:02'], { stdio: 'ignore' });
  await waitFor('qemu’s QMP sockets', () => existsSync(bmc) && existsSync(watchSock), 10_000);
  watch = await QmpSession.open(watchSock, new AbortController().signal, () => false);
  nats = await startNats();
  await writeFile(join(dir, 'bmcs.yaml'), `vm-a: { driver: qmp, address: ${JSON.stringify(bmc)} }\n`);
  const opsPort = await freePort();
  proc = spawnMain(entry, {
    SWARMBOOT_NATS_URL: nats.url,
    SWARMBOOT_POWER_BMCS: join(dir, 'bmcs.yaml'),
    SWARMBOOT_POWER_COALESCE_MS: String(CoalesceMs),
    SWARMBOOT_POWER_TIMEOUT_MS: '5000',
    SWARMBOOT_OPS_LISTEN: `127.0.0.1:${opsPort}`,
  });
  await proc.healthz(opsPort);
  const log = createLogger('qmp-service-test', 'silent');
  bus = new EventBus(await connectNats(nats.url, 'qmp-service-test', log), 'swarmboot/qmp-service-test', log);
});

after(async () => {
  proc?.kill();
  await bus?.nc.drain();
  watch?.close();
  qemu?.kill('SIGKILL');
  await nats?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

type Result = { kind: 'completed'; data: PowerCompleted } | { kind: 'failed'; data: PowerFailed };

/** Publishes requests for vm-a (as the scheduler does) at once and waits for each one's result. */
async function power(...actions: PowerAction[]): Promise<Result[]> {
  const ids = actions.map(() => randomUUID());
  const results = new Map<string, Result>();
  const stops = [
    bus.subscribe(Events.powerCompleted, (data) => void results.set(data.requestId, { kind: 'completed', data }), 'vm-a'),
    bus.subscribe(Events.powerFailed, (data) => void results.set(data.requestId, { kind: 'failed', data }), 'vm-a'),
  ];
  try {
    await bus.nc.flush();
    await Promise.all(actions.map((action, i) => bus.publish(Events.powerRequested, { requestId: ids[i]!, nodeId: 'vm-a', action, reason: 'test' })));
    await waitFor('every result', () => ids.every((id) => results.has(id)), 20_000);
    return ids.map((id) => results.get(id)!);
  } finally {
    for (const stop of stops) stop();
  }
}

/** Host-initiated resets so far (QMP RESET with guest false): one per system_reset the driver sent. */
const hostResets = (): number => watch.eventsSince().filter((e) => e.event === 'RESET' && e.data['guest'] === false).length;

test('power service + QMP: a VM powered off is PXE-booted; two pxe-boots at once do one reset; one inside the window none; after it, another', { skip: have ? false : `${QEMU} is not installed`, timeout: 60_000 }, async () => {
  const powerState = (r: Result | undefined): string | undefined => (r?.kind === 'completed' ? r.data.powerState : undefined);
  const [status] = await power('status');
  assert.equal(powerState(status), 'Off', 'started with -S: off');

  const resume = watch.mark();
  const [a, b] = await power('pxe-boot', 'pxe-boot');
  assert.deepEqual([a?.kind, b?.kind], ['completed', 'completed'], JSON.stringify([a?.data, b?.data]));
  const coalesced = [a, b].filter((r) => r?.data.coalescedWith !== undefined);
  assert.equal(coalesced.length, 1, `one of the two shared the other's operation: ${JSON.stringify([a?.data, b?.data])}`);
  await watch.waitEvent('RESUME', resume);
  assert.equal(hostResets(), 1, 'one BMC operation for the two requests');

  const [c] = await power('pxe-boot');
  assert.ok(c?.data.coalescedWith !== undefined, 'inside the window: answered from the last one');
  assert.equal(hostResets(), 1);

  await sleep(CoalesceMs + 200);
  const [d] = await power('pxe-boot');
  assert.equal(d?.data.coalescedWith, undefined);
  assert.equal(hostResets(), 2, 'after the window the VM is reset again');
  const [s2] = await power('status');
  assert.equal(powerState(s2), 'On');
});
