import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { Events, RedisKeys, type Deployment, type LogLine, type NodeTimeline } from '@swarmboot/contracts';
import { ImageCatalog, Registry, createLogger, parseConfig } from '@swarmboot/kit';
import { TEST_IMAGE as IMAGE, startBackends, waitFor } from '@swarmboot/testkit';
import { SchedulerConfig, buildSchedulerApp } from '@swarmboot/scheduler';
import { ExitCode } from '../../src/exit-codes.js';

const CLI = fileURLToPath(new URL('../../src/main.js', import.meta.url));

/** The built CLI as a child process (stdout a pipe, so no TTY): its output so far, and its exit. */
function cli(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => stdout, err: () => stderr, exit };
}

async function startApi(t: TestContext) {
  const log = createLogger('cli-observe-test', 'warn');
  const backends = await startBackends('cli-observe-test', log);
  const app = buildSchedulerApp({ log, bus: backends.bus, redis: backends.redis, config: parseConfig(SchedulerConfig, {}), registry: new Registry() });
  t.after(async () => {
    await app.close();
    await backends.stop();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  await new ImageCatalog(backends.redis).put(IMAGE);
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const post = async <T>(path: string, body: object): Promise<T> => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  return { ...backends, base, post };
}

/**
 * The observing commands of the built CLI against a real scheduler (real NATS and Redis), as a
 * script runs them: stdout a pipe, exit codes checked.
 */
test('swarmboot timeline, status --watch and logs --follow against a real scheduler', { timeout: 120_000 }, async (t) => {
  const { base, post, bus, redis } = await startApi(t);
  const macs = ['52:54:00:dd:00:01', '52:54:00:dd:00:02', '52:54:00:dd:00:03'];
  for (const [i, mac] of macs.entries()) await post('/v1/nodes', { id: `o${i + 1}`, mac });

  /** boots node `id` of `deploymentId` and reports its install up to `last` */
  const install = async (deploymentId: string, i: number, last: 'installed' | 'failed') => {
    assert.equal((await fetch(`${base}/v1/boot/${macs[i]}`)).status, 200);
    const report = (body: object) => post(`/v1/nodes/o${i + 1}/report`, { deploymentId, ...body });
    await report({ stage: 'booted' });
    await report({ stage: 'downloading', bytes: 1 << 19, total: 1 << 20 });
    if (last === 'failed') return report({ stage: 'failed', reason: 'DISK_TOO_SMALL: 1 GB < 2 GB' });
    await report({ stage: 'verifying' });
    return report({ stage: 'installed' });
  };

  await t.test('status --watch without a TTY: a line per change, exit 0 when every node installed', async (t) => {
    const dep = await post<Deployment>('/v1/deployments', { image: IMAGE.name, nodes: ['o1', 'o2'], target: 'emulated' });
    const watch = cli(['status', dep.id, '--watch', '--api', base]);
    await waitFor('the first line', () => watch.out().includes(dep.id));
    await install(dep.id, 0, 'installed');
    await new Promise((r) => setTimeout(r, 1500));
    await install(dep.id, 1, 'installed');
    assert.equal(await watch.exit, ExitCode.ok, watch.err());
    t.diagnostic(watch.out());
    const lines = watch.out().trim().split('\n');
    assert.ok(lines.length >= 3, `a line per change: ${watch.out()}`);
    assert.match(watch.out(), /installed=1/, 'the half-way state was shown');
    assert.match(lines.at(-1)!, /completed: installed=2$/);
  });

  await t.test('status --watch exits 2 when a node failed, and names it', async () => {
    const dep = await post<Deployment>('/v1/deployments', { image: IMAGE.name, nodes: ['o3'], target: 'emulated' });
    const watch = cli(['status', dep.id, '--watch', '--api', base]);
    await waitFor('the first line', () => watch.out().includes(dep.id));
    await install(dep.id, 2, 'failed');
    assert.equal(await watch.exit, ExitCode.nodesFailed, watch.err());
    assert.match(watch.out(), /o3 failed: DISK_TOO_SMALL: 1 GB < 2 GB/);
  });

  await t.test('timeline prints the merged table, and JSON; an unknown node exits 4', async (t) => {
    await bus.publish(Events.leaseGranted, { chaddr: macs[0]!, yiaddr: '10.9.0.11', giaddr: '10.9.0.1', xid: 1, leaseSeconds: 600 });
    await waitFor('the lease recorded', async () => ((await (await fetch(`${base}/v1/nodes/o1/timeline?sources=dhcp`)).json()) as NodeTimeline).entries.length === 1);
    const table = cli(['timeline', 'o1', '--api', base]);
    assert.equal(await table.exit, ExitCode.ok, table.err());
    t.diagnostic(table.out());
    const rows = table.out().trim().split('\n');
    assert.match(rows[0]!, /^TIME\s+SOURCE\s+WHAT$/);
    assert.ok(rows.some((r) => /\sdhcp\s+lease 10\.9\.0\.11 to 52:54:00:dd:00:01 for 600 s via relay 10\.9\.0\.1/.test(r)), table.out());
    assert.ok(rows.some((r) => /\sstate\s+verifying -> installed/.test(r)), table.out());
    const json = cli(['timeline', 'o1', '--json', '--sources', 'state', '--api', base]);
    assert.equal(await json.exit, ExitCode.ok, json.err());
    const tl = JSON.parse(json.out()) as NodeTimeline;
    assert.ok(tl.entries.length > 0 && tl.entries.every((e) => e.source === 'state'));
    const ghost = cli(['timeline', 'ghost', '--api', base]);
    assert.equal(await ghost.exit, ExitCode.notFound);
    assert.match(ghost.err(), /NODE_NOT_FOUND/);
    const bad = cli(['timeline', 'o1', '--sources', 'dhcp,bogus', '--api', base]);
    assert.equal(await bad.exit, ExitCode.error);
  });

  await t.test('logs --follow prints a line written after it started, until SIGINT (exit 0)', async () => {
    const line = (message: string): LogLine => ({ nodeId: 'o1', received: new Date().toISOString(), source: '10.9.0.11:514', format: 'rfc5424', facility: 1, severity: 6, app: 'swarmboot-agent', message });
    await redis.xadd(RedisKeys.nodeLog('o1'), '*', 'json', JSON.stringify(line('before')));
    const follow = cli(['logs', 'o1', '--follow', '--api', base]);
    await waitFor('the earlier line', () => follow.out().includes('swarmboot-agent: before'));
    await redis.xadd(RedisKeys.nodeLog('o1'), '*', 'json', JSON.stringify(line('after \u001b[31mred')));
    await waitFor('the new line', () => follow.out().includes('swarmboot-agent: after'));
    assert.match(follow.out(), /after \\x1b\[31mred/, 'control characters escaped');
    follow.child.kill('SIGINT');
    assert.equal(await follow.exit, ExitCode.ok, follow.err());
    assert.equal(follow.out().trim().split('\n').length, 2);
  });

  await t.test('deploy with a failure budget of 0: status --watch exits 6 when it pauses; resume and cancel', async () => {
    const deploy = cli(['deploy', '--image', IMAGE.name, '--nodes', 'o1,o2,o3', '--target', 'emulated', '--canary', '1', '--max-in-flight', '1', '--failure-budget', '0', '--api', base]);
    assert.equal(await deploy.exit, ExitCode.ok, deploy.err());
    const id = deploy.out().trim();
    const dep = (await (await fetch(`${base}/v1/deployments/${id}`)).json()) as Deployment;
    assert.equal(dep.admission?.window, 1, 'the canary of one');
    const admitted = dep.nodes.filter((n) => n.state === 'admitted');
    assert.equal(admitted.length, 1);
    const i = Number(admitted[0]!.id.slice(1)) - 1;
    const watch = cli(['status', id, '--watch', '--api', base]);
    await waitFor('the first line', () => watch.out().includes(id));
    await install(id, i, 'failed');
    assert.equal(await watch.exit, ExitCode.paused, watch.err());
    const resume = cli(['resume', id, '--api', base]);
    assert.equal(await resume.exit, ExitCode.ok, resume.err());
    assert.match(resume.out(), new RegExp(`^${id} running`));
    const cancel = cli(['cancel', id, '--api', base]);
    assert.equal(await cancel.exit, ExitCode.ok, cancel.err());
    assert.match(cancel.out(), new RegExp(`^${id} cancelled`));
    const after = (await (await fetch(`${base}/v1/deployments/${id}`)).json()) as Deployment;
    assert.equal(after.state, 'cancelled');
    assert.ok(after.nodes.every((n) => n.state !== 'queued' && n.state !== 'admitted'), JSON.stringify(after.nodes.map((n) => [n.id, n.state])));
    const again = cli(['resume', id, '--api', base]);
    assert.equal(await again.exit, ExitCode.error, 'a cancelled deployment cannot be resumed');
    assert.match(again.err(), /DEPLOYMENT_FINISHED/);
  });
});
