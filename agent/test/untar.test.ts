import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// A child with a low descriptor limit (`ulimit -n`) opens /dev/null until EMFILE, then untars:
// tar cannot be spawned, and the agent must get UNPACK_FAILED rather than die of an unhandled
// 'error' event (200 emulated agents in one process of bench/admission ran out of descriptors).
const CHILD = `
const { openSync } = require('node:fs');
import(process.argv[1]).then(async ({ untar }) => {
  const fds = [];
  try { for (;;) fds.push(openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
  const code = await untar('/nonexistent.tar', '/nonexistent').then(() => 'resolved', (e) => e.code);
  process.stdout.write(code);
});
`;

test('untar rejects with UNPACK_FAILED when tar cannot be spawned for lack of descriptors', () => {
  const agent = fileURLToPath(new URL('../src/agent.js', import.meta.url));
  const r = spawnSync('sh', ['-c', 'ulimit -n 1024 && exec "$0" -e "$1" "$2"', process.execPath, CHILD, agent], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.stdout, 'UNPACK_FAILED', `child exited ${r.status}: ${r.stderr.slice(-500)}`);
  assert.equal(r.status, 0);
});
