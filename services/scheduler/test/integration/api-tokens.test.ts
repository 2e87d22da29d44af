import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Events, type CloudEvent, type DeploymentCreated } from '@swarmboot/contracts';
import { ImageCatalog } from '@swarmboot/kit';
import { TEST_IMAGE as IMAGE, startScheduler } from './harness.js';

const READ = 'read-token-0123456789abcdef';
const DEPLOY = 'deploy-token-0123456789abcdef';
/** given to the file as its sha256 only */
const ADMIN = 'admin-token-0123456789abcdef';

interface Reply {
  status: number;
  body: { code?: string; id?: string };
  wwwAuthenticate: string | undefined;
}

test('bearer tokens on the scheduler API: 401, 403 and 2xx by scope; the node routes stay open; no token in the log', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sb-tokens-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'tokens');
  await writeFile(file, `# operators\n${READ} read dashboards\n${DEPLOY} deploy,read tickets\nsha256:${createHash('sha256').update(ADMIN).digest('hex')} admin\n`);
  const logged: Buffer[] = [];
  const logTo = new PassThrough();
  logTo.on('data', (b: Buffer) => logged.push(b));
  const { app, redis, bus } = await startScheduler(t, { SWARMBOOT_TOKENS_FILE: file }, { logTo, logLevel: 'trace' });
  await new ImageCatalog(redis).put(IMAGE);

  const call = async (method: 'GET' | 'POST', url: string, token?: string, payload?: object): Promise<Reply> => {
    const res = await app.inject({ method, url, ...(payload === undefined ? {} : { payload }), headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    const h = res.headers['www-authenticate'];
    return { status: res.statusCode, body: String(res.headers['content-type'] ?? '').startsWith('application/json') ? res.json() : {}, wwwAuthenticate: typeof h === 'string' ? h : undefined };
  };

  await t.test('no token, or an unknown one: 401 UNAUTHENTICATED with WWW-Authenticate: Bearer (RFC 6750 §3)', async () => {
    const none = await call('GET', '/v1/nodes');
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'UNAUTHENTICATED');
    assert.match(none.wwwAuthenticate ?? '', /^Bearer realm="swarmboot", scope="read"$/);
    const unknown = await call('GET', '/v1/nodes', 'not-a-known-token-at-all');
    assert.deepEqual([unknown.status, unknown.body.code], [401, 'UNAUTHENTICATED']);
    assert.match(unknown.wwwAuthenticate ?? '', /error="invalid_token"/);
    const basic = await app.inject({ method: 'GET', url: '/v1/nodes', headers: { authorization: `Basic ${Buffer.from(`x:${DEPLOY}`).toString('base64')}` } });
    assert.equal(basic.statusCode, 401, 'another scheme is no bearer token');
  });

  await t.test('a read token reads, and gets 403 INSUFFICIENT_SCOPE where deploy is needed', async () => {
    assert.equal((await call('GET', '/v1/nodes', READ)).status, 200);
    assert.equal((await call('GET', '/v1/deployments', READ)).status, 200);
    const denied = await call('POST', '/v1/deployments', READ, { image: IMAGE.name, nodes: ['n1'], target: 'emulated' });
    assert.deepEqual([denied.status, denied.body.code], [403, 'INSUFFICIENT_SCOPE']);
    assert.match(denied.wwwAuthenticate ?? '', /error="insufficient_scope", scope="deploy"/);
    const importDenied = await call('POST', '/v1/nodes/import', READ, { nodes: [{ id: 'x1', mac: '52:54:00:cc:00:99' }] });
    assert.equal(importDenied.status, 403);
  });

  await t.test('a deploy token imports and deploys; the deployment is announced with the token name', async () => {
    const created: CloudEvent<DeploymentCreated>[] = [];
    const unsub = bus.subscribe(Events.deploymentCreated, (_d, e) => created.push(e));
    t.after(() => unsub());
    await bus.nc.flush();
    const imported = await call('POST', '/v1/nodes/import', DEPLOY, { nodes: [1, 2, 3].map((i) => ({ id: `n${i}`, mac: `52:54:00:cc:00:0${i}`, labels: { rack: 'r1' } })) });
    assert.equal(imported.status, 200);
    const dep = await call('POST', '/v1/deployments', DEPLOY, { image: IMAGE.name, selector: 'rack=r1', target: 'emulated' });
    assert.equal(dep.status, 201);
    for (let i = 0; i < 50 && created.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(created.length, 1);
    assert.deepEqual(created[0]?.data, { deploymentId: dep.body.id, image: IMAGE.name, target: 'emulated', nodes: 3, selector: 'rack=r1', requestedBy: 'tickets' });
    assert.equal(created[0]?.type, 'swarmboot.deployment.created');
    assert.equal((await call('POST', `/v1/deployments/${dep.body.id ?? ''}/release`, READ, {})).status, 403);
    assert.equal((await call('POST', `/v1/deployments/${dep.body.id ?? ''}/release`, ADMIN, {})).status, 200, 'admin (given as its sha256) grants deploy');
  });

  await t.test('the routes a node calls in PXE and during install need no token', async () => {
    const script = await app.inject({ method: 'GET', url: '/v1/boot/52:54:00:cc:00:01' });
    assert.equal(script.statusCode, 200);
    assert.match(script.body, /^#!ipxe/);
    const node = await call('GET', '/v1/nodes/n1');
    assert.equal(node.status, 200, 'the agent polls its node for the release');
    // what the scheduler answers depends on the node's state; never that a token is missing
    const manifest = await call('GET', '/v1/nodes/n1/install');
    assert.ok(![401, 403].includes(manifest.status), `manifest: ${manifest.status} ${manifest.body.code ?? ''}`);
    const report = await call('POST', '/v1/nodes/n1/report', undefined, { deploymentId: 'dep-other', stage: 'booted' });
    assert.ok(![401, 403].includes(report.status), `report: ${report.status} ${report.body.code ?? ''}`);
    assert.equal(report.body.code, 'WRONG_DEPLOYMENT', 'the report reached the handler');
    assert.equal((await call('GET', '/v1/nodes/n1/timeline')).status, 401, 'the timeline is an operator read');
  });

  await t.test('no token value reaches the log, even where a request header is logged', async () => {
    app.log.info({ headers: { authorization: `Bearer ${DEPLOY}` } }, 'a request logged with its headers');
    const text = Buffer.concat(logged).toString('utf8');
    assert.match(text, /deployment created/, 'the capture holds the run’s lines');
    const line = text.split('\n').find((l) => l.includes('a request logged with its headers'));
    assert.match(line ?? '', /"authorization":"\[Redacted\]"/);
    for (const token of [READ, DEPLOY, ADMIN]) assert.equal(text.includes(token), false, `${token.split('-')[0] ?? ''} token in the log`);
  });
});
