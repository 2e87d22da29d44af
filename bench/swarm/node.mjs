// One emulated node of bench/swarm, run inside its network namespace:
//   node node.mjs <seederBase> <image> <dir> <nodeIndex>
// Joins the image's swarm with the agent's joinSwarm (no web seed), prints one JSON line when
// the image is verified, then keeps seeding until SIGTERM (as an agent does until released).
import { joinSwarm } from '../../agent/dist/src/swarm.js';
import { createLogger } from '../../packages/kit/dist/src/index.js';

const [base, image, dir, index] = process.argv.slice(2);
const log = createLogger(`bench-node-${index}`, 'warn');
const record = await (await fetch(`${base}/v1/images/${image}`)).json();
const torrent = Buffer.from(await (await fetch(record.torrentUrl)).arrayBuffer());
const started = Date.now();
const dl = joinSwarm({ torrent, dir, log });
const stats = await dl.done;
const cpu = process.cpuUsage();
process.stdout.write(JSON.stringify({ node: Number(index), doneAt: Date.now(), started, ...stats, cpuMs: Math.round((cpu.user + cpu.system) / 1000) }) + '\n');
process.on('SIGTERM', () => {
  const cpu2 = process.cpuUsage();
  process.stdout.write(JSON.stringify({ node: Number(index), uploaded: dl.uploaded(), cpuMsTotal: Math.round((cpu2.user + cpu2.system) / 1000) }) + '\n');
  void dl.stop().then(() => process.exit(0));
});
