import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisKeys, isSwarmbootError, type Deployment, type ImageRecord, type InstallManifest } from '@swarmboot/contracts';
import { ImageCatalog, generateSigningKeyPair, parsePublicKey, parseSigningKey, signImageManifest } from '@swarmboot/kit';
import { loadTrustedKeys } from '../../src/config.js';
import { TEST_IMAGE, startScheduler } from './harness.js';

const manifestOf = (r: ImageRecord) => ({ name: r.name, format: r.format, size: r.size, sha256: r.sha256, infoHash: r.infoHash, created: '2026-12-02T03:00:00.000Z' });

/**
 * Deployments with trusted keys against the real scheduler, Redis and NATS: the server default
 * (SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE) applies when a deployment names no keys and is replaced
 * when it does; an image that is unsigned, signed by another key, or whose manifest does not match
 * its record is refused at creation with 422 and the code; the install manifest hands the keys to
 * the agent. The catalog drops a signature when the image is replaced and stores one only for the
 * version it describes.
 */
test('deployments with trusted keys: default keys file, per-deployment keys, refusals at creation, keys in the install manifest', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sb-signed-dep-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const house = generateSigningKeyPair();
  const vendor = generateSigningKeyPair();
  const keysFile = join(dir, 'trusted.pub');
  await writeFile(keysFile, `# the house key\n${house.publicKeyPem}`);
  const { json, redis } = await startScheduler(t, { SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE: keysFile });
  const catalog = new ImageCatalog(redis);

  const houseImage: ImageRecord = { ...TEST_IMAGE, name: 'house', infoHash: '1'.repeat(40) };
  const vendorImage: ImageRecord = { ...TEST_IMAGE, name: 'vendor', infoHash: '2'.repeat(40) };
  const plainImage: ImageRecord = { ...TEST_IMAGE, name: 'plain', infoHash: '3'.repeat(40) };
  for (const r of [houseImage, vendorImage, plainImage]) await catalog.put(r);
  assert.equal(await catalog.putSignedManifest('house', houseImage.infoHash, signImageManifest(manifestOf(houseImage), parseSigningKey(house.privateKeyPem))), true);
  assert.equal(await catalog.putSignedManifest('vendor', vendorImage.infoHash, signImageManifest(manifestOf(vendorImage), parseSigningKey(vendor.privateKeyPem))), true);
  await json('POST', '/v1/nodes/import', { nodes: [1, 2, 3, 4, 5].map((i) => ({ id: `k${i}`, mac: `52:54:00:00:20:0${i}` })) });

  const create = (body: object) => json<Deployment & { code?: string }>('POST', '/v1/deployments', { target: 'emulated', ...body });

  await t.test('no keys named: the default file applies — its image deploys, the key goes to the agent', async () => {
    const dep = await create({ image: 'house', nodes: ['k1'] });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    assert.deepEqual(dep.body.trustedKeyIds, [house.keyId]);
    const install = await json<InstallManifest>('GET', '/v1/nodes/k1/install');
    assert.equal(install.status, 200);
    assert.deepEqual(install.body.trustedKeys, [parsePublicKey(house.publicKeyPem).raw]);
    assert.equal(install.body.image.signedManifest?.keyId, house.keyId);
  });

  await t.test('refused at creation with 422: signed by a key not trusted, not signed; a bad key 400', async () => {
    const untrusted = await create({ image: 'vendor', nodes: ['k2'] });
    assert.deepEqual([untrusted.status, untrusted.body.code], [422, 'IMAGE_KEY_UNTRUSTED']);
    const unsigned = await create({ image: 'plain', nodes: ['k2'] });
    assert.deepEqual([unsigned.status, unsigned.body.code], [422, 'IMAGE_NOT_SIGNED']);
    const badKey = await create({ image: 'vendor', nodes: ['k2'], trustedKeys: ['-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----'] });
    assert.deepEqual([badKey.status, badKey.body.code], [400, 'SIGNING_KEY_INVALID']);
  });

  await t.test("a deployment's own keys replace the default: the vendor's image deploys with the vendor's key", async () => {
    const dep = await create({ image: 'vendor', nodes: ['k2'], trustedKeys: [vendor.publicKeyPem] });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    assert.deepEqual(dep.body.trustedKeyIds, [vendor.keyId]);
    const install = await json<InstallManifest>('GET', '/v1/nodes/k2/install');
    assert.deepEqual(install.body.trustedKeys, [parsePublicKey(vendor.publicKeyPem).raw]);
  });

  await t.test('a record changed under its signed manifest: 422 IMAGE_MANIFEST_MISMATCH; a changed manifest: IMAGE_SIGNATURE_INVALID', async () => {
    const key = RedisKeys.image('house');
    const [recordJson, manifestJson] = await redis.hmget(key, 'json', 'manifest');
    await redis.hset(key, 'json', JSON.stringify({ ...houseImage, size: houseImage.size + 1 }));
    const mismatch = await create({ image: 'house', nodes: ['k3'] });
    assert.deepEqual([mismatch.status, mismatch.body.code], [422, 'IMAGE_MANIFEST_MISMATCH']);
    await redis.hset(key, 'json', recordJson ?? '');
    await redis.hset(key, 'manifest', JSON.stringify({ ...(JSON.parse(manifestJson ?? '') as object), size: houseImage.size + 1 }));
    const forged = await create({ image: 'house', nodes: ['k3'] });
    assert.deepEqual([forged.status, forged.body.code], [422, 'IMAGE_SIGNATURE_INVALID']);
    // a manifest that is not one at all leaves the image unsigned, which trusted keys refuse
    await redis.hset(key, 'manifest', '{"not":"a manifest"');
    assert.equal((await catalog.get('house'))?.signedManifest, undefined);
    const damaged = await create({ image: 'house', nodes: ['k3'] });
    assert.deepEqual([damaged.status, damaged.body.code], [422, 'IMAGE_NOT_SIGNED']);
    await redis.hset(key, 'manifest', manifestJson ?? '');
  });

  await t.test('the catalog: replacing an image drops its signature; a signature for a replaced version is not stored', async () => {
    const signer = parseSigningKey(house.privateKeyPem);
    const v2: ImageRecord = { ...houseImage, infoHash: '4'.repeat(40), sha256: 'c'.repeat(64) };
    await catalog.put(v2);
    assert.equal((await catalog.get('house'))?.signedManifest, undefined);
    assert.equal(await catalog.putSignedManifest('house', houseImage.infoHash, signImageManifest(manifestOf(houseImage), signer)), false);
    assert.equal((await catalog.get('house'))?.signedManifest, undefined);
    const refused = await create({ image: 'house', nodes: ['k4'] });
    assert.deepEqual([refused.status, refused.body.code], [422, 'IMAGE_NOT_SIGNED']);
    assert.equal(await catalog.putSignedManifest('house', v2.infoHash, signImageManifest(manifestOf(v2), signer)), true);
    const dep = await create({ image: 'house', nodes: ['k4'] });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
  });

  await t.test('the OpenAPI document has trustedKeys and the 422 answer', async () => {
    const doc = await json<{ paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> } }> }; responses: Record<string, unknown> }>> }>('GET', '/v1/openapi.json');
    const post = doc.body.paths['/v1/deployments']?.['post'];
    assert.ok(post?.requestBody?.content['application/json']?.schema.properties['trustedKeys']);
    assert.ok(post.responses['422']);
  });
});

test('SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE: unreadable, empty or holding a bad key is CONFIG_INVALID naming the variable', async () => {
  const refusal = async (text: string | Error) => {
    try {
      await loadTrustedKeys('/etc/swarmboot/trusted.pub', async () => {
        if (text instanceof Error) throw Object.assign(text, { code: 'ENOENT' });
        return text;
      });
    } catch (err) {
      assert.ok(isSwarmbootError(err, 'CONFIG_INVALID'), String(err));
      assert.match(err.message, /^SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE: /);
      return err.message;
    }
    return assert.fail('expected CONFIG_INVALID');
  };
  assert.match(await refusal(new Error('no such file')), /cannot read "\/etc\/swarmboot\/trusted\.pub" \(ENOENT\)/);
  assert.match(await refusal('# only a comment\n'), /holds no public key/);
  assert.match(await refusal('AAAA\n'), /line 1/);
  assert.deepEqual(await loadTrustedKeys(''), []);
  const k = generateSigningKeyPair();
  assert.deepEqual((await loadTrustedKeys('x', async () => `${k.publicKeyPem}\n${parsePublicKey(k.publicKeyPem).raw}\n`)).map((x) => x.keyId), [k.keyId, k.keyId]);
});
