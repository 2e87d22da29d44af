// Sender of the log sink bench: N lines over one transport at a target rate, then counts what
// the sink stored, from Redis (XLEN of the stream the lines land in). 127.0.0.1 is given a lease
// of node `bench` (as the DHCP server and the scheduler write it), so every line goes through the
// failure rules as a known node's does; `unknown` lines skip them.
//
//   node bench/logsink/send.mjs TRANSPORT PORT N RATE REDIS_URL
//     TRANSPORT  udp (RFC 5424 datagrams), tcp (RFC 6587 octet counting, one connection),
//                netconsole (extended format datagrams, consecutive sequence numbers)
//     RATE       lines per second the sender aims at (paced per millisecond tick)
// Prints one markdown table row: transport | N | target/s | sent | send s | stored | lost | stored/s
// where stored/s = stored lines / (time of the last line stored − time of the first line sent).
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { Redis } from 'ioredis';

const [transport, portArg, nArg, rateArg, redisUrl] = process.argv.slice(2);
const port = Number(portArg);
const n = Number(nArg);
const rate = Number(rateArg);
const KEY = 'sb:log:bench';
const redis = new Redis(redisUrl);
await redis.del(KEY);
// RedisKeys.leaseByIp and RedisKeys.nodeByMac (packages/contracts keys.ts)
await redis.set('sb:dhcp:ip:127.0.0.1', '52:54:00:be:4c:01');
await redis.set('sb:node:mac:52:54:00:be:4c:01', 'bench');

const line = (i) => {
  switch (transport) {
    case 'udp':
    case 'tcp':
      return Buffer.from(`<14>1 2026-12-01T00:00:00.000Z bench-host bench ${process.pid} - - bench line ${i} ${'x'.repeat(60)}`);
    case 'netconsole':
      return Buffer.from(`6,${i},${1_000_000 + i * 10},-;bench line ${i} ${'x'.repeat(60)}`);
    default:
      throw new Error(`unknown transport ${transport}`);
  }
};

let write;
let finish;
if (transport === 'tcp') {
  const sock = connect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  // one drain waiter for the whole burst: the writes of a burst are started together
  let drained = null;
  write = async (buf) => {
    if (drained) await drained;
    if (!sock.write(Buffer.concat([Buffer.from(`${buf.length} `), buf]))) {
      drained ??= new Promise((r) => sock.once('drain', () => r((drained = null))));
    }
  };
  finish = () => new Promise((r) => sock.end(r));
} else {
  const sock = createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  write = (buf) => new Promise((resolve, reject) => sock.send(buf, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  finish = () => new Promise((r) => sock.close(r));
}

const t0 = Date.now();
let sent = 0;
while (sent < n) {
  // how many lines should be out by now; send them (at most one tick's worth of catch-up at once: 1/20 s)
  const due = Math.min(n, Math.floor(((Date.now() - t0) / 1000) * rate) + 1);
  const burst = [];
  for (let k = 0; sent < due && k < Math.max(1, rate / 20); k++) burst.push(write(line(sent++)));
  await Promise.all(burst);
  if (sent < due) continue;
  await new Promise((r) => setTimeout(r, 1));
}
await finish();
const sendSeconds = (Date.now() - t0) / 1000;

// Stored: poll XLEN until it reaches n or stops growing for 2 s.
let stored = 0;
let lastGrowth = Date.now();
for (;;) {
  const len = await redis.xlen(KEY);
  if (len > stored) {
    stored = len;
    lastGrowth = Date.now();
  }
  if (stored >= n || Date.now() - lastGrowth > 2000) break;
  await new Promise((r) => setTimeout(r, 20));
}
await redis.quit();
const span = (lastGrowth - t0) / 1000;
console.log(`| ${transport} | ${n} | ${rate} | ${sent} | ${sendSeconds.toFixed(2)} | ${stored} | ${n - stored} | ${Math.round(stored / span)} |`);
