import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DemoNet, RedisKeys, isSwarmbootError, type ErrorCode, type ImageRecord, type SignedImageManifest } from '@swarmboot/contracts';
import { EventBus, SwarmbootClient, connectNats, connectRedis, createLogger, generateSigningKeyPair, parseSigningKey } from '@swarmboot/kit';
import { simulatorBin, startNats, startRedis, startSushy } from '@swarmboot/testkit';
import { runAgent, runNodeAgent } from '@swarmboot/agent';
import { assetPaths } from '../../src/assets.js';
import { freePorts } from '../../src/demo.js';
import { startStack } from '../../src/stack.js';
import { signRecord } from '../../src/image-sign.js';
import { sparseFile } from '../../src/vm-lab.js';
import { startNodeModeServices } from './node-mode-services.js';

const pexec = promisify(execFile);
const cli = fileURLToPath(new URL('../../src/main.js', import.meta.url));

/** keyId as the issue defines it, computed here from the .pub file: sha256 of the raw 32-byte key, 16 hex digits. */
async function keyIdOfPemFile(path: string): Promise<string> {
  const raw = Buffer.from(createPublicKey(await readFile(path, 'utf8')).export({ format: 'jwk' }).x ?? '', 'base64url');
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

/**
 * Signed images end to end (issue 15): the real stack (nats-server, redis-server, every service
 * as its own process), the CLI as a user runs it (keygen, image add --sign, deploy --trust, image
 * sign), and emulated agents going through DHCP, TFTP and the swarm. A signed image installs; a
 * manifest changed in the catalog after the deployment was created is refused by the agent with
 * IMAGE_SIGNATURE_INVALID, an image re-signed by a key the deployment does not trust with
 * IMAGE_KEY_UNTRUSTED — in both cases nothing lands on the node's disk; the scheduler refuses such
 * deployments at creation (422); with the old and the new key trusted (a rotation) it installs.
 * The run has secrets, as a site's would — the API needs a token, the power service knows a BMC's
 * password (sushy-emulator, driven once through `swarmboot power`) — and neither secret appears
 * in any service's log of the run (issue 15, "Secrets never appear in logs").
 */
test('signed images: installed when trusted; a tampered manifest or an untrusted key refused with its code, nothing written; no secret in any log', { timeout: 600_000 }, async (t) => {
  const log = createLogger('signed-images-test', 'warn');
  const work = await mkdtemp(join(tmpdir(), 'sb-signed-'));
  const closers: (() => Promise<unknown>)[] = [() => rm(work, { recursive: true, force: true })];
  t.after(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  });
  // a TFTP root with the real boot loaders but a small kernel and initrd: the agent only stores them
  const tftpRoot = join(work, 'tftp');
  await mkdir(join(tftpRoot, 'debian'), { recursive: true });
  for (const f of ['ipxe.efi', 'snponly.efi', 'undionly.kpxe']) await copyFile(join(assetPaths().tftpRoot, f), join(tftpRoot, f));
  await writeFile(join(tftpRoot, 'debian', 'linux'), Buffer.alloc(64 * 1024, 1));
  await writeFile(join(tftpRoot, 'debian', 'initrd.gz'), Buffer.alloc(64 * 1024, 2));

  // the run's secrets: an API token (admin scope) and a BMC account's password
  const token = randomBytes(24).toString('base64url');
  const bmcPassword = randomBytes(18).toString('base64url');
  await writeFile(join(work, 'tokens'), `${token} admin\n`);
  const bmcSystem = randomUUID();
  const sushy = await startSushy(simulatorBin(), [{ uuid: bmcSystem, name: 's1-bmc', powerState: 'Off', mac: '02:5b:00:5a:00:01' }], 'admin', bmcPassword);
  closers.push(() => sushy.stop());
  await writeFile(join(work, 'bmc-credentials.json'), JSON.stringify({ lab: { username: 'admin', password: bmcPassword } }));
  await writeFile(join(work, 'bmcs.json'), JSON.stringify({ s1: { driver: 'redfish', address: `http://127.0.0.1:${sushy.port}`, systemId: bmcSystem, credentials: 'lab' } }));

  const ports = await freePorts();
  // startStack stops what it started when a part does not come up
  const stack = await startStack({
    workDir: join(work, 'stack'),
    bind: '127.0.0.1',
    host: '127.0.0.1',
    ports,
    tftpRoot,
    env: { SWARMBOOT_SEEDER_UPLOAD_LIMIT: '0', SWARMBOOT_TOKENS_FILE: join(work, 'tokens') },
    serviceEnv: { power: { SWARMBOOT_POWER_CREDENTIALS_FILE: join(work, 'bmc-credentials.json'), SWARMBOOT_POWER_BMCS: join(work, 'bmcs.json') } },
    healthTimeoutMs: 180_000,
    say: () => undefined,
  });
  closers.push(() => stack.stop());
  const redis = await connectRedis(stack.env['SWARMBOOT_REDIS_URL'] ?? '', log);
  closers.push(() => redis.quit());
  const env = { ...process.env, SWARMBOOT_API_URL: stack.apiUrl, SWARMBOOT_SEEDER_URL: stack.seederUrl, SWARMBOOT_TOKEN: token, SWARMBOOT_NATS_URL: stack.env['SWARMBOOT_NATS_URL'] };
  const swarmboot = async (...args: string[]) => (await pexec(process.execPath, [cli, ...args], { env })).stdout;
  const api = new SwarmbootClient(stack.apiUrl, stack.seederUrl, { token });
  // the token is needed: without it the API refuses
  const anonymous = await new SwarmbootClient(stack.apiUrl, stack.seederUrl).deployments().then(
    () => 'answered',
    (e: unknown) => (isSwarmbootError(e) ? e.code : String(e)),
  );
  assert.equal(anonymous, 'UNAUTHENTICATED');
  // the BMC, through the power service, with the password: the fake system powers on
  const power = await pexec(process.execPath, [cli, 'power', 's1', 'on', '--timeout', '60'], { env });
  assert.match(power.stderr, /s1: on done via redfish \(power was Off/);
  const image = join(work, 'sample.tar');
  await copyFile(assetPaths().sampleImage, image);
  const sha256 = createHash('sha256').update(await readFile(image)).digest('hex');

  // keys: the CLI prints the keyId, which is the sha256 of the raw public key
  const keyA = (await swarmboot('keygen', join(work, 'a'))).trim();
  const keyB = (await swarmboot('keygen', join(work, 'b'))).trim();
  assert.equal(keyA, await keyIdOfPemFile(join(work, 'a.pub')));
  assert.equal(keyB, await keyIdOfPemFile(join(work, 'b.pub')));
  assert.notEqual(keyA, keyB);

  const added = JSON.parse(await swarmboot('image', 'add', image, '--name', 'sample', '--sign', join(work, 'a.key'))) as ImageRecord;
  assert.equal(added.signedManifest?.keyId, keyA);
  assert.equal(added.signedManifest?.sha256, sha256, 'the manifest names the file the signer holds');
  assert.equal(added.signedManifest?.infoHash, added.infoHash);
  const nodes = [1, 2, 3, 4].map((i) => ({ id: `s${i}`, mac: `02:5b:00:5a:00:0${i}` }));
  await api.importNodes(nodes);

  const runNode = async (i: number) => {
    const n = nodes[i - 1]!;
    return runAgent({ mac: n.mac, dhcpServer: { host: '127.0.0.1', port: ports.dhcp }, giaddr: DemoNet.relay, tftpPort: ports.tftp, workDir: join(work, 'nodes', n.id), log, releasePollMs: 100 });
  };
  // bounded by time, not by polls: on a loaded CI machine one install took over a minute
  const waitInstalled = async (id: string) => {
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const n = await api.node(id);
      if (n.state === 'installed' || n.state === 'failed') return n;
      await sleep(200);
    }
    return api.node(id);
  };
  /** the node failed with `code`, and nothing of the image reached its disk (no image/, no root/) */
  const refused = async (i: number, code: ErrorCode) => {
    const err = await runNode(i).then(
      () => assert.fail(`s${i} installed`),
      (e: unknown) => e,
    );
    assert.ok(isSwarmbootError(err, code), String(err));
    const n = await api.node(`s${i}`);
    assert.equal(n.state, 'failed');
    assert.match(n.reason ?? '', new RegExp(`^${code}: `));
    const disk = await readdir(join(work, 'nodes', `s${i}`));
    assert.deepEqual(disk, ['boot'], `only the boot files (kernel, initrd) on s${i}: ${disk.join(', ')}`);
  };

  // 1. trusted key A, image signed by A: installed, its root is the image
  const dep1 = (await swarmboot('deploy', '--image', 'sample', '--nodes', 's1', '--target', 'emulated', '--trust', join(work, 'a.pub'))).trim();
  assert.deepEqual((await api.deployment(dep1)).trustedKeyIds, [keyA]);
  const s1 = runNode(1);
  const n1 = await waitInstalled('s1');
  assert.equal(n1.state, 'installed', n1.reason);
  const cmp = await pexec('tar', ['--compare', '--numeric-owner', '-f', image, '-C', join(work, 'nodes', 's1', 'root')]);
  assert.equal(cmp.stdout + cmp.stderr, '');
  await api.release(dep1);
  await s1;

  // 2. and 3. deployments trusting A created while the image is signed by A; then the catalog changes under them
  const pubA = await readFile(join(work, 'a.pub'), 'utf8');
  const dep2 = await api.deploy({ image: 'sample', nodes: ['s2'], target: 'emulated', trustedKeys: [pubA] });
  const dep3 = await api.deploy({ image: 'sample', nodes: ['s3'], target: 'emulated', trustedKeys: [pubA] });
  assert.deepEqual([dep2.trustedKeyIds, dep3.trustedKeyIds], [[keyA], [keyA]]);

  // tampered: another image's sha256 written into the record and into the signed manifest
  const key = RedisKeys.image('sample');
  const [recordJson, manifestJson] = await redis.hmget(key, 'json', 'manifest');
  const forged = 'f'.repeat(64);
  await redis.hset(key, 'json', JSON.stringify({ ...(JSON.parse(recordJson ?? '') as ImageRecord), sha256: forged }));
  await redis.hset(key, 'manifest', JSON.stringify({ ...(JSON.parse(manifestJson ?? '') as SignedImageManifest), sha256: forged }));
  await refused(2, 'IMAGE_SIGNATURE_INVALID');

  // the record put back, the image re-signed by B (which dep3 does not trust)
  await redis.hset(key, 'json', recordJson ?? '');
  const reSigned = JSON.parse(await swarmboot('image', 'sign', 'sample', image, '--key', join(work, 'b.key'))) as SignedImageManifest;
  assert.equal(reSigned.keyId, keyB);
  await refused(3, 'IMAGE_KEY_UNTRUSTED');

  // 4. the scheduler refuses at creation what the agents would refuse
  const createCode = async (input: Parameters<SwarmbootClient['deploy']>[0]) =>
    api.deploy(input).then(
      () => 'created',
      (e: unknown) => (isSwarmbootError(e) ? `${e.code} ${String(e.context['status'])}` : String(e)),
    );
  assert.equal(await createCode({ image: 'sample', nodes: ['s4'], target: 'emulated', trustedKeys: [pubA] }), 'IMAGE_KEY_UNTRUSTED 422');
  // the same bytes under another file name: another infohash (the seeder seeds one torrent per infohash)
  await copyFile(image, join(work, 'unsigned.tar'));
  await api.addImage(join(work, 'unsigned.tar'), 'unsigned');
  assert.equal(await createCode({ image: 'unsigned', nodes: ['s4'], target: 'emulated', trustedKeys: [pubA] }), 'IMAGE_NOT_SIGNED 422');
  assert.equal(await createCode({ image: 'sample', nodes: ['s4'], target: 'emulated', trustedKeys: ['not a key'] }), 'SIGNING_KEY_INVALID 400');
  // a manifest that does not describe the catalog's version is refused by the seeder
  const other = (await api.images()).images.find((i) => i.name === 'sample')?.signedManifest;
  assert.ok(other);
  const stale = await api.signImage('unsigned', { ...other, name: 'unsigned', size: other.size + 1 }).then(
    () => 'stored',
    (e: unknown) => (isSwarmbootError(e) ? e.code : String(e)),
  );
  assert.equal(stale, 'IMAGE_MANIFEST_MISMATCH');

  // 5. rotation: old and new key trusted, the image signed by the new one: installed
  const dep4 = (await swarmboot('deploy', '--image', 'sample', '--nodes', 's4', '--target', 'emulated', '--trust', join(work, 'a.pub'), '--trust', join(work, 'b.pub'))).trim();
  assert.deepEqual((await api.deployment(dep4)).trustedKeyIds, [keyA, keyB]);
  const s4 = runNode(4);
  const n4 = await waitInstalled('s4');
  assert.equal(n4.state, 'installed', n4.reason);
  assert.ok(existsSync(join(work, 'nodes', 's4', 'root')));
  await api.release(dep4);
  await s4;

  // no service wrote either secret, nor the Basic credentials the BMC was sent, to its log
  const logsDir = join(work, 'stack', 'logs');
  const logs = await readdir(logsDir);
  assert.ok(['scheduler.log', 'seeder.log', 'power.log'].every((f) => logs.includes(f)), logs.join(', '));
  const basic = Buffer.from(`admin:${bmcPassword}`).toString('base64');
  for (const f of logs) {
    const text = await readFile(join(logsDir, f), 'utf8');
    for (const [what, secret] of [['the API token', token], ['the BMC password', bmcPassword], ['the BMC Basic credentials', basic]] as const) {
      assert.ok(!text.includes(secret), `${what} is in ${f}`);
    }
  }
});

