// CPU cost of writing a file into the page cache, which a swarm node pays for every piece:
//   node bench/swarm/page-cache-write.mjs <dir> [MB]
// Writes MB (default 1024) in 256 KiB pwrite()s to a new file, twice: into a first file, then,
// after deleting it, into a second (the pages the first freed are there to be taken again).
// Prints the CPU ms (user + sys) of each pass. On the shared 2-core VM of docs/benchmarks.md
// ("Issue 12, third step") a pass of 1 GB took from 0.2 to 2.4 CPU-s depending on when it ran;
// bench/swarm's node_cpu_ms carries that cost (in libuv's pool threads, not node_main_cpu_ms).
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const [dir, mb = '1024'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: page-cache-write.mjs <dir> [MB]');
  process.exit(2);
}
const PIECE = 256 * 1024;
const pieces = (Number(mb) * 1024 * 1024) / PIECE;
const block = Buffer.alloc(PIECE, 5);

function pass(file) {
  const fd = openSync(file, 'w');
  const t0 = process.cpuUsage();
  for (let i = 0; i < pieces; i++) writeSync(fd, block, 0, PIECE, i * PIECE);
  const cpu = process.cpuUsage(t0);
  closeSync(fd);
  return Math.round((cpu.user + cpu.system) / 1000);
}

const first = join(dir, `page-cache-write-${process.pid}-1`);
const second = join(dir, `page-cache-write-${process.pid}-2`);
const fresh = pass(first);
unlinkSync(first);
const reused = pass(second);
unlinkSync(second);
console.log(JSON.stringify({ mb: Number(mb), freshPagesCpuMs: fresh, reusedPagesCpuMs: reused }));
