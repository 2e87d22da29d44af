import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Events, RedisKeys, type Deployment, type DeploymentPaused, type DeploymentWaveAdmitted, type Node, type NodeStateChanged, type PowerRequested } from '@swarmboot/contracts';
import { ImageCatalog } from '@swarmboot/kit';
import { waitFor } from '@swarmboot/testkit';
import { TEST_IMAGE as IMAGE, startScheduler, type StartedScheduler } from './harness.js';

const mac = (i: number) => `52:54:00:ad:00:${i.toString(16).padStart(2, '0')}`;

/** A scheduler with short ticks, `n` registered nodes a1…an and the test image; events gathered from the bus. */
async function setup(t: Parameters<typeof startScheduler>[0], n: number, env: Record<string, string> = {}) {
  const s = await startScheduler(t, { SWARMBOOT_SCHEDULER_TICK_MS: '50', SWARMBOOT_BOOTENV_URL: 'http://127.0.0.1:9/bootenv', ...env });
  await new ImageCatalog(s.redis).put(IMAGE);
  const ids = Array.from({ length: n }, (_, i) => `a${i + 1}`);
  const imported = await s.json('POST', '/v1/nodes/import', { nodes: ids.map((id, i) => ({ id, mac: mac(i + 1) })) });
  assert.equal(imported.status, 200);
  const events = { waves: [] as DeploymentWaveAdmitted[], paused: [] as DeploymentPaused[], resumed: [] as string[], power: [] as PowerRequested[], states: [] as NodeStateChanged[] };
  const unsub = [
    s.bus.subscribe(Events.deploymentWaveAdmitted, (d) => events.waves.push(d)),
    s.bus.subscribe(Events.deploymentPaused, (d) => events.paused.push(d)),
    s.bus.subscribe(Events.deploymentResumed, (d) => events.resumed.push(d.deploymentId)),
    s.bus.subscribe(Events.powerRequested, (d) => events.power.push(d)),
    s.bus.subscribe(Events.nodeStateChanged, (d) => events.states.push(d)),
  ];
  t.after(() => unsub.forEach((u) => u()));
  await s.bus.nc.flush();
  return { ...s, ids, events, ...helpers(s) };
}