/**
 * The agent's node mode (real machines) against the real tracker, seeder and scheduler: a manifest
 * changed after the deployment was created is refused before the disk is opened — the node's disk,
 * a loop device over a sparse file, has not one block allocated afterwards, and the download
 * directory was never made.
 */
test('node mode: a tampered manifest fails the node with IMAGE_SIGNATURE_INVALID and not one block reaches its disk', { timeout: 120_000 }, async (t) => {
  const log = createLogger('signed-node-test', 'warn');
  const work = await mkdtemp(join(tmpdir(), 'sb-signed-node-'));
  const closers: (() => Promise<unknown>)[] = [() => rm(work, { recursive: true, force: true })];
  let loop: string | undefined;
  t.after(async () => {
    if (loop) await pexec('losetup', ['-d', loop]).catch(() => undefined);
    for (const c of closers.reverse()) await c().catch(() => undefined);
  });
  const [natsSrv, redisSrv] = await Promise.all([startNats(), startRedis()]);
  closers.push(() => Promise.all([natsSrv.stop(), redisSrv.stop()]));
  const nc = await connectNats(natsSrv.url, 'signed-node-test', log);
  closers.push(() => nc.drain());
  const redis = await connectRedis(redisSrv.url, log);
  closers.push(() => redis.quit());
  const bus = new EventBus(nc, '/swarmboot/signed-node-test', log);
  const { apiUrl, seederUrl } = await startNodeModeServices({ log, bus, redis, natsUrl: natsSrv.url, redisUrl: redisSrv.url, work, closers });

  const diskFile = join(work, 'm1.disk');
  await sparseFile(diskFile, 64 * 1024 * 1024);
  loop = (await pexec('losetup', ['-f', '--show', diskFile])).stdout.trim();
  const api = new SwarmbootClient(apiUrl, seederUrl);
  const file = join(work, 'sample.tar');
  await copyFile(assetPaths().sampleImage, file);
  const pair = generateSigningKeyPair();
  const rec = await api.addImage(file, 'sample', { bootable: true });
  await api.signImage('sample', await signRecord(file, rec, parseSigningKey(pair.privateKeyPem)));
  await api.importNodes([{ id: 'm1', mac: '52:54:00:5c:00:01', rootDisk: loop }]);
  const dep = await api.deploy({ image: 'sample', nodes: ['m1'], lingerSeconds: 0, trustedKeys: [pair.publicKeyPem] });
  assert.deepEqual(dep.trustedKeyIds, [pair.keyId]);

  // after the deployment was checked: the manifest's date changed in the catalog
  const key = RedisKeys.image('sample');
  const manifest = JSON.parse((await redis.hget(key, 'manifest')) ?? '') as SignedImageManifest;
  await redis.hset(key, 'manifest', JSON.stringify({ ...manifest, created: '2020-01-01T00:00:00.000Z' }));

  assert.equal((await fetch(`${apiUrl}/v1/boot/52:54:00:5c:00:01`)).status, 200);
  const nodeWork = join(work, 'm1');
  const err = await runNodeAgent({ api: apiUrl, nodeId: 'm1', deploymentId: dep.id, localAddress: '127.0.0.1', workDir: nodeWork, log, disks: { includeLoop: true }, releasePollMs: 100 }).then(
    () => assert.fail('installed'),
    (e: unknown) => e,
  );
  assert.ok(isSwarmbootError(err, 'IMAGE_SIGNATURE_INVALID'), String(err));
  const n = await api.node('m1');
  assert.equal(n.state, 'failed');
  assert.match(n.reason ?? '', /^IMAGE_SIGNATURE_INVALID: /);
  assert.equal((await stat(diskFile)).blocks, 0, 'the disk file is as sparse as it was made: nothing written');
  assert.equal(existsSync(join(nodeWork, 'image')), false, 'the image was not downloaded');
});
