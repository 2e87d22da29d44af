import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AgentReportReply, Deployment, ImageRecord, InstallManifest, Node } from '@swarmboot/contracts';
import { ImageCatalog } from '@swarmboot/kit';
import { startScheduler } from './harness.js';

const image = (name: string, bootable: boolean): ImageRecord => ({
  name,
  file: `${name}.tar.zst`,
  format: 'rootfs-tar',
  bootable,
  size: 1 << 20,
  sha256: 'a'.repeat(64),
  infoHash: (bootable ? 'c' : 'd').repeat(40),
  pieceLength: 16384,
  torrentUrl: `http://10.0.0.5:8001/v1/images/${name}/torrent`,
  webSeedUrl: `http://10.0.0.5:8001/v1/images/${name}/file/${name}.tar.zst`,
  addedAt: new Date().toISOString(),
});

test('real nodes: bootable images only, the install environment over HTTP, attempts, retries and local boot', async (t) => {
  const bootenv = await mkdtemp(join(tmpdir(), 'sb-bootenv-'));
  t.after(() => rm(bootenv, { recursive: true, force: true }));
  const { base, redis, json } = await startScheduler(t, {
    SWARMBOOT_PUBLIC_URL: 'http://10.0.0.5:8080',
    SWARMBOOT_SYSLOG_TARGET: '10.0.0.5:514',
    SWARMBOOT_BOOTENV_DIR: bootenv,
    SWARMBOOT_INSTALL_ATTEMPTS: '2',
  });
  const catalog = new ImageCatalog(redis);
  await catalog.put(image('minbase', false));
  await catalog.put(image('debian-12', true));

  const boot = async (mac: string): Promise<string> => {
    const res = await fetch(`${base}/v1/boot/${mac}`);
    assert.equal(res.status, 200);
    return res.text();
  };
  const node = async (id: string) => (await json<Node>('GET', `/v1/nodes/${id}`)).body;
  const report = (id: string, body: object) => json<AgentReportReply>('POST', `/v1/nodes/${id}/report`, body);

  const imported = await json('POST', '/v1/nodes/import', {
    nodes: [
      { id: 'r1', mac: '52:54:00:00:10:01', rootDisk: 'serial:QM00001' },
      { id: 'r2', mac: '52:54:00:00:10:02' },
    ],
  });
  assert.equal(imported.status, 200);
  assert.equal((await node('r1')).rootDisk, 'serial:QM00001');

  let deploymentId = '';
  await t.test('a deployment to real nodes needs a bootable image and the install environment', async () => {
    const notBootable = await json<{ code: string }>('POST', '/v1/deployments', { image: 'minbase', nodes: ['r1'] });
    assert.deepEqual([notBootable.status, notBootable.body.code], [422, 'IMAGE_NOT_BOOTABLE']);
    const noEnv = await json<{ code: string }>('POST', '/v1/deployments', { image: 'debian-12', nodes: ['r1'] });
    assert.deepEqual([noEnv.status, noEnv.body.code], [409, 'BOOTENV_MISSING']);
    assert.equal((await node('r1')).state, 'registered', 'a refused deployment changes nothing');
    // the emulated demo may still take a non-bootable image
    const badTarget = await json<{ code: string }>('POST', '/v1/deployments', { image: 'minbase', nodes: ['r1'], target: 'vm' });
    assert.deepEqual([badTarget.status, badTarget.body.code], [400, 'VALIDATION']);

    await writeFile(join(bootenv, 'vmlinuz'), randomBytes(4096));
    await writeFile(join(bootenv, 'initrd.img'), randomBytes(70_000));
    const res = await json<Deployment>('POST', '/v1/deployments', { image: 'debian-12', nodes: ['r1', 'r2'] });
    assert.equal(res.status, 201);
    assert.equal(res.body.target, 'node');
    deploymentId = res.body.id;
  });

  await t.test('the install environment is served over HTTP, and nothing else is', async () => {
    const kernel = await fetch(`${base}/v1/bootenv/vmlinuz`);
    assert.equal(kernel.status, 200);
    assert.equal(kernel.headers.get('content-length'), '4096');
    assert.equal((await kernel.arrayBuffer()).byteLength, 4096);
    const initrd = await fetch(`${base}/v1/bootenv/initrd.img`, { method: 'HEAD' });
    assert.equal(initrd.headers.get('content-length'), '70000');
    const other = await fetch(`${base}/v1/bootenv/..%2Fetc%2Fpasswd`);
    assert.ok(other.status === 400 || other.status === 404, `status ${other.status}`);
  });

  await t.test('a node in a deployment boots the environment with its identity on the command line', async () => {
    const script = await boot('52-54-00-00-10-01');
    const kernel = script.split('\n').find((l) => l.startsWith('kernel ')) ?? '';
    assert.match(kernel, /^kernel http:\/\/10\.0\.0\.5:8080\/v1\/bootenv\/vmlinuz initrd=initrd\.img /);
    for (const arg of ['BOOTIF=01-52-54-00-00-10-01', 'swarmboot.api=http://10.0.0.5:8080', 'swarmboot.node=r1', `swarmboot.deployment=${deploymentId}`, 'swarmboot.syslog=10.0.0.5:514', 'netconsole=@/,6666@10.0.0.5/']) {
      assert.ok(kernel.split(' ').includes(arg), `${arg} in ${kernel}`);
    }
    assert.match(script, /\ninitrd http:\/\/10\.0\.0\.5:8080\/v1\/bootenv\/initrd\.img\nboot\n$/);
    assert.match(script, /attempt 1 of 2/);
    const n = await node('r1');
    assert.deepEqual([n.state, n.attempts], ['booting', 1]);
    const m = await json<InstallManifest>('GET', '/v1/nodes/r1/install');
    assert.equal(m.body.target, 'node');
    assert.equal(m.body.rootDisk, 'serial:QM00001');
    assert.equal(m.body.afterInstall, 'reboot');
  });

  await t.test('a failed attempt with attempts left goes back to admitted; the last one fails the node', async () => {
    assert.equal((await report('r1', { deploymentId, stage: 'booted' })).body.state, 'installing');
    const first = await report('r1', { deploymentId, stage: 'failed', reason: 'DISK_TOO_SMALL: /dev/vda has 1073741824 bytes' });
    assert.deepEqual(first.body, { state: 'admitted', release: false, retry: true });
    assert.match((await node('r1')).reason ?? '', /^DISK_TOO_SMALL/);

    assert.match(await boot('52:54:00:00:10:01'), /attempt 2 of 2/);
    assert.equal((await report('r1', { deploymentId, stage: 'booted' })).body.state, 'installing');
    const second = await report('r1', { deploymentId, stage: 'failed', reason: 'DISK_TOO_SMALL: again' });
    assert.equal(second.body.state, 'failed');
    assert.notEqual(second.body.retry, true);
    // /init reports the agent's exit after it (agent/bootenv/init): the node keeps the agent's reason
    const after = await report('r1', { deploymentId, stage: 'failed', reason: 'AGENT_EXITED: exit 1' });
    assert.equal(after.body.state, 'failed');
    assert.equal((await node('r1')).reason, 'DISK_TOO_SMALL: again');

    const local = await boot('52:54:00:00:10:01');
    assert.match(local, /echo .*r1: failed in deployment .*DISK_TOO_SMALL: again/);
    assert.match(local, /sanboot --no-describe --drive 0x80 \|\|\nexit 1\n$/);
  });

  await t.test('an installed node boots its local disk; the deployment completes', async () => {
    await boot('52:54:00:00:10:02');
    for (const stage of ['booted', 'verifying', 'installed']) assert.equal((await report('r2', { deploymentId, stage })).status, 200);
    assert.match(await boot('52:54:00:00:10:02'), /installed by deployment .*\niseq \$\{platform\} pcbios && sanboot/);
    const dep = (await json<Deployment>('GET', `/v1/deployments/${deploymentId}`)).body;
    assert.equal(dep.state, 'completed');
    assert.deepEqual([dep.counts.installed, dep.counts.failed], [1, 1]);
  });

  await t.test('a node that keeps rebooting without a report is failed once its attempts are used up', async () => {
    const dep = await json<Deployment>('POST', '/v1/deployments', { image: 'debian-12', nodes: ['r2'] });
    assert.equal(dep.status, 201);
    assert.equal((await node('r2')).attempts, undefined, 'attempts start over in a new deployment');
    assert.match(await boot('52:54:00:00:10:02'), /attempt 1 of 2/);
    assert.match(await boot('52:54:00:00:10:02'), /attempt 2 of 2/);
    const third = await boot('52:54:00:00:10:02');
    assert.match(third, /ATTEMPTS_EXHAUSTED/);
    assert.doesNotMatch(third, /^kernel /m);
    const n = await node('r2');
    assert.equal(n.state, 'failed');
    assert.match(n.reason ?? '', /^ATTEMPTS_EXHAUSTED: 2 install attempts/);
  });
});
