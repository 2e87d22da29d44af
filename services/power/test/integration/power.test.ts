import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Events, type PowerAction, type PowerCompleted, type PowerFailed, type PowerRequested } from '@swarmboot/contracts';
import { connectNats, createLogger, EventBus } from '@swarmboot/kit';
import { freePort, spawnMain, startNats, waitFor, type MainProcess, type Started } from '@swarmboot/testkit';
import { ipmitool, simulatorBin, startBadBmc, startIpmiSim, startSushy, type BadBmc, type Sim } from '@swarmboot/testkit';

// The power service as `swarmboot power` runs it, against real BMC simulators over real NATS:
// sushy-emulator (Redfish, fake driver), pyghmi's RMCP+ BMC (IPMI, driven by the real ipmitool), a
// TCP listener that never answers and one that answers garbage.

const entry = fileURLToPath(new URL('../../src/index.js', import.meta.url));
const log = createLogger('power-test', 'silent');
const RedfishPassword = 'r3dfish-S3cret!';
const IpmiPassword = 'ipmi-S3cret!';
const system = { uuid: '6d1c5a63-0000-4000-8000-00000000000a', name: 'node-a', powerState: 'Off' as const, mac: '52:54:00:aa:00:01' };

let nats: Started;
let sushy: Sim;
let ipmi: Sim;
let hang: BadBmc;
let garbage: BadBmc;
let dir: string;
let proc: MainProcess;
let bus: EventBus;
let opsPort: number;

before(async () => {
  const bin = simulatorBin();
  [nats, sushy, ipmi, hang, garbage] = await Promise.all([startNats(), startSushy(bin, [system], 'admin', RedfishPassword), startIpmiSim(bin, 'operator', IpmiPassword), startBadBmc('hang'), startBadBmc('garbage')]);
  dir = await mkdtemp(join(tmpdir(), 'sb-power-'));
  const redfish = (port: number, credentials = 'redfish') => ({ driver: 'redfish', address: `http://127.0.0.1:${port}`, credentials });
  await writeFile(
    join(dir, 'bmcs.yaml'),
    [
      `node-a: { driver: redfish, address: "http://127.0.0.1:${sushy.port}", systemId: "${system.uuid}", credentials: redfish }`,
      `"52:54:00:AA:00:02": { driver: redfish, address: "http://127.0.0.1:${sushy.port}", credentials: redfish }`,
      `node-ipmi: { driver: ipmi, address: 127.0.0.1, port: ${ipmi.port}, credentials: ipmi }`,
      `node-ipmi-wrong: { driver: ipmi, address: 127.0.0.1, port: ${ipmi.port}, credentials: ipmi-wrong }`,
      `node-hang: ${JSON.stringify(redfish(hang.port))}`,
      `node-garbage: ${JSON.stringify(redfish(garbage.port))}`,
      `node-wrong: ${JSON.stringify(redfish(sushy.port, 'redfish-wrong'))}`,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'credentials.json'),
    JSON.stringify({
      redfish: { username: 'admin', password: RedfishPassword },
      'redfish-wrong': { username: 'admin', password: 'not-the-password' },
      ipmi: { username: 'operator', password: IpmiPassword },
      'ipmi-wrong': { username: 'operator', password: 'not-the-password' },
    }),
  );
  opsPort = await freePort();
  proc = spawnMain(
    entry,
    {
      SWARMBOOT_NATS_URL: nats.url,
      SWARMBOOT_POWER_BMCS: join(dir, 'bmcs.yaml'),
      SWARMBOOT_POWER_CREDENTIALS_FILE: join(dir, 'credentials.json'),
      SWARMBOOT_POWER_TIMEOUT_MS: '1000',
      SWARMBOOT_POWER_RETRIES: '2',
      SWARMBOOT_POWER_RETRY_BASE_MS: '100',
      SWARMBOOT_POWER_RATE_PER_SECOND: '50',
      SWARMBOOT_OPS_LISTEN: `127.0.0.1:${opsPort}`,
      SWARMBOOT_LOG_LEVEL: 'debug',
    },
    { stdout: true },
  );
  await proc.healthz(opsPort);
  bus = new EventBus(await connectNats(nats.url, 'power-test', log), 'swarmboot/power-test', log);
});

