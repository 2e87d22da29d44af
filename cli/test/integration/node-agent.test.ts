import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isSwarmbootError, type Deployment, type Node } from '@swarmboot/contracts';
import { EventBus, SwarmbootClient, connectNats, connectRedis, createLogger } from '@swarmboot/kit';
import { startNats, startRedis } from '@swarmboot/testkit';
import { makeRaw, runNodeAgent } from '@swarmboot/agent';
import { assetPaths } from '../../src/assets.js';
import { sparseFile } from '../../src/vm-lab.js';
import { startNodeModeServices } from './node-mode-services.js';

const pexec = promisify(execFile);
const MiB = 1024 * 1024;


/**
 * The agent's node mode without a VM: the real tracker, seeder and scheduler on loopback, two
 * "machines" whose disks are loop devices (named by their nodes' root-disk hints, so nothing but
 * them can be chosen). A raw-disk image (made from the sample tarball by the agent's own writer)
 * goes through the swarm onto the larger one; the smaller one is refused after the download
 * (DISK_TOO_SMALL) and, with one install attempt allowed, ends failed with that code.
 */
test('node mode: the swarm onto a loop device, verified; a disk too small fails the node with its code', { timeout: 300_000 }, async (t) => {
  const log = createLogger('node-agent-test', 'warn');
  const work = await mkdtemp(join(tmpdir(), 'sb-node-agent-'));
  const loops: string[] = [];
  const [natsSrv, redisSrv] = await Promise.all([startNats(), startRedis()]);
  const nc = await connectNats(natsSrv.url, 'node-agent-test', log);
  const redis = await connectRedis(redisSrv.url, log);
  const bus = new EventBus(nc, '/swarmboot/node-agent-test', log);
  const closers: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    for (const l of loops) await pexec('losetup', ['-d', l]).catch(() => undefined);
    await nc.drain();
    await redis.quit();
    await Promise.all([natsSrv.stop(), redisSrv.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  // the image: the sample tarball made into a 512 MiB GPT disk (the writer's minimum for it: 256 MiB ESP, journal, margin) by the agent's writer, zstd-compressed
  const raw = join(work, 'sample.raw');
  await makeRaw(['--tar', assetPaths().sampleImage, '--out', raw, '--size', String(512 * MiB)]);
  await pexec('zstd', ['-q', '-3', '--rm', raw, '-o', `${raw}.zst`]);

  const { apiUrl, seederUrl } = await startNodeModeServices({ log, bus, redis, natsUrl: natsSrv.url, redisUrl: redisSrv.url, work, closers });

  // the two machines' disks
  for (const [name, bytes] of [['big', 1024 * MiB], ['small', 256 * MiB]] as const) {
    await sparseFile(join(work, `${name}.disk`), bytes);
    loops.push((await pexec('losetup', ['-f', '--show', join(work, `${name}.disk`)])).stdout.trim());
  }
  const [bigDisk, smallDisk] = loops as [string, string];

  const api = new SwarmbootClient(apiUrl, seederUrl);
  const image = await api.addImage(`${raw}.zst`, 'sample-raw', { bootable: true });
  assert.equal(image.format, 'raw-disk', 'the seeder read the format from the bytes');
  await api.importNodes([
    { id: 'm-big', mac: '52:54:00:5b:00:01', rootDisk: bigDisk },
    { id: 'm-small', mac: '52:54:00:5b:00:02', rootDisk: smallDisk },
  ]);
  const dep: Deployment = await api.deploy({ image: 'sample-raw', nodes: ['m-big', 'm-small'], lingerSeconds: 0 });
  assert.equal(dep.target, 'node');

  const run = async (nodeId: string, mac: string) => {
    // what iPXE does first: fetch the boot script (the scheduler counts the attempt)
    const script = await (await fetch(`${apiUrl}/v1/boot/${mac}`)).text();
    assert.match(script, /\nkernel http:\/\/127\.0\.0\.1:9\/unused\/vmlinuz /);
    await mkdir(join(work, nodeId), { recursive: true });
    return runNodeAgent({ api: apiUrl, nodeId, deploymentId: dep.id, localAddress: '127.0.0.1', workDir: join(work, nodeId), log, disks: { includeLoop: true }, releasePollMs: 100 });
  };
  const [big, small] = await Promise.allSettled([run('m-big', '52:54:00:5b:00:01'), run('m-small', '52:54:00:5b:00:02')]);

  assert.equal(big.status, 'fulfilled', big.status === 'rejected' ? String(big.reason) : '');
  if (big.status === 'fulfilled') {
    assert.equal(big.value.next, 'reboot');
    assert.equal(big.value.disk, bigDisk);
  }
  const nBig: Node = await api.node('m-big');
  assert.equal(nBig.state, 'installed');
  assert.ok((nBig.stats?.bytesFromSeeder ?? 0) + (nBig.stats?.bytesFromPeers ?? 0) + (nBig.stats?.bytesFromWebSeed ?? 0) >= image.size);
  // the disk: a valid GPT whose backup header moved to the end of the 1 GiB device, an ext4 root that fscks clean
  const verify = await pexec('sfdisk', ['--verify', bigDisk]);
  assert.match(verify.stdout, /No errors detected/);
  assert.doesNotMatch(verify.stdout + verify.stderr, /corrupt|not at the end/i);
  const parts = JSON.parse((await pexec('sfdisk', ['--json', bigDisk])).stdout) as { partitiontable: { lastlba: number; partitions: { node: string; start: number; size: number }[] } };
  const last = parts.partitiontable.partitions.at(-1)!;
  assert.ok((last.start + last.size) * 512 > 1000 * MiB, `the last partition was grown to the disk's end (ends at ${(last.start + last.size) * 512} bytes)`);
  await pexec('partx', ['-u', bigDisk]).catch(() => undefined);
  await pexec('e2fsck', ['-n', '-f', last.node]);

  assert.equal(small.status, 'rejected');
  if (small.status === 'rejected') assert.ok(isSwarmbootError(small.reason) && small.reason.code === 'DISK_TOO_SMALL', String(small.reason));
  const nSmall = await api.node('m-small');
  assert.equal(nSmall.state, 'failed');
  assert.match(nSmall.reason ?? '', /^DISK_TOO_SMALL: /);
});
