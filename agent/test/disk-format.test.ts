import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, appendFile, truncate, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSwarmbootError } from '@swarmboot/contracts';
import { contentSize, detectCompression, inspectImage, tarUsage, zstdContentSize } from '../src/disk/format.js';
import { run } from '../src/disk/spawn.js';

// Compressed files made by the real zstd and gzip tools, sizes read back by the header parsers.
let dir: string;
const content = Buffer.concat([randomBytes(300_000), Buffer.alloc(700_000)]);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swarmboot-disk-format-'));
  await writeFile(join(dir, 'c.bin'), content);
});
after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

test('zstd: content size from the frame header, multi-threaded and concatenated frames, and counted when a pipe made it', async () => {
  const f = join(dir, 'c.bin');
  await run('zstd', ['-q', '-f', '-T2', '-o', `${f}.zst`, f]);
  assert.equal(detectCompression(await readFile(`${f}.zst`)), 'zstd');
  assert.equal(await zstdContentSize(`${f}.zst`), content.length);
  await appendFile(`${f}.zst`, await readFile(`${f}.zst`));
  assert.equal(await zstdContentSize(`${f}.zst`), 2 * content.length, 'two frames');
  await run('sh', ['-c', `zstd -q -c < ${f} > ${f}.pipe.zst`]);
  assert.equal(await zstdContentSize(`${f}.pipe.zst`), undefined, 'no size in the header');
  assert.equal(await contentSize(`${f}.pipe.zst`, 'zstd'), content.length, 'counted instead');
});

test('zstd: a truncated file is IMAGE_FORMAT_INVALID', async () => {
  const f = join(dir, 'c.bin');
  await run('zstd', ['-q', '-f', '-o', `${f}.t.zst`, f]);
  await truncate(`${f}.t.zst`, (await stat(`${f}.t.zst`)).size - 1000);
  await assert.rejects(zstdContentSize(`${f}.t.zst`), (e) => isSwarmbootError(e, 'IMAGE_FORMAT_INVALID'));
});

test('gzip: content size from ISIZE', async () => {
  const f = join(dir, 'c.bin');
  await run('gzip', ['-k', '-f', f]);
  assert.equal(detectCompression(await readFile(`${f}.gz`)), 'gzip');
  assert.equal(await contentSize(`${f}.gz`, 'gzip'), content.length);
});

test('tar: usage from the headers (GNU long names and pax size records included), format by magic not by name', async () => {
  const src = join(dir, 'tree');
  await run('sh', ['-c', `mkdir -p ${src}/d/${'x'.repeat(120)} && head -c 5000 /dev/zero > ${src}/d/${'x'.repeat(120)}/f && head -c 10 /dev/zero > ${src}/g && ln -s g ${src}/l`]);
  for (const fmt of ['gnu', 'pax']) {
    const t = join(dir, `t-${fmt}.data`);
    await run('tar', ['--format', fmt, '-cf', t, '-C', src, '.']);
    await run('zstd', ['-q', '-f', '-o', `${t}.zst`, t]);
    const u = await tarUsage(`${t}.zst`, 'zstd');
    assert.deepEqual(u, { files: 2, dirs: 3, others: 1, dataBytes: 5010, blockBytes: 8192 + 4096 }, fmt);
    assert.equal((await inspectImage(`${t}.zst`, 'rootfs-tar')).compression, 'zstd');
  }
  await assert.rejects(inspectImage(join(dir, 'c.bin'), 'rootfs-tar'), (e) => isSwarmbootError(e, 'IMAGE_FORMAT_INVALID'));
});