function helpers(s: StartedScheduler) {
  const node = async (id: string) => (await s.json<Node>('GET', `/v1/nodes/${id}`)).body;
  const deployment = async (id: string) => (await s.json<Deployment>('GET', `/v1/deployments/${id}`)).body;
  const deploy = async (body: object) => {
    const r = await s.json<Deployment>('POST', '/v1/deployments', { image: IMAGE.name, ...body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  };
  /** an emulated node fetches its boot script (→ booting) and its agent reports booted (→ installing): it left the boot phase */
  const boot = async (id: string, deploymentId: string) => {
    const n = await node(id);
    assert.equal((await s.app.inject({ url: `/v1/boot/${n.mac}` })).statusCode, 200);
    const r = await s.json<{ state: string }>('POST', `/v1/nodes/${id}/report`, { deploymentId, stage: 'booted' });
    assert.equal(r.body.state, 'installing');
  };
  const install = async (id: string, deploymentId: string) => {
    await boot(id, deploymentId);
    for (const stage of ['verifying', 'installed'] as const) assert.equal((await s.json('POST', `/v1/nodes/${id}/report`, { deploymentId, stage })).status, 200);
  };
  const states = async (ids: readonly string[]) => Promise.all(ids.map(async (id) => (await node(id)).state));
  return { node, deployment, deploy, boot, install, states };
}

test('canary first, then waves grow as nodes leave the boot phase; two replicas never admit a node twice', async (t) => {
  const s = await setup(t, 20);
  await s.startReplica();
  const dep = await s.deploy({ nodes: s.ids, target: 'emulated', canary: 2, failureBudget: 5 });
  const canary = dep.nodes.filter((n) => n.state === 'admitted').map((n) => n.id);
  assert.equal(canary.length, 2);
  assert.equal(dep.counts.queued, 18);
  await waitFor('the canary wave event', () => s.events.waves.find((w) => w.wave === 0));

  // one canary node through the boot phase: the other still boots, so nothing more is admitted
  await s.boot(canary[0]!, dep.id);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await s.deployment(dep.id)).counts.queued, 18, 'later waves wait for the whole canary');

  await s.boot(canary[1]!, dep.id);
  // slow start: two completions grow the window from 2 to 4, and nothing is in the boot phase
  const wave1 = await waitFor('wave 1', () => s.events.waves.find((w) => w.wave === 1));
  assert.equal(wave1.nodes.length, 4);
  assert.equal(wave1.window, 4);
  assert.equal((await s.deployment(dep.id)).counts.admitted, 4);

  // finish the boot phase of every admitted node until all are through: each completion frees and grows
  const booted = new Set(canary);
  for (const deadline = Date.now() + 20_000; Date.now() < deadline && booted.size < 20; ) {
    const d = await s.deployment(dep.id);
    const admitted = d.nodes.filter((n) => n.state === 'admitted' && !booted.has(n.id));
    for (const n of admitted) {
      await s.boot(n.id, dep.id);
      booted.add(n.id);
    }
    if (admitted.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(booted.size, 20, 'every node was admitted');
  const sizes = s.events.waves.filter((w) => w.deploymentId === dep.id).sort((a, b) => a.wave - b.wave);
  assert.ok(sizes.length >= 3, `waves: ${sizes.map((w) => w.nodes.length).join(',')}`);
  const admittedIds = sizes.flatMap((w) => w.nodes);
  assert.equal(new Set(admittedIds).size, admittedIds.length, 'no node in two waves');
  // the timeline of every node holds one queued → admitted: no replica admitted it twice
  for (const id of s.ids) {
    const entries = await s.redis.xrange(RedisKeys.nodeTimeline(id), '-', '+');
    assert.equal(entries.filter(([, f]) => f.join(' ').includes('to admitted')).length, 1, id);
  }
});

test('over its failure budget a deployment pauses with the reason, admits nothing, and resumes when told', async (t) => {
  const s = await setup(t, 6);
  const dep = await s.deploy({ nodes: s.ids, target: 'emulated', canary: 2, failureBudget: 1 });
  const canary = dep.nodes.filter((n) => n.state === 'admitted').map((n) => n.id);
  for (const id of canary) assert.equal((await s.json('POST', `/v1/nodes/${id}/report`, { deploymentId: dep.id, stage: 'failed', reason: 'DISK_NOT_FOUND: none' })).status, 200);

  const paused = await waitFor('paused event', () => s.events.paused.find((p) => p.deploymentId === dep.id));
  assert.deepEqual([paused.failed, paused.budget], [2, 1]);
  const d = await s.deployment(dep.id);
  assert.equal(d.state, 'paused');
  assert.match(d.reason ?? '', /^FAILURE_BUDGET_EXCEEDED: /);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await s.deployment(dep.id)).counts.queued, 4, 'a paused deployment admits nothing');

  const resumed = await s.json<Deployment>('POST', `/v1/deployments/${dep.id}/resume`);
  assert.equal(resumed.status, 200);
  assert.equal(resumed.body.state, 'running');
  assert.equal(resumed.body.reason, undefined);
  await waitFor('resumed event', () => s.events.resumed.includes(dep.id));
  // the two failures halved the window to 1: one node at a time now
  const wave1 = await waitFor('a wave after the resume', () => s.events.waves.find((w) => w.deploymentId === dep.id && w.wave === 1));
  assert.equal(wave1.nodes.length, 1);
  // the same, as Prometheus reads it: the pause by its reason, the waves, the window and the queue
  const metrics = await s.registry.metrics();
  const sample = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
  assert.equal(sample('swarmboot_scheduler_deployment_pauses_total\\{reason="FAILURE_BUDGET_EXCEEDED"\\}'), 1, metrics);
  assert.equal(sample('swarmboot_scheduler_waves_admitted_total'), 2);
  assert.equal(sample(`swarmboot_scheduler_admission_window\\{deployment="${dep.id}"\\}`), wave1.window);
  assert.equal(sample(`swarmboot_scheduler_admission_queued\\{deployment="${dep.id}"\\}`), 3);
  assert.equal((await s.json<Deployment>('POST', `/v1/deployments/${dep.id}/resume`)).body.state, 'running', 'resuming a running deployment changes nothing');

  assert.equal((await s.json('POST', `/v1/deployments/${dep.id}/cancel`)).status, 200);
  const finished = await s.json<{ code: string }>('POST', `/v1/deployments/${dep.id}/resume`);
  assert.deepEqual([finished.status, finished.body.code], [409, 'DEPLOYMENT_FINISHED']);
  assert.equal((await s.json<{ code: string }>('POST', '/v1/deployments/dep-nope/resume')).body.code, 'DEPLOYMENT_NOT_FOUND');
});

