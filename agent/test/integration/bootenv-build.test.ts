import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentEntry, buildBootenv, cacheDir, REPO, run, type Bootenv } from './bootenv-build.js';

// The install environment as scripts/build-bootenv.sh builds it, checked from its unpacked
// initramfs: modules closed over the kernel's own modules.dep, every binary's libraries found by
// the initramfs's own loader, /init and the agent where the node runs them.

let env: Bootenv;
let scratch: string;
let root: string;

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Module names of a modules.list (comments and blank lines dropped). */
function listedModules(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
}

before(async () => {
  env = await buildBootenv();
  scratch = await mkdtemp(join(tmpdir(), 'sb-bootenv-build-'));
  root = join(scratch, 'root');
  const decompress = env.manifest.compression.startsWith('zstd') ? 'zstd -dc' : 'gzip -dc';
  await run('sh', ['-c', `mkdir -p "$2" && ${decompress} "$1" | (cd "$2" && cpio -idm --quiet)`, 'sh', env.initrd, root]);
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test('manifest: sizes and sha256 of both files, under 100 MB compressed', async () => {
  const m = env.manifest;
  assert.equal(m.vmlinuz.sha256, await sha256(env.vmlinuz));
  assert.equal(m.initrd.sha256, await sha256(env.initrd));
  assert.equal(m.vmlinuz.bytes, (await stat(env.vmlinuz)).size);
  assert.equal(m.initrd.bytes, (await stat(env.initrd)).size);
  assert.equal(m.totalCompressedBytes, m.vmlinuz.bytes + m.initrd.bytes);
  assert.ok(m.totalCompressedBytes < 100e6, `${m.totalCompressedBytes} bytes`);
  assert.match(m.kernelVersion, /^6\.1\.0-\d+-amd64$/);
  assert.ok(m.componentBytes.node! > 50e6 && m.componentBytes.modules! > 0 && m.componentBytes.agent! > 0);
});

test('every listed module and every modules.dep dependency (of the full kernel) is in the initrd', async () => {
  const kver = env.manifest.kernelVersion;
  const modDir = join(root, 'usr/lib/modules', kver);
  // The full kernel's modules.dep, from the package the build used: the reference the shipped tree
  // is checked against (the initrd's own modules.dep only knows what was shipped).
  const debs = join(cacheDir(), 'bootenv-debs');
  const deb = (await readdir(debs)).find((f) => f.startsWith(`linux-image-${kver}_`));
  assert.ok(deb, `no linux-image-${kver} .deb in ${debs}`);
  const full = join(scratch, 'kernel');
  await run('dpkg-deb', ['-x', join(debs, deb), full]);
  await run('depmod', ['-b', full, kver]);
  const fullDep = new Map<string, string[]>();
  for (const line of (await readFile(join(full, 'lib/modules', kver, 'modules.dep'), 'utf8')).split('\n')) {
    const [mod, deps] = line.split(':');
    if (mod) fullDep.set(mod, (deps ?? '').trim().split(/\s+/).filter(Boolean));
  }
  const builtin = new Set((await readFile(join(full, 'lib/modules', kver, 'modules.builtin'), 'utf8')).split('\n').map((p) => p.replace(/^.*\//, '').replace(/\.ko$/, '')));
  const shipped = new Set<string>();
  for (const line of (await readFile(join(modDir, 'modules.dep'), 'utf8')).split('\n')) {
    const mod = line.split(':')[0];
    if (mod) shipped.add(mod);
  }
  const listed = listedModules(await readFile(join(REPO, 'agent/bootenv/modules.list'), 'utf8'));
  assert.ok(listed.length >= 25);
  for (const name of listed) {
    const norm = name.replace(/-/g, '_');
    if (builtin.has(name) || builtin.has(norm)) continue;
    const path = [...fullDep.keys()].find((p) => p.replace(/^.*\//, '').replace(/\.ko$/, '').replace(/-/g, '_') === norm);
    assert.ok(path, `${name} is neither a module nor built in`);
    assert.ok(shipped.has(path), `${name} (${path}) is not in the initrd`);
  }
  for (const mod of shipped) {
    await stat(join(modDir, mod));
    for (const dep of fullDep.get(mod) ?? []) assert.ok(shipped.has(dep), `${mod} needs ${dep}, not in the initrd`);
  }
  // softdeps too: modprobe resolves them against the initrd's own tree (ext4 → crc32c)
  const { stdout } = await run('modprobe', ['-d', root, '-S', kver, '--show-depends', 'ext4']);
  assert.match(stdout, /crc32c/);
});

test('a module missing from the kernel fails the build, naming it', async () => {
  const list = join(scratch, 'modules.list');
  await writeFile(list, 'virtio_net\nsb_no_such_module\n');
  await assert.rejects(
    buildBootenv(['--force', '--out', join(scratch, 'out-missing')], { SWARMBOOT_BOOTENV_MODULES: list }),
    (err: Error & { stderr?: string }) => {
      assert.match(err.stderr ?? '', /module sb_no_such_module .*is not in linux-image-/);
      return true;
    },
  );
});

test('/init, the udhcpc script and the agent bundle are in place and executable', async () => {
  for (const p of ['init', 'usr/share/swarmboot/udhcpc.script', 'opt/swarmboot/agent.mjs', 'usr/bin/node', 'usr/bin/busybox']) {
    const s = await stat(join(root, p));
    assert.ok(s.isFile() && (s.mode & 0o111) === 0o111, `${p} mode ${s.mode.toString(8)}`);
  }
  assert.match(await readFile(join(root, 'init'), 'utf8'), /^#!\/bin\/sh\n/);
  const s = await stat(join(root, 'dev/console'));
  assert.ok(s.isCharacterDevice(), '/dev/console (the kernel opens it before /init)');
});

test("every binary's shared libraries are found by the initrd's own loader; node and the tools run there", async () => {
  const ldso = '/usr/lib64/ld-linux-x86-64.so.2';
  for (const dir of ['usr/bin', 'usr/sbin']) {
    for (const name of await readdir(join(root, dir))) {
      const s = await stat(join(root, dir, name)).catch(() => undefined);
      const link = (await run('readlink', [join(root, dir, name)]).catch(() => ({ stdout: '' }))).stdout.trim();
      if (!s?.isFile() || link) continue; // busybox applets are symlinks
      if (name === 'busybox') continue; // static
      const { stdout } = await run('chroot', [root, ldso, '--list', `/${dir}/${name}`]);
      assert.doesNotMatch(stdout, /not found/, `/${dir}/${name}: ${stdout}`);
    }
  }
  const node = await run('chroot', [root, '/usr/bin/node', '-e', 'console.log(process.version, typeof fetch, require("zlib").zstdCompressSync === undefined)']);
  assert.match(node.stdout, /^v2\d\.\d+\.\d+ function/);
  for (const [tool, ...args] of [['sfdisk', '--version'], ['sgdisk', '--version'], ['mkfs.ext4', '-V'], ['mkfs.vfat', '--help'], ['kexec', '--version'], ['tar', '--version'], ['zstd', '--version'], ['losetup', '--version']] as const) {
    await run('chroot', [root, tool, ...args]).catch((err: Error & { code?: number; stdout?: string; stderr?: string }) => {
      // some print their version and exit 1; not finding a library exits 127
      assert.notEqual(err.code, 127, `${tool}: ${err.stderr}`);
      assert.doesNotMatch(err.stderr ?? '', /error while loading shared libraries/);
    });
  }
});

test('the bundled agent loads in the initrd without node_modules', async () => {
  // Reaching the agent's own first check means every module of the bundle loaded (webtorrent,
  // pino, ioredis, nats…) with the natives stubbed: the node agent's command-line check without
  // swarmboot.api (exit 2), or the emulated agent's config check without SWARMBOOT_AGENT_MAC (exit 1).
  const emulated = agentEntry().endsWith('/main.js');
  const env = { PATH: '/usr/bin', SWARMBOOT_AGENT_WORK: '/tmp', SWARMBOOT_CMDLINE: 'console=ttyS0' };
  const err = await run('/usr/sbin/chroot', [root, '/usr/bin/node', '/opt/swarmboot/agent.mjs'], { env }).then(
    () => assert.fail('the agent exited 0 without its command line or configuration'),
    (e: Error & { code?: number; stdout?: string; stderr?: string }) => e,
  );
  const out = `${err.stdout ?? ''}${err.stderr ?? ''}`;
  assert.equal(err.code, emulated ? 1 : 2, out);
  assert.match(out, emulated ? /CONFIG_INVALID/ : /lacks swarmboot\.api/);
  assert.doesNotMatch(out, /Cannot find module|uTP not supported|node-datachannel/);
});

test('two builds of the same inputs are byte-identical', { skip: process.env.SB_TEST_BOOTENV_REPRO !== '1' && 'set SB_TEST_BOOTENV_REPRO=1 (a full build, ~70 s CPU)' }, async () => {
  const again = await buildBootenv(['--force', '--out', join(scratch, 'out-again')]);
  assert.equal(again.manifest.inputsKey, env.manifest.inputsKey, 'the inputs changed since the cached build');
  assert.equal(again.manifest.vmlinuz.sha256, env.manifest.vmlinuz.sha256);
  if (again.manifest.initrd.sha256 !== env.manifest.initrd.sha256) {
    // name what differs: the archive's entries (cpio -tv: mode, owner, size, mtime, path) or only the compression
    const list = async (f: string): Promise<string[]> =>
      (await run('sh', ['-c', `${again.manifest.compression.startsWith('zstd') ? 'zstd' : 'gzip'} -dc "$1" | cpio -tv --quiet | sha256sum; ${again.manifest.compression.startsWith('zstd') ? 'zstd' : 'gzip'} -dc "$1" | cpio -tv --quiet`, 'sh', f], { maxBuffer: 64 << 20 })).stdout.split('\n');
    const [a, b] = [await list(env.initrd), await list(again.initrd)];
    const diff = a.filter((l, i) => l !== b[i]).slice(0, 10);
    assert.fail(`initrd differs (${env.manifest.initrd.sha256} vs ${again.manifest.initrd.sha256}); cpio listing diff: ${diff.join('\n') || 'none (same entries: content or compression)'}`);
  }
  assert.equal(await sha256(again.initrd), await sha256(env.initrd));
});