after(async () => {
  proc?.kill();
  await bus?.nc.drain();
  await Promise.all([nats?.stop(), sushy?.stop(), ipmi?.stop(), hang?.stop(), garbage?.stop()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

type Result = { kind: 'completed'; data: PowerCompleted } | { kind: 'failed'; data: PowerFailed };

/** Publishes a power request the way the scheduler and the CLI do and waits for its result event. */
async function power(nodeId: string, action: PowerAction, extra: Partial<PowerRequested> = {}, timeoutMs = 20_000): Promise<Result> {
  const requestId = randomUUID();
  let result: Result | undefined;
  const stops = [
    bus.subscribe(Events.powerCompleted, (data) => void (data.requestId === requestId && (result = { kind: 'completed', data })), nodeId),
    bus.subscribe(Events.powerFailed, (data) => void (data.requestId === requestId && (result = { kind: 'failed', data })), nodeId),
  ];
  try {
    await bus.nc.flush();
    await bus.publish(Events.powerRequested, { requestId, nodeId, action, ...extra });
    return await waitFor(`power ${action} ${nodeId}`, () => result, timeoutMs);
  } finally {
    for (const stop of stops) stop();
  }
}

/** The emulator's own view of the system (GET the ComputerSystem, as an operator's curl would). */
async function redfishSystem(): Promise<{ PowerState: string; Boot: { BootSourceOverrideTarget: string } }> {
  const res = await fetch(`http://127.0.0.1:${sushy.port}/redfish/v1/Systems/${system.uuid}`, { headers: { authorization: `Basic ${Buffer.from(`admin:${RedfishPassword}`).toString('base64')}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as never;
}

test('Redfish pxe-boot on sushy-emulator: a one-time PXE override, then the system powers on', { timeout: 40_000 }, async () => {
  const before = await redfishSystem();
  const r = await power('node-a', 'pxe-boot');
  assert.equal(r.kind, 'completed', JSON.stringify(r.data));
  assert.equal(r.data.attempts, 1);
  // (the emulator keeps the target but always reports BootSourceOverrideEnabled Continuous: its
  // PATCH handler ignores the field, sushy_tools/emulator/main.py, "we are ignoring the
  // BootSourceOverrideEnabled element" — so `Once` cannot be read back here)
  assert.equal(before.Boot.BootSourceOverrideTarget, 'Hdd');
  assert.equal((await redfishSystem()).Boot.BootSourceOverrideTarget, 'Pxe');
  // the fake driver applies a reset 1–11 s later, as hardware does
  await waitFor('PowerState On', async () => (await redfishSystem()).PowerState === 'On', 15_000, 250);
  if (r.kind === 'completed') assert.equal(r.data.powerState, before.PowerState, 'the result reports the state the reset started from');

  // `status` changes nothing and reports what the emulator says
  const s = await power('node-a', 'status');
  assert.equal(s.kind, 'completed');
  if (s.kind === 'completed') assert.equal(s.data.powerState, (await redfishSystem()).PowerState);
});

test('Redfish: a request without its node in the inventory finds the BMC by MAC; the single system is discovered', { timeout: 20_000 }, async () => {
  const r = await power('node-by-mac', 'status', { mac: '52:54:00:aa:00:02' });
  assert.equal(r.kind, 'completed', JSON.stringify(r.data));
  if (r.kind === 'completed') assert.equal(r.data.powerState, (await redfishSystem()).PowerState);
});

test('IPMI pxe-boot on the RMCP+ simulator: boot device PXE for the next boot, chassis on; cycle and off', { timeout: 40_000 }, async () => {
  assert.match(await ipmitool(ipmi.port, 'operator', IpmiPassword, 'power', 'status'), /Chassis Power is off/);
  const r = await power('node-ipmi', 'pxe-boot');
  assert.equal(r.kind, 'completed', JSON.stringify(r.data));
  assert.match(await ipmitool(ipmi.port, 'operator', IpmiPassword, 'power', 'status'), /Chassis Power is on/);
  const boot = await ipmitool(ipmi.port, 'operator', IpmiPassword, 'chassis', 'bootparam', 'get', '5');
  assert.match(boot, /Force PXE/);
  assert.match(boot, /Options apply to only next boot/);

  const c = await power('node-ipmi', 'cycle');
  assert.equal(c.kind, 'completed');
  if (c.kind === 'completed') assert.equal(c.data.powerState, 'On', 'cycle started from on');
  const o = await power('node-ipmi', 'off');
  assert.equal(o.kind, 'completed');
  assert.match(await ipmitool(ipmi.port, 'operator', IpmiPassword, 'power', 'status'), /Chassis Power is off/);
});

test('a BMC that never answers is retried, then BMC_TIMEOUT', { timeout: 30_000 }, async () => {
  const r = await power('node-hang', 'pxe-boot');
  assert.equal(r.kind, 'failed');
  if (r.kind !== 'failed') return;
  assert.equal(r.data.code, 'BMC_TIMEOUT', r.data.message);
  assert.ok(r.data.attempts > 1, 'retried');
  assert.equal(hang.requests(), r.data.attempts, 'one request per attempt');
});

test('a BMC that answers garbage is retried, then BMC_RESPONSE_INVALID', { timeout: 30_000 }, async () => {
  const r = await power('node-garbage', 'on');
  assert.equal(r.kind, 'failed');
  if (r.kind !== 'failed') return;
  assert.equal(r.data.code, 'BMC_RESPONSE_INVALID', r.data.message);
  assert.ok(r.data.attempts > 1, 'retried');
  assert.equal(garbage.requests(), r.data.attempts);
});

test('refused credentials fail at once without retries: Redfish 401 and IPMI RAKP', { timeout: 30_000 }, async () => {
  const unauthorizedBefore = (sushy.output().match(/" 401 -/g) ?? []).length;
  const rf = await power('node-wrong', 'pxe-boot');
  assert.equal(rf.kind, 'failed');
  if (rf.kind === 'failed') {
    assert.equal(rf.data.code, 'BMC_AUTH_FAILED', rf.data.message);
    assert.equal(rf.data.attempts, 1);
    assert.match(rf.data.message, /401/);
  }
  await waitFor('the 401 in the emulator log', () => (sushy.output().match(/" 401 -/g) ?? []).length > unauthorizedBefore, 5000);
  assert.equal((sushy.output().match(/" 401 -/g) ?? []).length, unauthorizedBefore + 1, 'the emulator saw exactly one refused request');

  const ip = await power('node-ipmi-wrong', 'status');
  assert.equal(ip.kind, 'failed');
  if (ip.kind === 'failed') {
    assert.equal(ip.data.code, 'BMC_AUTH_FAILED', ip.data.message);
    assert.equal(ip.data.attempts, 1);
  }
});

test('a node without a BMC fails with BMC_UNKNOWN and no attempt', async () => {
  const r = await power('node-nowhere', 'on');
  assert.equal(r.kind, 'failed');
  if (r.kind === 'failed') assert.deepEqual([r.data.code, r.data.attempts], ['BMC_UNKNOWN', 0]);
});

test('metrics count operations by driver, action and outcome; no password is ever logged', async () => {
  const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  assert.match(metrics, /swarmboot_power_operations_total\{driver="redfish",action="pxe-boot",outcome="completed"\} 1/);
  assert.match(metrics, /swarmboot_power_operations_total\{driver="ipmi",action="pxe-boot",outcome="completed"\} 1/);
  assert.match(metrics, /swarmboot_power_operations_total\{driver="redfish",action="pxe-boot",outcome="BMC_TIMEOUT"\} 1/);
  assert.match(metrics, /swarmboot_power_retries_total\{driver="redfish",code="BMC_RESPONSE_INVALID"\} [1-9]/);
  assert.match(metrics, /swarmboot_power_operation_duration_seconds_count\{driver="ipmi",action="pxe-boot"\} 1/);

  const output = proc.stdout() + proc.stderr();
  assert.match(output, /BMC_AUTH_FAILED/, 'the log holds the failures (so the search below searched something)');
  for (const secret of [RedfishPassword, IpmiPassword, 'not-the-password', Buffer.from(`admin:${RedfishPassword}`).toString('base64')]) {
    assert.ok(!output.includes(secret), `the log leaks ${secret}`);
  }
});

test('a request published while no replica runs is carried out by the next one (durable consumer)', { timeout: 40_000 }, async () => {
  proc.child.kill('SIGTERM');
  assert.equal(await proc.exited, 0, proc.stderr());
  const pending = power('node-ipmi', 'status', {}, 30_000);
  await new Promise((r) => setTimeout(r, 300));
  proc = spawnMain(entry, {
    SWARMBOOT_NATS_URL: nats.url,
    SWARMBOOT_POWER_BMCS: join(dir, 'bmcs.yaml'),
    SWARMBOOT_POWER_CREDENTIALS_FILE: join(dir, 'credentials.json'),
    SWARMBOOT_OPS_LISTEN: `127.0.0.1:${opsPort}`,
    SWARMBOOT_LOG_LEVEL: 'warn',
  });
  const r = await pending;
  assert.equal(r.kind, 'completed', JSON.stringify(r.data));
  if (r.kind === 'completed') assert.equal(r.data.powerState, 'Off');
});
