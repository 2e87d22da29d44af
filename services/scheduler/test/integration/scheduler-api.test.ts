import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Events, RedisKeys, type AgentReportReply, type Deployment, type ImageRecord, type InstallManifest, type JobCompleted, type LogLine, type Node, type NodeStateChanged, type NodeProgress } from '@swarmboot/contracts';
import { ImageCatalog } from '@swarmboot/kit';
import { waitFor } from '@swarmboot/testkit';
import { TEST_IMAGE as IMAGE, startScheduler } from './harness.js';

test('scheduler API against real NATS and Redis: inventory, deployment, boot, events, reports, release, timeline, logs', async (t) => {
  const { app, base, bus, redis, startReplica, json } = await startScheduler(t, {
    SWARMBOOT_PUBLIC_URL: 'http://127.0.0.1:18080',
    SWARMBOOT_TFTP_URL: 'tftp://127.0.0.1:16969',
  });
  // a second replica on the same Redis and NATS (it shares the durable consumer)
  const replica = await startReplica();

  const stateChanges: NodeStateChanged[] = [];
  const jobs: JobCompleted[] = [];
  const progress: NodeProgress[] = [];
  const unsub = [
    bus.subscribe(Events.nodeStateChanged, (d) => stateChanges.push(d)),
    bus.subscribe(Events.jobCompleted, (d) => jobs.push(d)),
    bus.subscribe(Events.nodeProgress, (d) => progress.push(d)),
  ];
  t.after(() => unsub.forEach((u) => u()));
  await bus.nc.flush();

  const report = (id: string, body: object, via = app) => json<AgentReportReply & { code?: string }>('POST', `/v1/nodes/${id}/report`, body, via);
  const node = async (id: string) => (await json<Node>('GET', `/v1/nodes/${id}`)).body;

  await t.test('register a node: MAC normalised, hostname defaults to the id, idempotent, conflicts have codes', async () => {
    const created = await json<Node>('POST', '/v1/nodes', { id: 'n1', mac: '52-54-00-AA-00-01', labels: { rack: 'r0' } });
    assert.equal(created.status, 201);
    assert.equal(created.body.mac, '52:54:00:aa:00:01');
    assert.equal(created.body.hostname, 'n1');
    assert.equal(created.body.state, 'registered');
    assert.equal(await redis.get(RedisKeys.nodeByMac('52:54:00:aa:00:01')), 'n1');
    assert.equal(await redis.get(RedisKeys.nodeByHostname('n1')), 'n1');
    const again = await json<Node>('POST', '/v1/nodes', { id: 'n1', mac: '52:54:00:aa:00:01', labels: { rack: 'r0' } });
    assert.equal(again.status, 200);
    const otherMac = await json<{ code: string }>('POST', '/v1/nodes', { id: 'n1', mac: '52:54:00:aa:00:99' });
    assert.deepEqual([otherMac.status, otherMac.body.code], [409, 'NODE_EXISTS']);
    const macTaken = await json<{ code: string }>('POST', '/v1/nodes', { id: 'n1b', mac: '52:54:00:AA:00:01' });
    assert.deepEqual([macTaken.status, macTaken.body.code], [409, 'MAC_IN_USE']);
    const badMac = await json<{ code: string; message: string }>('POST', '/v1/nodes', { id: 'n9', mac: '52:54:00:aa:00' });
    assert.deepEqual([badMac.status, badMac.body.code], [400, 'VALIDATION']);
    assert.match(badMac.body.message, /mac/);
    const extra = await json<{ code: string }>('POST', '/v1/nodes', { id: 'n9', mac: '52:54:00:aa:00:09', colour: 'red' });
    assert.deepEqual([extra.status, extra.body.code], [400, 'VALIDATION']);
    assert.equal((await json<{ code: string }>('GET', '/v1/nodes/n9')).body.code, 'NODE_NOT_FOUND');
  });

  await t.test('import CSV and JSON, all or nothing', async () => {
    const csv = 'id,mac,hostname,labels\nn2,52:54:00:aa:00:02,,rack=r1;role=worker\nn3,52:54:00:AA:00:03,node-3,rack=r1\n';
    const res = await app.inject({ method: 'POST', url: '/v1/nodes/import', headers: { 'content-type': 'text/csv; charset=utf-8' }, payload: csv });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { imported: 2, updated: 0 });
    assert.deepEqual((await node('n3')).labels, { rack: 'r1' });
    assert.equal((await node('n3')).mac, '52:54:00:aa:00:03');
    assert.equal(await redis.get(RedisKeys.nodeByHostname('node-3')), 'n3');

    const bad = 'id,mac,hostname\nn7,52:54:00:aa:00:07,\nn8,not-a-mac,\n';
    const badRes = await app.inject({ method: 'POST', url: '/v1/nodes/import', headers: { 'content-type': 'text/csv' }, payload: bad });
    assert.equal(badRes.statusCode, 400);
    assert.equal(badRes.json<{ code: string }>().code, 'IMPORT_INVALID');
    assert.match(badRes.json<{ message: string }>().message, /^line 3: /);
    assert.equal((await app.inject({ url: '/v1/nodes/n7' })).statusCode, 404, 'nothing imported from a bad file');

    const conflict = 'id,mac,hostname\nn7,52:54:00:aa:00:07,\nn8,52:54:00:aa:00:02,\n';
    const conflictRes = await app.inject({ method: 'POST', url: '/v1/nodes/import', headers: { 'content-type': 'text/csv' }, payload: conflict });
    assert.deepEqual([conflictRes.statusCode, conflictRes.json<{ code: string }>().code], [409, 'MAC_IN_USE']);
    assert.match(conflictRes.json<{ message: string }>().message, /line 3/);
    assert.equal((await app.inject({ url: '/v1/nodes/n7' })).statusCode, 404, 'nothing imported from a conflicting file');

    const jsonImport = await json<{ imported: number; updated: number }>('POST', '/v1/nodes/import', {
      nodes: [
        { id: 'n4', mac: '52:54:00:aa:00:04', labels: { rack: 'r2' } },
        { id: 'n3', mac: '52:54:00:aa:00:03', hostname: 'node-3b', labels: { rack: 'r1', disk: 'nvme' } },
      ],
    });
    assert.deepEqual(jsonImport, { status: 200, body: { imported: 1, updated: 1 } });
    assert.equal((await node('n3')).hostname, 'node-3b');
    assert.equal(await redis.get(RedisKeys.nodeByHostname('node-3')), null, 'old hostname index dropped');
    const badJson = await json<{ code: string; message: string }>('POST', '/v1/nodes/import', { nodes: [{ id: 'n5', mac: '52:54:00:aa:00:05' }, { id: 'n6', mac: 'xx' }] });
    assert.equal(badJson.status, 400);
    assert.equal(badJson.body.code, 'IMPORT_INVALID');
    assert.match(badJson.body.message, /nodes\[1\]/);
    const list = await json<{ nodes: Node[] }>('GET', '/v1/nodes');
    assert.deepEqual(
      list.body.nodes.map((n) => n.id),
      ['n1', 'n2', 'n3', 'n4'],
    );
  });

  await t.test('images come from the catalog', async () => {
    await new ImageCatalog(redis).put(IMAGE);
    const res = await json<{ images: ImageRecord[] }>('GET', '/v1/images');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.images, [IMAGE]);
  });

  let deploymentId = '';
  await t.test('create a deployment by selector: nodes queued then admitted', async () => {
    const noImage = await json<{ code: string }>('POST', '/v1/deployments', { image: 'nope', selector: '*' });
    assert.deepEqual([noImage.status, noImage.body.code], [404, 'IMAGE_NOT_FOUND']);
    const none = await json<{ code: string }>('POST', '/v1/deployments', { image: IMAGE.name, selector: 'rack=none', target: 'emulated' });
    assert.deepEqual([none.status, none.body.code], [400, 'NO_NODES']);
    const unknown = await json<{ code: string }>('POST', '/v1/deployments', { image: IMAGE.name, nodes: ['n2', 'ghost'], target: 'emulated' });
    assert.deepEqual([unknown.status, unknown.body.code], [404, 'NODE_NOT_FOUND']);

    const res = await json<Deployment>('POST', '/v1/deployments', { image: IMAGE.name, selector: 'rack=r1', target: 'emulated' });
    assert.equal(res.status, 201);
    deploymentId = res.body.id;
    assert.equal(res.body.state, 'running');
    assert.deepEqual(res.body.nodes.map((n) => [n.id, n.state, n.deploymentId]), [
      ['n2', 'admitted', deploymentId],
      ['n3', 'admitted', deploymentId],
    ]);
    assert.equal(res.body.counts.admitted, 2);
    await waitFor('queued and admitted events', () => stateChanges.filter((e) => e.deploymentId === deploymentId).length === 4);
    assert.deepEqual(
      stateChanges.filter((e) => e.nodeId === 'n2').map((e) => `${e.from}>${e.to}`),
      ['registered>queued', 'queued>admitted'],
    );
    const busy = await json<{ code: string }>('POST', '/v1/deployments', { image: IMAGE.name, nodes: ['n4', 'n3'], target: 'emulated' });
    assert.deepEqual([busy.status, busy.body.code], [409, 'NODE_BUSY']);
    assert.equal((await node('n4')).state, 'registered', 'a refused deployment changes nothing');
    const list = await json<{ deployments: Omit<Deployment, 'nodes'>[] }>('GET', '/v1/deployments');
    assert.deepEqual(list.body.deployments.map((d) => d.id), [deploymentId]);
  });

  await t.test('boot scripts over real HTTP', async () => {
    const idle = await fetch(`${base}/v1/boot/52:54:00:aa:00:01`);
    assert.equal(idle.status, 200);
    const idleText = await idle.text();
    assert.match(idleText, /^#!ipxe\necho .*no deployment.*\niseq \$\{platform\} pcbios && sanboot --no-describe --drive 0x80 \|\|\nexit 1\n$/);
    assert.equal((await node('n1')).state, 'registered');

    const unknown = await fetch(`${base}/v1/boot/52:54:00:ff:ff:ff`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(await unknown.text(), /^NODE_NOT_FOUND: /);
    const notMac = await fetch(`${base}/v1/boot/hello`);
    assert.equal(notMac.status, 400);
    assert.match(await notMac.text(), /^VALIDATION: /);

    // n3 fetches its script before the scheduler saw its lease: admitted → booting
    const res = await fetch(`${base}/v1/boot/52-54-00-AA-00-03`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(
      await res.text(),
      '#!ipxe\n' +
        `kernel tftp://127.0.0.1:16969/debian/linux console=ttyS0,115200 priority=critical swarmboot.api=http://127.0.0.1:18080 swarmboot.node=n3 swarmboot.deployment=${deploymentId} initrd=initrd.gz\n` +
        'initrd tftp://127.0.0.1:16969/debian/initrd.gz\n' +
        'boot\n',
    );
    assert.equal((await node('n3')).state, 'booting');
  });

  await t.test('lease and TFTP events move nodes; a late lease does not move a node back', async () => {
    await bus.publish(Events.leaseGranted, { chaddr: '52:54:00:aa:00:02', yiaddr: '127.77.0.12', giaddr: '127.77.0.1', xid: 0x1234, leaseSeconds: 600 });
    const n2 = await waitFor('n2 in dhcp', async () => {
      const n = await node('n2');
      return n.state === 'dhcp' ? n : undefined;
    });
    assert.equal(n2.ip, '127.77.0.12');
    await bus.publish(Events.tftpTransferCompleted, { transferId: 't1', clientAddress: '127.77.0.12', clientPort: 2070, file: 'undionly.kpxe', bytes: 70000, durationMs: 12, blksize: 1432, windowsize: 1, retransmissions: 0 });
    await waitFor('n2 booting', async () => (await node('n2')).state === 'booting');

    await bus.publish(Events.leaseGranted, { chaddr: '52:54:00:aa:00:03', yiaddr: '127.77.0.13', giaddr: '127.77.0.1', xid: 0x1235, leaseSeconds: 600 });
    await waitFor('n3 address stored', async () => (await node('n3')).ip === '127.77.0.13');
    // the ip is written before the (refused) transition; give the handler time to finish it
    await waitFor('lease events handled', () => stateChanges.filter((e) => e.to === 'booting').length === 2);
    assert.equal((await node('n3')).state, 'booting');
    assert.equal(stateChanges.filter((e) => e.nodeId === 'n3' && e.to === 'dhcp').length, 0);
  });

  await t.test('install manifest for admitted nodes only', async () => {
    const m = await json<InstallManifest>('GET', '/v1/nodes/n2/install');
    assert.equal(m.status, 200);
    assert.deepEqual(m.body, { nodeId: 'n2', deploymentId, image: IMAGE, syslog: '127.0.0.1:5514', target: 'emulated', afterInstall: 'reboot', lingerMs: 900_000 });
    const idle = await json<{ code: string }>('GET', '/v1/nodes/n1/install');
    assert.deepEqual([idle.status, idle.body.code], [409, 'NOT_ADMITTED']);
    const ghost = await json<{ code: string }>('GET', '/v1/nodes/ghost/install');
    assert.deepEqual([ghost.status, ghost.body.code], [404, 'NODE_NOT_FOUND']);
  });

  await t.test('agent reports drive the node to installed; the deployment completes once', async () => {
    const wrong = await report('n2', { deploymentId: 'dep-other', stage: 'booted' });
    assert.deepEqual([wrong.status, wrong.body.code], [409, 'WRONG_DEPLOYMENT']);

    assert.deepEqual((await report('n2', { deploymentId, stage: 'booted' })).body, { state: 'installing', release: false });
    assert.deepEqual((await report('n2', { deploymentId, stage: 'booted' })).body, { state: 'installing', release: false }, 'a retried report is harmless');
    assert.deepEqual((await report('n2', { deploymentId, stage: 'downloading', bytes: 4096, total: 1 << 20 })).body, { state: 'installing', release: false });
    assert.deepEqual((await node('n2')).progress, { bytes: 4096, total: 1 << 20 });
    await waitFor('progress on core NATS', () => progress.some((p) => p.nodeId === 'n2' && p.bytes === 4096));
    assert.deepEqual((await report('n2', { deploymentId, stage: 'verifying' })).body, { state: 'verifying', release: false });

    // n3 skips verifying: refused
    assert.equal((await report('n3', { deploymentId, stage: 'booted' })).body.state, 'installing');
    const skip = await report('n3', { deploymentId, stage: 'installed' });
    assert.deepEqual([skip.status, skip.body.code], [409, 'INVALID_TRANSITION']);
    const failed = await report('n3', { deploymentId, stage: 'failed', reason: 'disk /dev/sda not found' });
    assert.deepEqual(failed.body, { state: 'failed', release: false });
    assert.equal((await node('n3')).reason, 'disk /dev/sda not found');
    assert.equal(jobs.length, 0);

    const stats = { bytesFromSeeder: 1000, bytesFromPeers: 1047576, bytesFromWebSeed: 0, bytesUploaded: 2000000, downloadMs: 1234 };
    assert.deepEqual((await report('n2', { deploymentId, stage: 'installed', stats })).body, { state: 'installed', release: false });
    assert.deepEqual((await node('n2')).stats, stats);

    const job = await waitFor('jobCompleted on NATS', () => jobs.find((j) => j.deploymentId === deploymentId));
    assert.equal(job.image, IMAGE.name);
    assert.equal(job.installed, 1);
    assert.equal(job.failed, 1);
    assert.ok(job.durationMs >= 0);
    const dep = await json<Deployment>('GET', `/v1/deployments/${deploymentId}`);
    assert.equal(dep.body.state, 'completed');
    assert.ok(dep.body.completedAt);
    assert.equal(dep.body.counts.installed, 1);
    assert.equal(dep.body.counts.failed, 1);
    // the agent keeps reporting while it seeds: no second completion, no release yet
    assert.deepEqual((await report('n2', { deploymentId, stage: 'installed', stats })).body, { state: 'installed', release: false });
    assert.deepEqual((await report('n2', { deploymentId, stage: 'downloading', bytes: 1, total: 2 })).body, { state: 'installed', release: false });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(jobs.filter((j) => j.deploymentId === deploymentId).length, 1);
  });

  await t.test('release: installed nodes released, the next report says so; the boot script goes to local disk', async () => {
    const res = await json<Deployment>('POST', `/v1/deployments/${deploymentId}/release`);
    assert.equal(res.status, 200);
    assert.equal(res.body.state, 'released');
    assert.deepEqual(res.body.nodes.map((n) => [n.id, n.state]), [
      ['n2', 'released'],
      ['n3', 'failed'],
    ]);
    assert.deepEqual((await report('n2', { deploymentId, stage: 'installed' })).body, { state: 'released', release: true });
    const script = await (await fetch(`${base}/v1/boot/52:54:00:aa:00:02`)).text();
    assert.match(script, /^#!ipxe\necho .*installed by deployment.*\niseq .*sanboot --no-describe --drive 0x80 \|\|\nexit 1\n$/);
    const missing = await json<{ code: string }>('POST', '/v1/deployments/dep-nope/release');
    assert.deepEqual([missing.status, missing.body.code], [404, 'DEPLOYMENT_NOT_FOUND']);
  });

  await t.test('the timeline lists every transition, and each was published', async () => {
    const res = await json<{ nodeId: string; entries: { from?: string; to: string; deploymentId?: string; at: string }[] }>('GET', '/v1/nodes/n2/timeline?sources=state');
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.entries.map((e) => `${e.from ?? ''}>${e.to}`),
      ['>registered', 'registered>queued', 'queued>admitted', 'admitted>dhcp', 'dhcp>booting', 'booting>installing', 'installing>verifying', 'verifying>installed', 'installed>released'],
    );
    assert.ok(res.body.entries.slice(1).every((e) => e.deploymentId === deploymentId && !Number.isNaN(Date.parse(e.at))));
    await waitFor('every n2 transition on NATS', () => stateChanges.filter((e) => e.nodeId === 'n2').length === 8);
    assert.deepEqual(
      stateChanges.filter((e) => e.nodeId === 'n2').map((e) => `${e.from}>${e.to}`),
      res.body.entries.slice(1).map((e) => `${e.from ?? ''}>${e.to}`),
    );
    const n3 = await json<{ entries: { to: string; reason?: string }[] }>('GET', '/v1/nodes/n3/timeline?sources=state');
    assert.deepEqual(n3.body.entries.at(-1), { ...n3.body.entries.at(-1), to: 'failed', reason: 'disk /dev/sda not found' });
  });

  await t.test('logs read back from the node stream', async () => {
    const line = (i: number): LogLine => ({ nodeId: 'n2', received: new Date().toISOString(), source: '127.77.0.12:514', format: 'rfc5424', facility: 1, severity: 6, app: 'swarmboot-agent', message: `line ${i}` });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await redis.xadd(RedisKeys.nodeLog('n2'), '*', 'json', JSON.stringify(line(i))))!);
    const all = await json<{ lines: { id: string; line: LogLine }[] }>('GET', '/v1/nodes/n2/logs');
    assert.deepEqual(all.body.lines.map((l) => [l.id, l.line.message]), ids.map((id, i) => [id, `line ${i}`]));
    const after = await json<{ lines: { id: string; line: LogLine }[] }>('GET', `/v1/nodes/n2/logs?after=${ids[0]}&limit=1`);
    assert.deepEqual(after.body.lines.map((l) => l.id), [ids[1]]);
    const empty = await json<{ lines: unknown[] }>('GET', '/v1/nodes/n1/logs');
    assert.deepEqual(empty.body, { lines: [] });
    const badAfter = await json<{ code: string }>('GET', '/v1/nodes/n2/logs?after=yesterday');
    assert.deepEqual([badAfter.status, badAfter.body.code], [400, 'VALIDATION']);
    const ghost = await json<{ code: string }>('GET', '/v1/nodes/ghost/logs');
    assert.deepEqual([ghost.status, ghost.body.code], [404, 'NODE_NOT_FOUND']);
  });

  await t.test('two replicas racing on the same report apply it once', async () => {
    const dep = await json<Deployment>('POST', '/v1/deployments', { image: IMAGE.name, nodes: ['n4'], target: 'emulated' });
    assert.equal(dep.status, 201);
    const id = dep.body.id;
    assert.equal(await fetch(`${base}/v1/boot/52:54:00:aa:00:04`).then((r) => r.status), 200);
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => report('n4', { deploymentId: id, stage: 'booted' }, i % 2 === 0 ? app : replica)));
    assert.ok(replies.every((r) => r.status === 200 && r.body.state === 'installing'));
    const tl = await json<{ entries: { to: string }[] }>('GET', '/v1/nodes/n4/timeline?sources=state', undefined, replica);
    assert.equal(tl.body.entries.filter((e) => e.to === 'installing').length, 1);
    await Promise.all([report('n4', { deploymentId: id, stage: 'verifying' }, app), report('n4', { deploymentId: id, stage: 'verifying' }, replica)]);
    await Promise.all([report('n4', { deploymentId: id, stage: 'installed' }, app), report('n4', { deploymentId: id, stage: 'installed' }, replica)]);
    await waitFor('second deployment completed', () => jobs.some((j) => j.deploymentId === id));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(jobs.filter((j) => j.deploymentId === id).length, 1);
  });

  await t.test('a node that finishes after its deployment was released is released at once', async () => {
    const dep = await json<Deployment>('POST', '/v1/deployments', { image: IMAGE.name, nodes: ['n1'], target: 'emulated' });
    const id = dep.body.id;
    assert.equal((await json<Deployment>('POST', `/v1/deployments/${id}/release`)).body.state, 'released');
    assert.equal((await node('n1')).state, 'admitted', 'release leaves unfinished nodes alone');
    assert.match(await (await fetch(`${base}/v1/boot/52:54:00:aa:00:01`)).text(), /^kernel .* swarmboot\.node=n1 /m);
    for (const stage of ['booted', 'verifying'] as const) assert.equal((await report('n1', { deploymentId: id, stage })).status, 200);
    assert.deepEqual((await report('n1', { deploymentId: id, stage: 'installed' })).body, { state: 'released', release: true });
    const view = await json<Deployment>('GET', `/v1/deployments/${id}`);
    assert.equal(view.body.state, 'released');
    assert.equal(view.body.counts.released, 1);
    await waitFor('jobCompleted for a released deployment', () => jobs.some((j) => j.deploymentId === id && j.installed === 1));
  });

  await t.test('API errors carry codes; the OpenAPI document lists the routes', async () => {
    const route = await json<{ code: string }>('GET', '/v1/nope');
    assert.deepEqual([route.status, route.body.code], [404, 'NOT_FOUND']);
    const badId = await json<{ code: string }>('GET', '/v1/nodes/a.b');
    assert.deepEqual([badId.status, badId.body.code], [400, 'VALIDATION']);
    const badJson = await app.inject({ method: 'POST', url: '/v1/nodes', headers: { 'content-type': 'application/json' }, payload: '{"id":' });
    assert.deepEqual([badJson.statusCode, badJson.json<{ code: string }>().code], [400, 'VALIDATION']);
    const badType = await app.inject({ method: 'POST', url: '/v1/nodes', headers: { 'content-type': 'text/csv' }, payload: 'id,mac' });
    assert.equal(badType.json<{ code: string }>().code, 'VALIDATION');
    const xml = await app.inject({ method: 'POST', url: '/v1/nodes/import', headers: { 'content-type': 'application/xml' }, payload: '<nodes/>' });
    assert.deepEqual([xml.statusCode, xml.json<{ code: string }>().code], [415, 'UNSUPPORTED_MEDIA_TYPE']);
    const both = await json<{ code: string }>('POST', '/v1/deployments', { image: IMAGE.name, nodes: ['n1'], selector: '*', target: 'emulated' });
    assert.deepEqual([both.status, both.body.code], [400, 'VALIDATION']);

    const doc = await json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>('GET', '/v1/openapi.json');
    assert.equal(doc.status, 200);
    assert.match(doc.body.openapi, /^3\./);
    for (const p of ['/v1/nodes', '/v1/nodes/import', '/v1/nodes/{id}', '/v1/nodes/{id}/install', '/v1/nodes/{id}/report', '/v1/nodes/{id}/logs', '/v1/nodes/{id}/timeline', '/v1/images', '/v1/deployments', '/v1/deployments/{id}', '/v1/deployments/{id}/release', '/v1/boot/{mac}']) {
      assert.ok(doc.body.paths[p], `OpenAPI has ${p}`);
    }
    assert.ok(doc.body.paths['/v1/nodes/import']?.post);
  });
});
