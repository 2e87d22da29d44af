import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry, createLogger, loadTokens, parseConfig } from '@swarmboot/kit';
import { diskLikeImage, freePort, startBackends } from '@swarmboot/testkit';
import { buildSeederApp } from '@swarmboot/seeder';
import { SchedulerConfig, buildSchedulerApp } from '@swarmboot/scheduler';
import { ExitCode } from '../../src/exit-codes.js';

const cli = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const READ = 'cli-read-0123456789abcdef';
const DEPLOY = 'cli-deploy-0123456789abcdef';

/** Runs the CLI; resolves with its exit code and output (never rejects on a non-zero exit). */
function swarmboot(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const childEnv = { ...process.env, ...env };
    if (env['SWARMBOOT_TOKEN'] === undefined) delete childEnv['SWARMBOOT_TOKEN'];
    execFile(process.execPath, [cli, ...args], { env: childEnv }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

test('the CLI sends --token / SWARMBOOT_TOKEN to a real scheduler and seeder; 401 and 403 exit ExitCode.denied with a clear message', { timeout: 120_000 }, async (t) => {
  const log = createLogger('cli-tokens-test', 'error');
  const work = await mkdtemp(join(tmpdir(), 'sb-cli-tokens-'));
  const backends = await startBackends('cli-tokens-test', log);
  const closers: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const c of closers.reverse()) await c();
    await backends.stop();
    await rm(work, { recursive: true, force: true });
  });
  const tokensFile = join(work, 'tokens');
  await writeFile(tokensFile, `${READ} read\n${DEPLOY} deploy\n`);
  const tokens = await loadTokens(tokensFile);

  const seederPort = await freePort();
  const seederUrl = `http://127.0.0.1:${seederPort}`;
  const seeder = buildSeederApp({
    log, bus: backends.bus, redis: backends.redis, registry: new Registry(), tokens,
    config: { dataDir: join(work, 'seeder'), publicUrl: seederUrl, announceUrl: 'http://127.0.0.1:9/announce', uploadLimit: 0, torrentPort: 0 },
  });
  await seeder.listen({ host: '127.0.0.1', port: seederPort });
  closers.push(() => seeder.close());
  const config = parseConfig(SchedulerConfig, { SWARMBOOT_TOKENS_FILE: tokensFile });
  const scheduler = buildSchedulerApp({ log, bus: backends.bus, redis: backends.redis, config, tokens });
  await scheduler.listen({ host: '127.0.0.1', port: 0 });
  closers.push(() => scheduler.close());
  const api = ['--api', `http://127.0.0.1:${(scheduler.server.address() as { port: number }).port}`];

  await writeFile(join(work, 'disk.img'), diskLikeImage(128 * 1024));
  await writeFile(join(work, 'nodes.csv'), 'id,mac,hostname\nc1,52:54:00:ee:00:01,c1\n');
  const add = ['image', 'add', join(work, 'disk.img'), '--name', 'disk', '--seeder', seederUrl, ...api];

  const none = await swarmboot(add);
  assert.equal(none.code, ExitCode.denied, none.stderr);
  assert.match(none.stderr, /the API wants a valid token: give --token or set SWARMBOOT_TOKEN/);
  const readOnly = await swarmboot([...add, '--token', READ]);
  assert.equal(readOnly.code, ExitCode.denied, readOnly.stderr);
  assert.match(readOnly.stderr, /the token may not do this: .*needs deploy/);
  const added = await swarmboot(add, { SWARMBOOT_TOKEN: DEPLOY });
  assert.equal(added.code, 0, added.stderr);
  assert.equal(JSON.parse(added.stdout).name, 'disk');

  assert.equal((await swarmboot(['nodes', 'import', join(work, 'nodes.csv'), ...api, '--token', DEPLOY])).stdout, 'imported 1, updated 0\n');
  assert.equal((await swarmboot(['deploy', '--image', 'disk', '--nodes', 'c1', '--target', 'emulated', ...api, '--token', READ])).code, ExitCode.denied);
  const dep = await swarmboot(['deploy', '--image', 'disk', '--nodes', 'c1', '--target', 'emulated', ...api], { SWARMBOOT_TOKEN: DEPLOY });
  assert.equal(dep.code, 0, dep.stderr);
  const status = await swarmboot(['status', ...api, '--token', READ]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`^${dep.stdout.trim()} image=disk `));
  const unknown = await swarmboot(['image', 'list', ...api, '--token', 'no-such-token-0123456789']);
  assert.equal(unknown.code, ExitCode.denied);
  assert.match(unknown.stderr, /not known/);
});
