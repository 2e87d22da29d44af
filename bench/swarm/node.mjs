// One emulated node of bench/swarm, run inside its network namespace:
//   node node.mjs <seederBase> <image> <dir> <nodeIndex>
// Joins the image's swarm with the agent's joinSwarm (no web seed), prints one JSON line when
// the image is verified, then keeps seeding until SIGTERM (as an agent does until released).
import { joinSwarm } from '../../agent/dist/src/swarm.js';
import { createLogger, httpRequest } from '../../packages/kit/dist/src/index.js';
import { readFileSync } from 'node:fs';

/** CPU ms (user + sys) of this process's main thread (the JavaScript thread), from /proc (Linux). */
function mainThreadCpuMs() {
  // fields after the parenthesised command name: state is field 3, utime 14 and stime 15 (proc(5))
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Math.round(((Number(fields[11]) + Number(fields[12])) * 1000) / 100);
}

const [base, image, dir, index] = process.argv.slice(2);
const log = createLogger(`bench-node-${index}`, 'warn');
// the record and the .torrent on node:http, as the agent's API client gets them (kit http-request.ts)
const record = JSON.parse((await httpRequest('GET', `${base}/v1/images/${image}`)).body.toString('utf8'));
const torrent = (await httpRequest('GET', record.torrentUrl)).body;
const started = Date.now();
const dl = joinSwarm({ torrent, dir, log });
const stats = await dl.done;
const cpu = process.cpuUsage();
process.stdout.write(JSON.stringify({ node: Number(index), doneAt: Date.now(), started, ...stats, cpuMs: Math.round((cpu.user + cpu.system) / 1000), mainCpuMs: mainThreadCpuMs() }) + '\n');
process.on('SIGTERM', () => {
  const cpu2 = process.cpuUsage();
  process.stdout.write(JSON.stringify({ node: Number(index), uploaded: dl.uploaded(), servedFromMemory: dl.servedFromMemory(), cpuMsTotal: Math.round((cpu2.user + cpu2.system) / 1000) }) + '\n');
  void dl.stop().then(() => process.exit(0));
});
