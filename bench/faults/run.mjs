// One run of bench/faults (issue 15), inside the run's network namespace (run.sh makes it):
//   node run.mjs <fault> <seed> <N> <tftpRoot> <image.tar> <workDir> <deadlineS>
//
// The deployment: nats-server (JetStream, file store) and redis-server (AOF on), two replicas each
// of tracker, seeder, scheduler and dhcp, one tftp and one logsink, all `swarmboot <service>`
// children with the env `swarmboot up` gives them (cli's serviceEnv). In front of the replicas,
// what a cluster puts there:
//   - an L4 proxy per HTTP service (scheduler, tracker, seeder web seed / .torrent): round robin,
//     the next replica when a connect fails, and the client's own source address kept (the
//     scheduler and the tracker read the node's address from the connection, BEP 3 `ip`);
//   - a DHCP relay (RFC 1542) on the giaddr that forwards every request to both dhcp replicas and
//     every reply back to the client, as a relay with two helper addresses does.
// N emulated nodes (`swarmboot agent`, one process each) DHCP through the relay, TFTP their boot
// files, fetch the image from the swarm and unpack it.
//
// The fault, at a seeded random moment between the first node leaving `booting` and the last
// node reaching `installed`: when the k-th node (k uniform in 1..N) has left `booting`, plus a
// delay uniform in 0..2 s, unless every node is installed by then (the row says so).
//   seeder | tracker | scheduler | dhcp   kill -9 of one of the two replicas (seeded pick); it stays down
//   redis      SIGTERM (AOF rewritten at shutdown), started again on the same port and dir at once
//   redis-kill kill -9, started again at once (AOF fsync every second: the last second may go)
//   nats       SIGTERM (JetStream file store), started again on the same port and dir at once
//   agent      kill -9 of the agent of one node that is downloading (seeded pick), started again 1 s later
//   none       no fault (the baseline)
// Two faults run on a replicated backend instead of the single servers (the layout is the fault's):
//   sentinel           Redis as master + one replica + three sentinels (redis-server --sentinel, quorum
//                      2, down-after-milliseconds 1000, failover-timeout 10000; no persistence, as
//                      testkit's startRedisSentinel), the services on
//                      SWARMBOOT_REDIS_URL=redis+sentinel://…/mymaster?waitReplicas=1; the fault: kill -9
//                      of the master the sentinels name; once they name a new one, the killed server is
//                      started again (empty) as its replica with replica-priority 0, so scripts can WAIT
//                      for a replica again and the sentinels never promote the empty server
//   sentinel-failover  the same layout; the fault: SENTINEL FAILOVER mymaster (the old master is demoted)
//   nats-node          three nats-server nodes in one cluster, JetStream on each (file store), the
//                      services on the list of URLs with SWARMBOOT_NATS_REPLICAS=3; the fault: kill -9 of
//                      the node that leads the SWARMBOOT stream (JetStream API: stream info's cluster
//                      leader); it stays down
//   The checks then read Redis through the master the sentinels name and the stream through a
//   surviving node.
//
// Then: the deployment is released, and the checks run:
//   installed  nodes installed (or released) / N
//   leases     addresses held by more than one chaddr: the dhcp lease store in Redis (each
//              sb:dhcp:lease:<chaddr> record's ip; each sb:dhcp:ip:<ip> holder agrees with its
//              record) and the lease.granted facts (an ip granted to two chaddrs)
//   timelines  GET /v1/nodes/:id/timeline of each node: entries ordered by `at`, ids unique, a dhcp
//              entry, state entries a chain (each `from` the previous `to`) through queued,
//              admitted, booting, installing, verifying, installed, released
//   stream     the SWARMBOOT stream read from its first sequence to its last with an ordered
//              consumer: gaps (sequence numbers missing), and the node.state facts of each node
//              against its timeline's state entries (facts lost: a transition with no fact)
// Prints one JSON line (the row) on stdout; progress on stderr.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { connect as tcpConnect, createServer } from 'node:net';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { DemoNet, Events, RedisKeys, Stream } from '@swarmboot/contracts';
import { SwarmbootClient, redisOptions } from '@swarmboot/kit';
import { CLI_ENTRY, serviceEnv } from '../../cli/dist/src/stack.js';
import { demoNode } from '../../cli/dist/src/demo.js';