test('a node stuck in dhcp goes back to admitted with a power request, then fails with BOOT_TIMEOUT when its retries are spent', async (t) => {
  const s = await setup(t, 1, { SWARMBOOT_SCHEDULER_STATE_TIMEOUTS: 'dhcp=0.3', SWARMBOOT_SCHEDULER_TIMEOUT_RETRIES: '1' });
  const dep = await s.deploy({ nodes: ['a1'], target: 'node' });
  await waitFor('power request at admission', () => s.events.power.find((p) => p.nodeId === 'a1'));
  const lease = () => s.bus.publish(Events.leaseGranted, { chaddr: mac(1), yiaddr: '10.9.0.11', giaddr: '0.0.0.0', xid: 7, leaseSeconds: 600 });

  await lease();
  await waitFor('dhcp', async () => (await s.node('a1')).state === 'dhcp');
  const retried = await waitFor('back to admitted', async () => {
    const n = await s.node('a1');
    return n.state === 'admitted' && n.reason !== undefined ? n : undefined;
  });
  assert.match(retried.reason ?? '', /^BOOT_TIMEOUT: dhcp for \d+ s/);
  const power = await waitFor('power request of the retry', () => s.events.power.find((p) => p.nodeId === 'a1' && p.reason?.startsWith('BOOT_TIMEOUT')));
  assert.deepEqual([power.action, power.mac], ['pxe-boot', mac(1)]);

  await lease();
  const failed = await waitFor('failed', async () => {
    const n = await s.node('a1');
    return n.state === 'failed' ? n : undefined;
  });
  assert.match(failed.reason ?? '', /^BOOT_TIMEOUT: /);
  const d = await waitFor('completed', async () => {
    const x = await s.deployment(dep.id);
    return x.state === 'completed' ? x : undefined;
  });
  assert.equal(d.counts.failed, 1);
  // the API reads the state once it is written; its event reaches the bus after, from the outbox
  await waitFor('the failed event', () => s.events.states.some((e) => e.nodeId === 'a1' && e.to === 'failed'));
  assert.deepEqual(
    s.events.states.filter((e) => e.nodeId === 'a1').map((e) => e.to),
    ['queued', 'admitted', 'dhcp', 'admitted', 'dhcp', 'failed'],
  );
});

test('cancel: queued nodes back to registered, admitted ones failed with CANCELLED, at once and idempotent; the nodes deploy again', async (t) => {
  const s = await setup(t, 5);
  const dep = await s.deploy({ nodes: s.ids, target: 'emulated', canary: 3 });
  const admitted = dep.nodes.filter((n) => n.state === 'admitted').map((n) => n.id);
  await s.install(admitted[0]!, dep.id);
  await s.boot(admitted[1]!, dep.id);

  const c = await s.json<Deployment>('POST', `/v1/deployments/${dep.id}/cancel`);
  assert.equal(c.status, 200);
  assert.equal(c.body.state, 'cancelled');
  assert.match(c.body.reason ?? '', /^CANCELLED: /);
  const byState = Object.fromEntries(c.body.nodes.map((n) => [n.id, n.state]));
  assert.equal(byState[admitted[0]!], 'installed', 'an installed node stays installed');
  assert.equal(byState[admitted[1]!], 'failed', 'an installing node is failed');
  assert.equal(byState[admitted[2]!], 'failed');
  const queued = s.ids.filter((id) => !admitted.includes(id));
  assert.deepEqual(await s.states(queued), ['registered', 'registered']);
  assert.equal((await s.node(queued[0]!)).deploymentId, undefined);
  assert.match((await s.node(admitted[1]!)).reason ?? '', /^CANCELLED: /);

  const again = await s.json<Deployment>('POST', `/v1/deployments/${dep.id}/cancel`);
  assert.deepEqual([again.status, again.body.state], [200, 'cancelled']);
  const late = await s.json<{ code: string }>('POST', `/v1/nodes/${admitted[1]!}/report`, { deploymentId: dep.id, stage: 'verifying' });
  assert.deepEqual([late.status, late.body.code], [409, 'INVALID_TRANSITION']);

  const next = await s.deploy({ nodes: s.ids, target: 'emulated', canary: 5 });
  assert.equal(next.counts.admitted, 5, 'every node of a cancelled deployment can be deployed again');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await s.deployment(dep.id)).state, 'cancelled');
});

