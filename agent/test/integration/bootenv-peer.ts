import { readFile } from 'node:fs/promises';
import { createLogger } from '@swarmboot/kit';
import { joinSwarm } from '../../src/swarm.js';

/*
 * A swarm peer for bootenv-bundle.test.ts, run after esbuild bundled it with the install
 * environment's settings (agent/bootenv/bundle.mjs): the agent's own joinSwarm (webtorrent@3 and
 * its tree, natives stubbed) downloads the torrent into DIR, prints one JSON line
 * `{"done":true,"stats":…}`, and seeds until SIGTERM.
 *   node peer.mjs TORRENT_FILE DIR
 */
const [torrentPath, dir] = process.argv.slice(2);
if (!torrentPath || !dir) throw new Error('usage: peer.mjs TORRENT_FILE DIR');
const download = joinSwarm({ torrent: await readFile(torrentPath), dir, log: createLogger('bootenv-peer', 'warn') });
process.once('SIGTERM', () => {
  void download.stop().then(() => process.exit(0));
});
const stats = await download.done;
process.stdout.write(`${JSON.stringify({ done: true, stats })}\n`);