const [fault, seedArg, nArg, tftpRoot, imageFile, workDir, deadlineArg] = process.argv.slice(2);
const FAULTS = ['none', 'seeder', 'tracker', 'scheduler', 'dhcp', 'redis', 'redis-kill', 'nats', 'agent', 'sentinel', 'sentinel-failover', 'nats-node'];
const SENTINEL = fault === 'sentinel' || fault === 'sentinel-failover';
const NATS_CLUSTER = fault === 'nats-node';
if (!FAULTS.includes(fault)) throw new Error(`unknown fault '${fault}' (${FAULTS.join(', ')})`);
const N = Number(nArg);
const seed = Number(seedArg);
const deadline = Date.now() + Number(deadlineArg) * 1000;
const say = (m) => process.stderr.write(`[${fault} ${((Date.now() - started) / 1000).toFixed(1)} s] ${m}\n`);
const started = Date.now();
const load1 = async () => Number((await readFile('/proc/loadavg', 'utf8')).split(' ')[0]);
const loadAtStart = await load1();

// mulberry32: a small seeded PRNG, so a run's moment and pick can be replayed from its seed
let rngState = seed >>> 0;
const random = () => {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const triggerAfter = 1 + Math.floor(random() * N); // k-th node out of booting
const triggerDelayMs = Math.floor(random() * 2000);
const victimPick = random();

// ports inside the namespace (its own loopback: nothing else listens there)
const H = '127.0.0.1';
const P = {
  nats: 4222,
  redis: 6379,
  // the replicated layouts (SENTINEL, NATS_CLUSTER)
  redisReplica: 6380,
  sentinels: [26379, 26380, 26381],
  natsCluster: [4222, 4223, 4224],
  natsRoute: [6222, 6223, 6224],
  natsMonitor: [8222, 8223, 8224],
  relay: 6700, // on DemoNet.relay, the giaddr
  dhcp: [6767, 6768],
  tftp: 6969,
  tracker: [8001, 8002],
  trackerProxy: 8000,
  seeder: [8101, 8102],
  seederProxy: 8100,
  seederTorrent: [6881, 6882],
  scheduler: [8201, 8202],
  schedulerProxy: 8200,
  syslog: 5514,
  syslogTcp: 5515,
  netconsole: 6666,
};
let opsPort = 9100;

// ---- processes -------------------------------------------------------------------------------

const procs = new Map(); // name → { name, cmd, args, env, child, exits, killing }
const unexpectedExits = [];
let stopping = false;
const logs = join(workDir, 'logs');
await mkdir(logs, { recursive: true });

function start(name, cmd, args, env) {
  const p = procs.get(name) ?? { name, cmd, args, env, exits: [] };
  p.killing = false;
  const out = createWriteStream(join(logs, `${name}.log`), { flags: 'a' });
  p.child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  p.child.stdout.pipe(out);
  p.child.stderr.pipe(out);
  const child = p.child;
  child.once('exit', (code, signal) => {
    p.exits.push({ at: Date.now(), code, signal, pid: child.pid });
    // a service or server that ends without the harness asking: the row names it
    if (!stopping && !p.killing && !name.startsWith('agents/')) {
      unexpectedExits.push(`${name} (pid ${child.pid}) ${signal ?? `exit ${code}`} at +${((Date.now() - started) / 1000).toFixed(1)} s`);
      say(`${name} exited on its own: ${signal ?? code}`);
    }
  });
  procs.set(name, p);
  return p;
}
const alive = (p) => p.child.exitCode === null && p.child.signalCode === null;
const exited = (p) => (alive(p) ? new Promise((r) => p.child.once('exit', r)) : Promise.resolve());
async function stop(p, signal = 'SIGTERM', waitMs = 10_000) {
  if (!alive(p)) return;
  p.killing = true;
  const done = exited(p);
  p.child.kill(signal);
  await Promise.race([done, sleep(waitMs)]);
  if (alive(p)) {
    p.child.kill('SIGKILL');
    await done;
  }
}

async function waitTcp(port, what, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((r) => {
      const s = tcpConnect(port, H, () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${what} did not listen on ${port}`);
}
async function waitHealthy(port, what, ms = 180_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const res = await fetch(`http://${H}:${port}/healthz`).catch(() => undefined);
    if (res?.status === 200) return;
    await sleep(200);
  }
  throw new Error(`${what} did not become healthy (ops ${port})`);
}

// ---- the L4 proxies and the DHCP relay -------------------------------------------------------

const proxyStats = {};
/** Round robin over `backends`; a failed connect tries the next; the client's address is the source. */
function tcpProxy(name, port, backends) {
  let rr = 0;
  const st = (proxyStats[name] = { connections: 0, failovers: 0, refused: 0 });
  const server = createServer((c) => {
    st.connections++;
    c.pause();
    const first = rr++ % backends.length;
    let upstream;
    const attempt = (i) => {
      if (i >= backends.length) {
        st.refused++;
        c.destroy();
        return;
      }
      const s = tcpConnect({ host: H, port: backends[(first + i) % backends.length], localAddress: c.remoteAddress });
      const onError = () => {
        st.failovers++;
        attempt(i + 1);
      };
      s.once('error', onError);
      s.once('connect', () => {
        s.off('error', onError);
        upstream = s;
        s.on('error', () => c.destroy());
        s.on('close', () => c.destroy());
        c.pipe(s);
        s.pipe(c);
        c.resume();
      });
    };
    c.on('error', () => upstream?.destroy());
    c.on('close', () => upstream?.destroy());
    attempt(0);
  });
  server.listen(port, H);
  return server;
}

const relayStats = { requests: 0, replies: [0, 0] };
function dhcpRelay() {
  const sock = createSocket('udp4');
  const clients = new Map(); // xid → rinfo (bounded: entries older than 60 s go)
  sock.on('error', () => undefined);
  sock.on('message', (buf, rinfo) => {
    if (buf.length < 240) return;
    const xid = buf.readUInt32BE(4);
    const replica = rinfo.address === H ? P.dhcp.indexOf(rinfo.port) : -1;
    if (replica >= 0) {
      const to = clients.get(xid);
      if (!to) return;
      relayStats.replies[replica]++;
      sock.send(buf, to.port, to.address);
      return;
    }
    relayStats.requests++;
    clients.set(xid, { address: rinfo.address, port: rinfo.port, at: Date.now() });
    if (clients.size > 10_000) for (const [k, v] of clients) if (Date.now() - v.at > 60_000) clients.delete(k);
    for (const port of P.dhcp) sock.send(buf, port, H);
  });
  sock.bind(P.relay, DemoNet.relay);
  return sock;
}

// ---- the stack -------------------------------------------------------------------------------

const natsDir = join(workDir, 'nats');
const redisDir = join(workDir, 'redis');
await mkdir(natsDir, { recursive: true });
await mkdir(redisDir, { recursive: true });
const startNats = () => start('nats-server', 'nats-server', ['-a', H, '-p', String(P.nats), '-js', '-sd', natsDir], {});
const startRedis = () => start('redis-server', 'redis-server', ['--bind', H, '--port', String(P.redis), '--dir', redisDir, '--appendonly', 'yes', '--save', ''], {});

// ---- the replicated layouts ----
const SENTINEL_NAME = 'mymaster';
/** one-shot ioredis connection to 127.0.0.1:port; `fn` gets it, the connection is closed after */
async function withRedis(port, fn) {
  const r = new Redis({ host: H, port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}
/** field → value of a flat reply array (SENTINEL master) */
const fieldsOf = (arr) => Object.fromEntries(arr.flatMap((v, i) => (i % 2 ? [] : [[v, arr[i + 1]]])));
/** the port of the master the first sentinel that answers names (SENTINEL get-master-addr-by-name) */
async function sentinelMasterPort() {
  for (const sp of P.sentinels) {
    const addr = await withRedis(sp, (r) => r.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_NAME)).catch(() => undefined);
    if (Array.isArray(addr)) return Number(addr[1]);
  }
  throw new Error('no sentinel named a master');
}
const redisProcOnPort = (port) => (port === P.redis ? 'redis-a' : 'redis-b');
// `empty`: a server started again without its data (no persistence here) gets replica-priority 0,
// so the sentinels never promote it: in seed 416 they failed over a second time 1.9 s after the
// first (the new master missed its pings for 1 s at load 20) and promoted the restarted, still
// empty server — every key gone (docs/faults.md, finding 11; Redis' replication docs warn against
// restarting a master without persistence)
const startRedisNode = (port, replicaOf, { empty = false } = {}) =>
  start(redisProcOnPort(port), 'redis-server', ['--bind', H, '--port', String(port), '--dir', join(redisDir, redisProcOnPort(port)), '--save', '', '--appendonly', 'no', ...(replicaOf ? ['--replicaof', H, String(replicaOf)] : []), ...(empty ? ['--replica-priority', '0'] : [])], {});
/**
 * Until the master the sentinels name has `replicas` replicas online at its offset and every
 * sentinel knows them and the two other sentinels (as testkit's RedisSentinelSet.healthy). Bounded.
 */
async function sentinelHealthy(ms = 60_000) {
  const end = Date.now() + ms;
  for (; Date.now() < end; await sleep(200)) {
    try {
      const info = await withRedis(await sentinelMasterPort(), (r) => r.info('replication'));
      const offset = /master_repl_offset:(\d+)/.exec(info)?.[1];
      if (!/role:master/.test(info) || ![...info.matchAll(/slave\d+:.*state=online,offset=(\d+)/g)].some((m) => m[1] === offset)) continue;
      let all = true;
      for (const sp of P.sentinels) {
        const f = fieldsOf(await withRedis(sp, (r) => r.call('SENTINEL', 'master', SENTINEL_NAME)));
        if (f['num-slaves'] !== '1' || f['num-other-sentinels'] !== '2') all = false;
      }
      if (all) return;
    } catch {
      // not up yet
    }
  }
  throw new Error('the Sentinel set did not become healthy');
}
const startNatsNode = (i) =>
  start(`nats-n${i}`, 'nats-server', ['-a', H, '-p', String(P.natsCluster[i]), '-m', String(P.natsMonitor[i]), '-n', `n${i}`, '-js', '-sd', join(natsDir, `n${i}`), '--cluster_name', 'swarmboot', '--cluster', `nats://${H}:${P.natsRoute[i]}`, '--routes', P.natsRoute.map((p) => `nats://${H}:${p}`).join(',')], {});

let natsUrl = `nats://${H}:${P.nats}`;
let redisUrl = `redis://${H}:${P.redis}`;
if (NATS_CLUSTER) {
  for (const i of [0, 1, 2]) startNatsNode(i);
  for (const i of [0, 1, 2]) await waitTcp(P.natsCluster[i], `nats-n${i}`);
  // JetStream ready on every member: each sees a meta leader (/jsz)
  for (const port of P.natsMonitor) {
    const end = Date.now() + 60_000;
    for (;;) {
      const jsz = await fetch(`http://${H}:${port}/jsz`).then((r) => r.json()).catch(() => undefined);
      if (jsz?.meta_cluster?.leader) break;
      if (Date.now() > end) throw new Error(`no JetStream meta leader seen by ${port}`);
      await sleep(200);
    }
  }
  natsUrl = P.natsCluster.map((p) => `nats://${H}:${p}`).join(',');
} else {
  startNats();
  await waitTcp(P.nats, 'nats-server');
}
if (SENTINEL) {
  await mkdir(join(redisDir, 'redis-a'), { recursive: true });
  await mkdir(join(redisDir, 'redis-b'), { recursive: true });
  startRedisNode(P.redis);
  await waitTcp(P.redis, 'redis-a');
  startRedisNode(P.redisReplica, P.redis);
  await waitTcp(P.redisReplica, 'redis-b');
  for (const [i, sp] of P.sentinels.entries()) {
    // sentinel rewrites its config file as it learns the topology: one writable file each
    const conf = join(redisDir, `sentinel-${i}.conf`);
    await writeFile(conf, [`port ${sp}`, `bind ${H}`, `dir ${redisDir}`, `sentinel monitor ${SENTINEL_NAME} ${H} ${P.redis} 2`, `sentinel down-after-milliseconds ${SENTINEL_NAME} 1000`, `sentinel failover-timeout ${SENTINEL_NAME} 10000`, `sentinel parallel-syncs ${SENTINEL_NAME} 1`, ''].join('\n'));
    start(`sentinel-${i}`, 'redis-server', [conf, '--sentinel'], {});
    await waitTcp(sp, `sentinel-${i}`);
  }
  await sentinelHealthy();
  redisUrl = `redis+sentinel://${P.sentinels.map((p) => `${H}:${p}`).join(',')}/${SENTINEL_NAME}?waitReplicas=1`;
} else {
  startRedis();
  await waitTcp(P.redis, 'redis-server');
}

// the env `swarmboot up` gives each service (the first replica's ports), then each replica's own
const baseEnv = serviceEnv(
  {
    workDir,
    bind: H,
    host: H,
    tftpRoot,
    logLevel: 'info',
    ports: { nats: P.nats, redis: P.redis, dhcp: P.dhcp[0], tftp: P.tftp, tracker: P.trackerProxy, seeder: P.seederProxy, seederTorrent: P.seederTorrent[0], scheduler: P.schedulerProxy, syslog: P.syslog, syslogTcp: P.syslogTcp, netconsole: P.netconsole, ops: { logsink: 0, tracker: 0, seeder: 0, scheduler: 0, power: 0, tftp: 0, dhcp: 0 } },
    env: { SWARMBOOT_SEEDER_UPLOAD_LIMIT: process.env.SEEDER_LIMIT ?? '4000000', ...(NATS_CLUSTER ? { SWARMBOOT_NATS_REPLICAS: '3' } : {}) },
    say,
  },
  natsUrl,
  redisUrl,
);
const services = []; // { name, kind, replica, ops }
function service(kind, replica, extra) {
  const name = replica === undefined ? kind : `${kind}-${'ab'[replica]}`;
  const ops = opsPort++;
  const env = { ...baseEnv[kind], SWARMBOOT_OPS_LISTEN: `${H}:${ops}`, ...extra };
  start(name, process.execPath, [CLI_ENTRY, kind], env);
  services.push({ name, kind, replica, ops });
}
service('logsink');
for (const r of [0, 1]) service('tracker', r, { SWARMBOOT_TRACKER_LISTEN: `${H}:${P.tracker[r]}` });
for (const r of [0, 1])
  service('seeder', r, { SWARMBOOT_SEEDER_LISTEN: `${H}:${P.seeder[r]}`, SWARMBOOT_SEEDER_DATA: join(workDir, 'data', `seeder-${'ab'[r]}`), SWARMBOOT_SEEDER_TORRENT_PORT: String(P.seederTorrent[r]) });
for (const r of [0, 1]) service('scheduler', r, { SWARMBOOT_SCHEDULER_LISTEN: `${H}:${P.scheduler[r]}` });
service('tftp');
for (const r of [0, 1]) service('dhcp', r, { SWARMBOOT_DHCP_LISTEN: `${H}:${P.dhcp[r]}` });
const proxies = [tcpProxy('tracker', P.trackerProxy, P.tracker), tcpProxy('seeder', P.seederProxy, P.seeder), tcpProxy('scheduler', P.schedulerProxy, P.scheduler)];
const relay = dhcpRelay();
await Promise.all(services.map((s) => waitHealthy(s.ops, s.name)));
say(`stack up: ${services.map((s) => s.name).join(', ')}; trigger after node ${triggerAfter} left booting + ${triggerDelayMs} ms`);

const nc = await connect({ servers: natsUrl.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
const agents = new Map(); // node id → proc
const nodes = Array.from({ length: N }, (_, i) => demoNode(i + 1));
const api = new SwarmbootClient(`http://${H}:${P.schedulerProxy}`, `http://${H}:${P.seeder[0]}`);
let result;
let injected;

try {
  // ---- image on both seeders, nodes, deployment ----
  const imageName = 'faults';
  const image = await api.addImage(imageFile, imageName);
  const servedBy = async (port) => (await fetch(`http://${H}:${port}/v1/images/${imageName}/file/${encodeURIComponent(image.file)}`, { headers: { range: 'bytes=0-0' } }).catch(() => undefined))?.status === 206;
  while (!((await servedBy(P.seeder[0])) && (await servedBy(P.seeder[1])))) {
    if (Date.now() > deadline) throw new Error('the seeders never both served the image');
    await sleep(200);
  }
  while (!(await api.images()).images.some((i) => i.name === imageName)) await sleep(200);
  await api.importNodes(nodes);

  // every state change as it happens (core NATS: the harness' own view; the checks read JetStream)
  const state = new Map(nodes.map((n) => [n.id, 'registered']));
  const leftBooting = new Set();
  let windowStart;
  let fire;
  const trigger = new Promise((r) => (fire = r));
  const sub = nc.subscribe(Events.nodeStateChanged.subject.replace(/\*$/, '>'));
  void (async () => {
    for await (const m of sub) {
      const e = m.json();
      if (!state.has(e.data.nodeId)) continue;
      state.set(e.data.nodeId, e.data.to);
      if (e.data.from === 'booting' && !leftBooting.has(e.data.nodeId)) {
        leftBooting.add(e.data.nodeId);
        windowStart ??= Date.now();
        if (leftBooting.size === triggerAfter) fire();
      }
    }
  })();
  await nc.flush();

  let dep = await api.deploy({ image: imageName, nodes: nodes.map((n) => n.id), target: 'emulated' });
  const t0 = Date.now();
  say(`deployment ${dep.id}: ${N} nodes`);
  await mkdir(join(logs, 'agents'), { recursive: true });
  const startAgent = (n) =>
    agents.set(
      n.id,
      start(`agents/${n.id}`, process.execPath, [CLI_ENTRY, 'agent'], {
        SWARMBOOT_AGENT_MAC: n.mac,
        SWARMBOOT_AGENT_DHCP: `${DemoNet.relay}:${P.relay}`,
        SWARMBOOT_AGENT_GIADDR: DemoNet.relay,
        SWARMBOOT_AGENT_TFTP_PORT: String(P.tftp),
        SWARMBOOT_AGENT_WORK: join(workDir, 'nodes', n.id),
        SWARMBOOT_LOG_LEVEL: 'info',
      }),
    );
  for (const n of nodes) startAgent(n);

  // ---- the fault ----
  const injectFault = async () => {
    const installedBefore = [...state.values()].filter((s) => s === 'installed').length;
    const at = { sinceDeployS: (Date.now() - t0) / 1000, sinceWindowS: (Date.now() - windowStart) / 1000, installedBefore, leftBooting: leftBooting.size };
    if (installedBefore === N) return { ...at, skipped: 'every node was installed' };
    const replica = victimPick < 0.5 ? 0 : 1;
    const kill9 = async (name) => {
      const p = procs.get(name);
      p.killing = true;
      const pid = p.child.pid;
      const done = exited(p);
      p.child.kill('SIGKILL');
      await done;
      return pid;
    };
    switch (fault) {
      case 'none':
        return { ...at, what: 'nothing' };
      case 'seeder':
      case 'tracker':
      case 'scheduler':
      case 'dhcp': {
        const name = `${fault}-${'ab'[replica]}`;
        const pid = await kill9(name);
        return { ...at, what: `kill -9 ${name} (pid ${pid}), left down` };
      }
      case 'redis':
      case 'nats':
      case 'redis-kill': {
        const p = procs.get(fault === 'nats' ? 'nats-server' : 'redis-server');
        const t = Date.now();
        if (fault === 'redis-kill') await kill9('redis-server');
        else await stop(p, 'SIGTERM', 30_000);
        const down = Date.now();
        if (fault === 'nats') startNats();
        else startRedis();
        await waitTcp(fault === 'nats' ? P.nats : P.redis, p.name);
        return { ...at, what: `${fault === 'redis-kill' ? 'kill -9' : 'SIGTERM'} ${p.name}, stopped in ${down - t} ms, listening again ${Date.now() - down} ms later` };
      }
      case 'sentinel':
      case 'sentinel-failover': {
        const before = await sentinelMasterPort();
        const t = Date.now();
        if (fault === 'sentinel') await kill9(redisProcOnPort(before));
        else await withRedis(P.sentinels[0], (r) => r.call('SENTINEL', 'failover', SENTINEL_NAME));
        let after = before;
        for (const end = Date.now() + 60_000; after === before && Date.now() < end; await sleep(100)) after = await sentinelMasterPort().catch(() => before);
        const promotedMs = Date.now() - t;
        let back = '';
        if (fault === 'sentinel' && after !== before) {
          startRedisNode(before, after, { empty: true });
          await waitTcp(before, redisProcOnPort(before));
          const t2 = Date.now();
          await sentinelHealthy().catch((err) => say(err.message));
          back = `; ${redisProcOnPort(before)} started again (empty) as its replica, in sync ${Date.now() - t2} ms after it listened`;
        }
        const what = fault === 'sentinel' ? `kill -9 master ${redisProcOnPort(before)}` : 'SENTINEL FAILOVER';
        return { ...at, what: `${what} (:${before}); sentinels named ${after === before ? 'NO new master within 60 s' : `:${after}`} ${promotedMs} ms later${back}`, masterBefore: before, masterAfter: after, promotedMs };
      }
      case 'nats-node': {
        const jsm = await jetstreamManager(nc);
        const leader = (await jsm.streams.info(Stream.name)).cluster?.leader;
        const name = leader && procs.has(`nats-${leader}`) ? `nats-${leader}` : `nats-n${Math.floor(victimPick * 3)}`;
        const pid = await kill9(name);
        const t = Date.now();
        let newLeader;
        for (const end = Date.now() + 60_000; Date.now() < end; await sleep(200)) {
          newLeader = await jsm.streams.info(Stream.name).then((i) => i.cluster?.leader, () => undefined);
          if (newLeader && `nats-${newLeader}` !== name) break;
        }
        return { ...at, what: `kill -9 ${name} (pid ${pid}, ${leader ? 'the stream leader' : 'no leader known: seeded pick'}), left down; stream leader ${newLeader ?? 'none'} ${Date.now() - t} ms later`, leaderBefore: leader, leaderAfter: newLeader };
      }
      case 'agent': {
        // a node that is downloading: installing, some bytes in, more to come (waits up to 20 s for one)
        let pool = [];
        for (const end = Date.now() + 20_000; Date.now() < end; await sleep(250)) {
          const d = await api.deployment(dep.id);
          pool = d.nodes.filter((n) => n.state === 'installing' && n.progress && n.progress.bytes > 0 && n.progress.bytes < n.progress.total);
          if (pool.length) break;
        }
        if (!pool.length) return { ...at, skipped: 'no node was downloading' };
        const victim = pool[Math.floor(victimPick * pool.length)];
        const pid = await kill9(`agents/${victim.id}`);
        const progress = victim.progress ? `${victim.progress.bytes}/${victim.progress.total} bytes` : 'no progress yet';
        await sleep(1000);
        startAgent(nodes.find((n) => n.id === victim.id));
        return { ...at, what: `kill -9 agent of ${victim.id} (pid ${pid}, ${progress}), started again 1 s later`, node: victim.id };
      }
    }
    return at;
  };
  const faultRun = trigger.then(async () => {
    await sleep(triggerDelayMs);
    injected = await injectFault();
    say(`fault: ${JSON.stringify(injected)}`);
  });

  // ---- until the deployment finishes ----
  let last = 0;
  for (;;) {
    dep = await api.deployment(dep.id).catch((err) => {
      say(`GET deployment: ${err.message}`);
      return dep;
    });
    if (dep.state === 'paused') {
      say(`paused (${dep.reason}); resuming`);
      await fetch(`${api.apiUrl}/v1/deployments/${dep.id}/resume`, { method: 'POST' }).catch(() => undefined);
    } else if (dep.state !== 'running') break;
    if (Date.now() > deadline) {
      say(`deadline: ${JSON.stringify(dep.counts)}`);
      break;
    }
    if (Date.now() - last > 5000) {
      last = Date.now();
      say(JSON.stringify(dep.counts));
    }
    await sleep(500);
  }
  await Promise.race([faultRun, sleep(30_000)]);
  const wallS = (Date.now() - t0) / 1000;
  say(`deployment ${dep.state}: ${JSON.stringify(dep.counts)}`);
  await api.release(dep.id).catch((err) => say(`release: ${err.message}`));
  // the agents see `released` within a poll (1 s) and exit
  const agentsEnd = Date.now() + 30_000;
  while ([...agents.values()].some(alive) && Date.now() < agentsEnd) await sleep(250);
  const final = await api.deployment(dep.id);
  sub.unsubscribe();

  // ---- checks ----
  const installed = final.nodes.filter((n) => n.state === 'installed' || n.state === 'released').length;
  const failed = final.nodes.filter((n) => n.state === 'failed').map((n) => `${n.id}: ${n.reason}`);

  // leases in the store
  // through the master the sentinels name now (ioredis asks them) in the SENTINEL layouts
  const ro = redisOptions(redisUrl);
  const redis = ro.url ? new Redis(ro.url, { lazyConnect: true, maxRetriesPerRequest: 3 }) : new Redis({ ...ro.options, failoverDetector: false, lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  const scan = async (pattern) => {
    const keys = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  };
  const leasePrefix = RedisKeys.lease('');
  const ipPrefix = RedisKeys.leaseByIp('');
  const byIp = new Map(); // ip → chaddrs whose record names it as bound and unexpired
  const now = Date.now();
  const records = [];
  for (const key of await scan(`${leasePrefix}*`)) {
    const h = await redis.hgetall(key);
    const chaddr = key.slice(leasePrefix.length);
    records.push({ chaddr, ...h });
    if (h.state !== 'bound' || Number(h.expiresAt) <= now) continue;
    byIp.set(h.ip, [...(byIp.get(h.ip) ?? []), chaddr]);
  }
  const holderMismatch = [];
  for (const key of await scan(`${ipPrefix}*`)) {
    const ip = key.slice(ipPrefix.length);
    const holder = await redis.get(key);
    const rec = records.find((r) => r.chaddr === holder);
    if (!rec || rec.ip !== ip) holderMismatch.push(`${ip} held by ${holder}, whose record says ${rec?.ip}`);
  }
  await redis.quit();
  const storeDoubled = [...byIp].filter(([, c]) => c.length > 1).map(([ip, c]) => `${ip}: ${c.join(' ')}`);
  const nodesWithLease = nodes.filter((n) => records.some((r) => r.chaddr === n.mac && r.state === 'bound')).length;

  // the facts: the whole stream, in order
  // the JetStream API may time out (5 s) while a cluster settles after a node went: bounded retries
  const retried = async (what, fn) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= 6) throw err;
        say(`${what}: ${err.message}; again`);
        await sleep(2000);
      }
    }
  };
  const jsm = await jetstreamManager(nc);
  const info = await retried('stream info', () => jsm.streams.info(Stream.name));
  const js = jetstream(nc);
  const consumer = await retried('ordered consumer', () => js.consumers.get(Stream.name, { opt_start_seq: info.state.first_seq }));
  const seqs = [];
  const granted = new Map(); // ip → Set(chaddr)
  const stateFacts = new Map(); // node → [from→to]
  const toRead = info.state.last_seq - info.state.first_seq + 1;
  if (info.state.messages > 0) {
    const iter = await consumer.fetch({ max_messages: toRead, expires: 10_000 });
    for await (const m of iter) {
      seqs.push(m.seq);
      if (m.subject === Events.leaseGranted.subject) {
        const d = m.json().data;
        const set = granted.get(d.yiaddr ?? d.ip) ?? new Set();
        set.add(d.chaddr);
        granted.set(d.yiaddr ?? d.ip, set);
      } else if (m.subject.startsWith('swarmboot.node.state.')) {
        const d = m.json().data;
        stateFacts.set(d.nodeId, [...(stateFacts.get(d.nodeId) ?? []), `${d.from}→${d.to}`]);
      }
      if (m.seq >= info.state.last_seq) break;
    }
  }
  const gaps = [];
  for (let i = 1; i < seqs.length; i++) if (seqs[i] !== seqs[i - 1] + 1) gaps.push(`${seqs[i - 1]}..${seqs[i]}`);
  const factsDoubled = [...granted].filter(([, c]) => c.size > 1).map(([ip, c]) => `${ip}: ${[...c].join(' ')}`);

  // timelines
  const REQUIRED = ['queued', 'admitted', 'booting', 'installing', 'verifying', 'installed', 'released'];
  const timelineProblems = [];
  const factsLost = [];
  for (const n of nodes) {
    const tl = await api.timeline(n.id, { limit: 1000, sources: ['state', 'dhcp', 'tftp', 'progress', 'failure'] });
    const e = tl.entries;
    const bad = [];
    for (let i = 1; i < e.length; i++) if (Date.parse(e[i].at) < Date.parse(e[i - 1].at)) bad.push(`out of order at ${i}: ${e[i - 1].at} > ${e[i].at}`);
    if (new Set(e.map((x) => x.id)).size !== e.length) bad.push('duplicate ids');
    if (!e.some((x) => x.source === 'dhcp')) bad.push('no dhcp entry');
    const states = e.filter((x) => x.source === 'state');
    for (let i = 1; i < states.length; i++) if (states[i].from !== states[i - 1].to) bad.push(`chain broken: ${states[i - 1].to} then ${states[i].from}→${states[i].to}`);
    const reached = new Set(states.map((s) => s.to));
    const missing = REQUIRED.filter((s) => !reached.has(s));
    if (missing.length) bad.push(`never ${missing.join(', ')}`);
    if (tl.truncated) bad.push('truncated');
    if (bad.length) timelineProblems.push(`${n.id}: ${bad.join('; ')}`);
    // every transition in the timeline has its fact in the stream, and no more
    const tlTransitions = states.filter((s) => s.from !== undefined).map((s) => `${s.from}→${s.to}`);
    const facts = stateFacts.get(n.id) ?? [];
    if (tlTransitions.join() !== facts.join()) factsLost.push(`${n.id}: timeline ${tlTransitions.join(' ')} | stream ${facts.join(' ')}`);
  }

  const agentExits = [...agents.values()].map((p) => p.exits.at(-1)?.code ?? 'running');
  result = {
    fault,
    seed,
    n: N,
    image: { file: basename(imageFile), bytes: image.size },
    trigger: { afterLeftBooting: triggerAfter, delayMs: triggerDelayMs },
    injected,
    wallS: Math.round(wallS * 10) / 10,
    deployment: { state: dep.state, counts: final.counts },
    installed,
    failed,
    leases: { nodesWithLease, storeDoubled, holderMismatch, factsDoubled, grantedIps: granted.size },
    timelines: { ok: N - timelineProblems.length, problems: timelineProblems.slice(0, 10) },
    stream: { replicas: info.config.num_replicas, leader: info.cluster?.leader, firstSeq: info.state.first_seq, lastSeq: info.state.last_seq, messages: info.state.messages, read: seqs.length, gaps, factsLost: factsLost.slice(0, 10), factsLostNodes: factsLost.length },
    agentExits: agentExits.filter((c) => c !== 0).length,
    load: [loadAtStart, await load1()],
    unexpectedExits,
    relay: relayStats,
    proxies: proxyStats,
    layout: { redis: SENTINEL ? 'sentinel' : 'single', nats: NATS_CLUSTER ? 'cluster of 3, R3' : 'single' },
  };
} finally {
  stopping = true;
  if (result) process.stdout.write(JSON.stringify(result) + '\n');
  for (const p of agents.values()) await stop(p, 'SIGTERM', 3000).catch(() => undefined);
  await nc.close().catch(() => undefined);
  for (const s of [...services].reverse()) await stop(procs.get(s.name), 'SIGTERM', 5000).catch(() => undefined);
  for (const p of procs.values()) if (/^(redis|sentinel|nats)/.test(p.name)) await stop(p);
  for (const x of proxies) x.close();
  relay.close();
}
// nothing more to do: a client left reconnecting (ioredis' sentinel connections) must not keep the
// process, and with it run.sh's `tail`, waiting until the timeout
process.exit(0);
