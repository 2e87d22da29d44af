import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { ImageRecord } from '@swarmboot/contracts';
import { ImageCatalog, Registry, TokenSet, createLogger, generateSigningKeyPair, parseSigningKey, signImageManifest } from '@swarmboot/kit';
import { diskLikeImage, startBackends } from '@swarmboot/testkit';
import { buildSeederApp } from '../../src/index.js';

const READ = 'seeder-read-0123456789abcdef';
const DEPLOY = 'seeder-deploy-0123456789abcdef';

test('seeder upload and signed manifest need a deploy token: 401 without, 403 with read, 201/200 with deploy; nothing stored before; torrent and web seed stay open', async (t) => {
  const logged: Buffer[] = [];
  const logTo = new PassThrough();
  logTo.on('data', (b: Buffer) => logged.push(b));
  const log = createLogger('seeder-tokens-test', 'trace', [], logTo);
  const backends = await startBackends('seeder-tokens-test', log);
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-seeder-tokens-'));
  const app = buildSeederApp({
    log,
    bus: backends.bus,
    redis: backends.redis,
    registry: new Registry(),
    // nothing listens at the announce URL: this test uploads, it does not swarm
    config: { dataDir, publicUrl: 'http://127.0.0.1:9', announceUrl: 'http://127.0.0.1:9/announce', uploadLimit: 0, torrentPort: 0 },
    tokens: TokenSet.parse(`${READ} read\n${DEPLOY} deploy ci\n`, 'test'),
  });
  t.after(async () => {
    await app.close();
    await backends.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  await app.ready();
  const image = diskLikeImage(256 * 1024);
  const put = (token?: string) =>
    app.inject({ method: 'PUT', url: '/v1/images/disk?file=disk.img', payload: image, headers: { 'content-type': 'application/octet-stream', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } });

  const none = await put();
  assert.deepEqual([none.statusCode, none.json<{ code: string }>().code], [401, 'UNAUTHENTICATED']);
  assert.match(String(none.headers['www-authenticate']), /^Bearer realm="swarmboot", scope="deploy"$/);
  const read = await put(READ);
  assert.deepEqual([read.statusCode, read.json<{ code: string }>().code], [403, 'INSUFFICIENT_SCOPE']);
  assert.deepEqual(await readdir(join(dataDir, 'images')), [], 'a refused upload stores nothing');
  assert.equal(await new ImageCatalog(backends.redis).get('disk'), undefined);

  const ok = await put(DEPLOY);
  assert.equal(ok.statusCode, 201, ok.body);
  assert.equal((await app.inject({ method: 'GET', url: '/v1/images/disk' })).statusCode, 401, 'the catalog is an operator read');
  assert.equal((await app.inject({ method: 'GET', url: '/v1/images/disk', headers: { authorization: `Bearer ${READ}` } })).statusCode, 200);
  assert.equal((await app.inject({ method: 'GET', url: '/v1/images/disk/torrent' })).statusCode, 200, 'nodes fetch the .torrent without a token');
  const range = await app.inject({ method: 'GET', url: '/v1/images/disk/file/disk.img', headers: { range: 'bytes=0-15' } });
  assert.equal(range.statusCode, 206, 'the web seed is open to nodes');

  // a signed manifest is an upload too: deploy scope; a JSON body reaches this route (the upload route takes only bytes)
  const rec = ok.json<ImageRecord>();
  const signed = signImageManifest({ name: rec.name, format: rec.format, size: rec.size, sha256: rec.sha256, infoHash: rec.infoHash, created: new Date().toISOString() }, parseSigningKey(generateSigningKeyPair().privateKeyPem));
  const sign = (token?: string, body: object = signed) => app.inject({ method: 'PUT', url: '/v1/images/disk/manifest', payload: body, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  assert.equal((await sign()).statusCode, 401);
  assert.equal((await sign(READ)).statusCode, 403);
  assert.equal((await new ImageCatalog(backends.redis).get('disk'))?.signedManifest, undefined);
  const badShape = await sign(DEPLOY, { ...signed, signature: 'x' });
  assert.deepEqual([badShape.statusCode, badShape.json<{ code: string }>().code], [400, 'VALIDATION']);
  const stored = await sign(DEPLOY);
  assert.equal(stored.statusCode, 200, stored.body);
  assert.deepEqual(stored.json<ImageRecord>().signedManifest, signed);
  assert.deepEqual((await new ImageCatalog(backends.redis).get('disk'))?.signedManifest, signed);

  const text = Buffer.concat(logged).toString('utf8');
  assert.ok(text.length > 0);
  for (const token of [READ, DEPLOY]) assert.equal(text.includes(token), false, 'a token in the log');
});
