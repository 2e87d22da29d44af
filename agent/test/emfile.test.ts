import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/*
 * A child with a low descriptor limit (`ulimit -n`) opens /dev/null until EMFILE, then calls one
 * of the agent's tool runners: the tool cannot be spawned, and the agent must get its error code
 * rather than die of an unhandled 'error' event (200 emulated agents in one process of
 * bench/admission ran out of descriptors). Prints the error code the call rejected with.
 */
const CHILD = `
const { openSync } = require('node:fs');
import(process.argv[1]).then(async (mod) => {
  const fds = [];
  try { for (;;) fds.push(openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
  const code = await mod[process.argv[2]](...JSON.parse(process.argv[3])).then(() => 'resolved', (e) => e.code);
  process.stdout.write(code);
});
`;

function underEmfile(module: string, fn: string, args: unknown[]): { stdout: string; status: number | null; stderr: string } {
  const file = fileURLToPath(new URL(module, import.meta.url));
  return spawnSync('sh', ['-c', 'ulimit -n 1024 && exec "$0" -e "$1" "$2" "$3" "$4"', process.execPath, CHILD, file, fn, JSON.stringify(args)], { encoding: 'utf8', timeout: 30_000 });
}

for (const [module, fn, args, code] of [
  ['../src/agent.js', 'untar', ['/nonexistent.tar', '/nonexistent'], 'UNPACK_FAILED'],
  ['../src/disk/spawn.js', 'run', ['true', []], 'DISK_WRITE_FAILED'],
  ['../src/disk/spawn.js', 'streamThrough', [{ source: '/dev/null', sink: { cmd: 'cat', args: [] } }], 'DISK_WRITE_FAILED'],
  ['../src/disk/spawn.js', 'streamThrough', [{ source: '/dev/null', decompress: ['gzip', '-dc'], sink: { cmd: 'cat', args: [] } }], 'DISK_WRITE_FAILED'],
] as const) {
  test(`${fn}${fn === 'streamThrough' && 'decompress' in args[0] ? ' (with a decompressor)' : ''} rejects with ${code} when its tool cannot be spawned for lack of descriptors`, () => {
    const r = underEmfile(module, fn, [...args]);
    assert.equal(r.stdout, code, `child exited ${r.status}: ${r.stderr.slice(-500)}`);
    assert.equal(r.status, 0);
  });
}
