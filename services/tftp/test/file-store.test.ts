import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSwarmbootError } from '@swarmboot/contracts';
import { FileStore } from '../src/adapters/file-store.js';

async function withRoot(fn: (base: string, root: string) => Promise<void>): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'sb-tftp-store-'));
  const root = join(base, 'root');
  await mkdir(root);
  try {
    await fn(base, root);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

test('a root that is not a directory fails init with TFTP_ROOT_INVALID', async () => {
  await withRoot(async (base) => {
    await writeFile(join(base, 'f'), 'x');
    await assert.rejects(new FileStore({ root: join(base, 'f'), cacheBytes: 1000 }).init(), (e: unknown) => isSwarmbootError(e, 'TFTP_ROOT_INVALID'));
  });
});

test('a file is cached by realpath + mtime: read once, read again after it changed', async () => {
  await withRoot(async (_base, root) => {
    const store = new FileStore({ root, cacheBytes: 1000 });
    await store.init();
    await writeFile(join(root, 'k'), 'v1');
    await symlink('k', join(root, 'alias'));
    const a = await store.open('k');
    const b = await store.open('/alias'); // same realpath: same cache entry
    assert.equal(a, b);
    assert.deepEqual(store.stats, { files: 1, bytes: 2 });
    await writeFile(join(root, 'k'), 'v2!');
    await utimes(join(root, 'k'), new Date(), new Date(Date.now() + 5000));
    const c = await store.open('k');
    assert.equal(c.data.toString(), 'v2!');
    assert.deepEqual(store.stats, { files: 1, bytes: 3 }, 'the old version is evicted');
  });
});

test('the cache stays within its byte budget, evicting the least recently used; bigger files are served uncached', async () => {
  await withRoot(async (_base, root) => {
    const store = new FileStore({ root, cacheBytes: 10 });
    await store.init();
    for (const n of ['a', 'b', 'c']) await writeFile(join(root, n), Buffer.alloc(4, n));
    await writeFile(join(root, 'big'), Buffer.alloc(11));
    await store.open('a');
    await store.open('b');
    await store.open('a'); // a is now the most recent
    await store.open('c'); // 12 bytes > 10: b goes
    assert.deepEqual(store.stats, { files: 2, bytes: 8 });
    const a1 = await store.open('a');
    assert.equal(a1, await store.open('a'));
    assert.equal((await store.open('big')).data.length, 11);
    assert.deepEqual(store.stats, { files: 2, bytes: 8 });
  });
});

test('escapes are refused with TFTP_ACCESS_VIOLATION, missing files with TFTP_FILE_NOT_FOUND', async () => {
  await withRoot(async (base, root) => {
    await writeFile(join(base, 'secret'), 's');
    await symlink(join(base, 'secret'), join(root, 'out'));
    await mkdir(join(root, 'dir'));
    const store = new FileStore({ root, cacheBytes: 1000 });
    await store.init();
    for (const f of ['../secret', 'out', 'dir', '/']) await assert.rejects(store.open(f), (e: unknown) => isSwarmbootError(e, 'TFTP_ACCESS_VIOLATION'), f);
    for (const f of ['nope', 'dir/nope', 'nope/deeper']) await assert.rejects(store.open(f), (e: unknown) => isSwarmbootError(e, 'TFTP_FILE_NOT_FOUND'), f);
  });
});