test('re-image: installed and released nodes take a new deployment; release releases installed nodes and those that finish later', async (t) => {
  const s = await setup(t, 3);
  const first = await s.deploy({ nodes: s.ids, target: 'emulated', canary: 3 });
  await s.install('a1', first.id);
  await s.install('a2', first.id);
  await s.boot('a3', first.id);
  const released = await s.json<Deployment>('POST', `/v1/deployments/${first.id}/release`);
  assert.equal(released.body.state, 'released');
  assert.deepEqual(await s.states(s.ids), ['released', 'released', 'installing']);
  // a3 finishes after the release: released as it reports installed
  await s.json('POST', '/v1/nodes/a3/report', { deploymentId: first.id, stage: 'verifying' });
  const r = await s.json<{ state: string; release: boolean }>('POST', '/v1/nodes/a3/report', { deploymentId: first.id, stage: 'installed' });
  assert.deepEqual(r.body, { state: 'released', release: true });

  const second = await s.deploy({ nodes: ['a1', 'a2'], target: 'emulated', canary: 1 });
  assert.deepEqual(await s.states(['a1', 'a2']), ['admitted', 'queued']);
  await s.install('a1', second.id);
  await waitFor('a2 admitted after the canary', async () => (await s.node('a2')).state === 'admitted');
  await s.install('a2', second.id);
  const d = await waitFor('second deployment completed', async () => {
    const x = await s.deployment(second.id);
    return x.state === 'completed' ? x : undefined;
  });
  assert.equal(d.counts.installed, 2);
  // an installed (not released) node is re-imaged too
  const third = await s.deploy({ nodes: ['a1'], target: 'emulated' });
  assert.equal((await s.node('a1')).deploymentId, third.id);
  assert.equal((await s.node('a1')).state, 'admitted');
});

test('a failure the log sink classified fails an active node with its code; the first wins, warnings and installed nodes are left alone', async (t) => {
  const s = await setup(t, 3);
  const dep = await s.deploy({ nodes: s.ids, target: 'emulated', canary: 3 });
  await s.boot('a1', dep.id);
  await s.install('a3', dep.id);
  const classified = (nodeId: string, code: string, severity: 'critical' | 'error' | 'warning') =>
    s.bus.publish(Events.nodeFailureClassified, { nodeId, deploymentId: dep.id, attempt: 0, ruleId: code.toLowerCase(), code, severity, description: `${code} seen`, line: 'x', format: 'netconsole', received: new Date().toISOString() }, nodeId);

  await classified('a2', 'SWARM_STALLED', 'warning');
  await classified('a1', 'KERNEL_PANIC', 'critical');
  await classified('a1', 'DISK_IO_ERROR', 'error');
  await classified('a3', 'DISK_IO_ERROR', 'error');
  const a1 = await waitFor('a1 failed', async () => {
    const n = await s.node('a1');
    return n.state === 'failed' ? n : undefined;
  });
  // the events are consumed in order: by the time a later marker is handled, the earlier ones are
  await classified('a2', 'KERNEL_OOPS', 'critical');
  await waitFor('a2 failed', async () => (await s.node('a2')).state === 'failed');
  assert.equal(a1.reason, 'KERNEL_PANIC: KERNEL_PANIC seen');
  assert.equal((await s.node('a1')).reason, 'KERNEL_PANIC: KERNEL_PANIC seen', 'the first classification wins');
  assert.equal((await s.node('a2')).reason, 'KERNEL_OOPS: KERNEL_OOPS seen', 'the warning did not fail it');
  assert.equal((await s.node('a3')).state, 'installed');
});

test("a node whose BMC fails its pxe-boot is failed with the BMC's error; a node without a BMC, another action or a later state are left alone", async (t) => {
  const s = await setup(t, 3);
  const dep = await s.deploy({ nodes: s.ids, target: 'node', canary: 3 });
  for (const id of s.ids) await waitFor(`power request of ${id}`, () => s.events.power.find((p) => p.nodeId === id));
  // as the power service publishes them once its retries are spent
  const failed = (nodeId: string, o: { action?: 'pxe-boot' | 'status'; code?: string; attempts?: number } = {}) =>
    s.bus.publish(Events.powerFailed, { requestId: `r-${nodeId}-${o.action ?? 'pxe-boot'}`, nodeId, action: o.action ?? 'pxe-boot', driver: 'redfish', attempts: o.attempts ?? 4, durationMs: 41_000, code: o.code ?? 'BMC_TIMEOUT', message: 'no answer from https://10.0.9.1 within 10000 ms' }, nodeId);
  await failed('a2', { code: 'BMC_UNKNOWN', attempts: 0 });
  await failed('a3', { action: 'status' });
  await failed('a1');
  const a1 = await waitFor('a1 failed', async () => {
    const n = await s.node('a1');
    return n.state === 'failed' ? n : undefined;
  });
  assert.match(a1.reason ?? '', /^BMC_TIMEOUT: no answer from https:\/\/10\.0\.9\.1/);
  // the events are consumed in order: a1's came last, so a2's and a3's were handled before it
  assert.deepEqual(await s.states(['a2', 'a3']), ['admitted', 'admitted']);
  assert.equal((await s.deployment(dep.id)).counts.failed, 1);
});
