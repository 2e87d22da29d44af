import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { copyFile, link, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DemoNet, SwarmbootError, type Deployment, type ImageRecord, type Node } from '@swarmboot/contracts';
import { SwarmbootClient } from '@swarmboot/kit';
import { CLI_ENTRY, SERVICES, startStack, type StackPorts } from './stack.js';
import { assetPaths, ensureAssets } from './assets.js';

export interface DemoOptions {
  nodes: number;
  /** keep everything here: DIR/nodes/<id>/root, DIR/image/, DIR/logs/ (default: a temp dir, removed after a clean run) */
  work?: string | undefined;
  /** image tarball (default: the cached Debian 12 minbase tarball) */
  image?: string | undefined;
  /** seeder upload cap, bytes/s; the swarm is there to carry the rest (default 20 MB/s) */
  seederUploadLimit?: number;
  /** give up after this long (ms, default 30 min) */
  timeoutMs?: number;
  natsUrl?: string | undefined;
  redisUrl?: string | undefined;
  say: (msg: string) => void;
  /**
   * Watches the run from outside (the dashboard's browser test): called once the deployment is
   * created, before its agents start; awaited after the deployment finished and before it is
   * released, so the stack is still up. Its error fails the demo.
   */
  observe?: (run: { apiUrl: string; deploymentId: string; nodeIds: string[] }) => Promise<void>;
}

export interface DemoSummary {
  nodes: number;
  installed: number;
  failed: number;
  failures: { node: string; reason: string }[];
  deploymentId: string;
  /** from the deployment's creation to its completion (ms) */
  wallTimeMs: number;
  image: { name: string; file: string; bytes: number; sha256: string; infoHash: string; pieceLength: number };
  throughput: {
    /** image bytes installed on all nodes / wall time (bytes/s) */
    aggregateBytesPerSec: number;
    /** image size / each node's download time (bytes/s) */
    perNodeBytesPerSec: { mean: number; min: number; max: number };
  };
  bytes: { fromSeeder: number; fromPeers: number; fromWebSeed: number; peerShare: number };
  logLines: { total: number; nodesWithLines: number };
  workDir: string;
}

/**
 * `count` distinct free loopback ports: every listener stays open until all are bound, so no
 * number is handed out twice (closing each before the next bind let the kernel reuse one).
 */
async function freePortsDistinct(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<Server>((res, rej) => {
        const s = createServer();
        s.once('error', rej);
        s.listen(0, '127.0.0.1', () => res(s));
      }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    return typeof a === 'object' && a ? a.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Free loopback ports for every part of a stack (nats, redis, each service and its ops endpoint). */
export async function freePorts(): Promise<StackPorts> {
  const p = await freePortsDistinct(11 + SERVICES.length);
  const next = (): number => p.shift()!;
  const ops = {} as StackPorts['ops'];
  for (const s of SERVICES) ops[s] = next();
  return { nats: next(), redis: next(), dhcp: next(), tftp: next(), tracker: next(), seeder: next(), seederTorrent: next(), scheduler: next(), syslog: next(), syslogTcp: next(), netconsole: next(), ops };
}

/** Node i (1-based) of the demo: id, a locally administered MAC (02:…), hostname = id. */
export function demoNode(i: number): { id: string; mac: string; hostname: string; labels: Record<string, string> } {
  const id = `node-${String(i).padStart(3, '0')}`;
  const mac = ['02', '5b', '00', '00', ((i >> 8) & 255).toString(16).padStart(2, '0'), (i & 255).toString(16).padStart(2, '0')].join(':');
  return { id, mac, hostname: id, labels: { rack: `r${Math.ceil(i / 16)}`, demo: 'true' } };
}

/** Bytes as decimal megabytes for the summaries (`12.3 MB`). */
export const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/**
 * The main job on one machine: starts the stack, registers the image with the seeder, imports N
 * emulated nodes and creates a deployment through the public API as a ticketing system would,
 * runs N agents (each a `swarmboot agent` process going through DHCP, TFTP, the swarm and the
 * log sink), waits for the deployment to finish, releases it and returns the summary.
 */
export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 1000) throw new SwarmbootError('DEMO_INVALID', `--nodes must be 1..1000 (got ${o.nodes})`);
  const keep = o.work !== undefined;
  const workDir = resolve(o.work ?? (await mkdtemp(join(tmpdir(), 'swarmboot-demo-'))));
  await mkdir(workDir, { recursive: true });
  await ensureAssets({ sampleOnly: o.image !== undefined, say: o.say });
  const assets = assetPaths();
  const imageFile = resolve(o.image ?? assets.debianImage);
  if (!existsSync(imageFile)) throw new SwarmbootError('DEMO_INVALID', `image ${imageFile} does not exist`);
  const imageName = basename(imageFile).replace(/\.tar$/, '').replace(/[^A-Za-z0-9._-]/g, '-');

  // DIR/image/ holds the image anyone can compare the nodes against.
  await mkdir(join(workDir, 'image'), { recursive: true });
  const imageCopy = join(workDir, 'image', basename(imageFile));
  await rm(imageCopy, { force: true });
  await link(imageFile, imageCopy).catch(() => copyFile(imageFile, imageCopy));

  o.say(`starting the stack in ${workDir} (logs in ${join(workDir, 'logs')})`);
  const ports = await freePorts();
  const stack = await startStack({
    workDir, bind: '127.0.0.1', host: '127.0.0.1', ports, tftpRoot: assets.tftpRoot, natsUrl: o.natsUrl, redisUrl: o.redisUrl,
    env: { SWARMBOOT_SEEDER_UPLOAD_LIMIT: String(o.seederUploadLimit ?? 20_000_000) }, say: o.say,
  });
  const agents: ChildProcess[] = [];
  try {
    const api = new SwarmbootClient(stack.apiUrl, stack.seederUrl);
    const size = (await stat(imageFile)).size;
    o.say(`registering image ${imageName} (${mb(size)}): upload, sha256, .torrent, seeding`);
    const image = await api.addImage(imageFile, imageName);
    await waitUntil('the scheduler to list the image', async () => (await api.images()).images.some((i) => i.name === imageName), 30_000);

    const nodes = Array.from({ length: o.nodes }, (_, i) => demoNode(i + 1));
    await api.importNodes(nodes);
    const created = await api.deploy({ image: imageName, nodes: nodes.map((n) => n.id), target: 'emulated' });
    const t0 = Date.now();
    o.say(`deployment ${created.id}: ${o.nodes} nodes, starting ${o.nodes} agents`);
    const observing = o.observe?.({ apiUrl: stack.apiUrl, deploymentId: created.id, nodeIds: nodes.map((n) => n.id) });
    // awaited below; should the run fail first, its error is the one reported
    observing?.catch(() => undefined);

    await mkdir(join(workDir, 'logs', 'agents'), { recursive: true });
    for (const n of nodes) {
      const out = createWriteStream(join(workDir, 'logs', 'agents', `${n.id}.log`));
      const p = spawn(process.execPath, [CLI_ENTRY, 'agent'], {
        env: {
          ...process.env,
          SWARMBOOT_AGENT_MAC: n.mac,
          SWARMBOOT_AGENT_DHCP: `127.0.0.1:${ports.dhcp}`,
          SWARMBOOT_AGENT_GIADDR: DemoNet.relay,
          SWARMBOOT_AGENT_TFTP_PORT: String(ports.tftp),
          SWARMBOOT_AGENT_WORK: join(workDir, 'nodes', n.id),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      p.stdout?.pipe(out);
      p.stderr?.pipe(out);
      agents.push(p);
    }

    const deadline = t0 + (o.timeoutMs ?? 30 * 60_000);
    let dep: Deployment = created;
    let lastLine = 0;
    for (;;) {
      dep = await api.deployment(created.id);
      if (dep.state !== 'running') break;
      if (Date.now() > deadline) throw new SwarmbootError('DEMO_TIMEOUT', `deployment ${dep.id} not finished after ${Math.round((Date.now() - t0) / 1000)} s`);
      const dead = await Promise.race([stack.died, sleep(1000).then(() => undefined)]);
      if (dead) throw new SwarmbootError('DEMO_SERVICE_DIED', `service ${dead} died during the demo; see ${join(workDir, 'logs', `${dead}.log`)}`);
      if (Date.now() - lastLine >= 3000) {
        lastLine = Date.now();
        o.say(progressLine(dep, (Date.now() - t0) / 1000));
      }
    }
    const wallTimeMs = (dep.completedAt ? Date.parse(dep.completedAt) : Date.now()) - t0;
    o.say(progressLine(dep, wallTimeMs / 1000));

    let total = 0;
    let nodesWithLines = 0;
    for (const n of nodes) {
      const got = (await api.logs(n.id, undefined, 10_000)).lines.length;
      total += got;
      if (got > 0) nodesWithLines++;
    }

    await observing;
    await api.release(dep.id);
    await Promise.race([Promise.all(agents.map((a) => (a.exitCode !== null ? undefined : new Promise((r) => a.once('exit', r))))), sleep(30_000)]);
    return summarize(dep, image, wallTimeMs, { total, nodesWithLines }, workDir);
  } finally {
    await stopAll(agents);
    await stack.stop();
    if (!keep) await rm(workDir, { recursive: true, force: true });
  }
}

/** SIGTERM, then SIGKILL after 5 s for an agent whose event loop is too busy to handle it. */
async function stopAll(procs: ChildProcess[]): Promise<void> {
  const running = procs.filter((p) => p.exitCode === null && p.signalCode === null);
  for (const p of running) p.kill('SIGTERM');
  await Promise.race([Promise.all(running.map((p) => new Promise((r) => p.once('exit', r)))), sleep(5000)]);
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

function progressLine(dep: Deployment, seconds: number): string {
  const c = dep.counts;
  const installing = dep.nodes.filter((n) => n.state === 'installing' && n.progress && n.progress.total > 0);
  const pct = installing.length ? Math.round((100 * installing.reduce((s, n) => s + n.progress!.bytes / n.progress!.total, 0)) / installing.length) : 0;
  const parts = Object.entries(c)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`);
  return `[${seconds.toFixed(0).padStart(4)} s] ${parts.join(', ')}${installing.length ? ` (downloads at ${pct}% on average)` : ''}`;
}

function summarize(dep: Deployment, image: ImageRecord, wallTimeMs: number, logLines: DemoSummary['logLines'], workDir: string): DemoSummary {
  const done = dep.nodes.filter((n: Node) => n.state === 'installed' || n.state === 'released');
  const failed = dep.nodes.filter((n) => n.state === 'failed');
  const rates = done.filter((n) => n.stats && n.stats.downloadMs > 0).map((n) => image.size / (n.stats!.downloadMs / 1000));
  const sum = (f: (n: Node) => number) => dep.nodes.reduce((s, n) => s + (n.stats ? f(n) : 0), 0);
  const fromSeeder = sum((n) => n.stats!.bytesFromSeeder);
  const fromPeers = sum((n) => n.stats!.bytesFromPeers);
  const fromWebSeed = sum((n) => n.stats!.bytesFromWebSeed);
  const all = fromSeeder + fromPeers + fromWebSeed;
  return {
    nodes: dep.nodes.length,
    installed: done.length,
    failed: failed.length,
    failures: failed.map((n) => ({ node: n.id, reason: n.reason ?? 'unknown' })),
    deploymentId: dep.id,
    wallTimeMs,
    image: { name: image.name, file: image.file, bytes: image.size, sha256: image.sha256, infoHash: image.infoHash, pieceLength: image.pieceLength },
    throughput: {
      aggregateBytesPerSec: wallTimeMs > 0 ? (done.length * image.size) / (wallTimeMs / 1000) : 0,
      perNodeBytesPerSec: {
        mean: rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : 0,
        min: rates.length ? Math.min(...rates) : 0,
        max: rates.length ? Math.max(...rates) : 0,
      },
    },
    bytes: { fromSeeder, fromPeers, fromWebSeed, peerShare: all > 0 ? fromPeers / all : 0 },
    logLines,
    workDir,
  };
}

/** The summary as a person reads it. */
export function formatSummary(s: DemoSummary, kept: boolean): string {
  const pn = s.throughput.perNodeBytesPerSec;
  const lines = [
    `swarmboot demo: ${s.nodes} nodes, image ${s.image.name} (${mb(s.image.bytes)}, ${s.image.pieceLength / 1024} KiB pieces)`,
    `  installed ${s.installed}, failed ${s.failed}, wall time ${(s.wallTimeMs / 1000).toFixed(1)} s`,
    `  throughput: aggregate ${mb(s.throughput.aggregateBytesPerSec)}/s; per node mean ${mb(pn.mean)}/s (min ${mb(pn.min)}/s, max ${mb(pn.max)}/s)`,
    `  bytes the nodes got: from each other ${mb(s.bytes.fromPeers)} (${(100 * s.bytes.peerShare).toFixed(0)}%), from the seeder ${mb(s.bytes.fromSeeder)}, from the web seed ${mb(s.bytes.fromWebSeed)}`,
    `  syslog lines stored: ${s.logLines.total} from ${s.logLines.nodesWithLines} nodes`,
    ...s.failures.map((f) => `  FAILED ${f.node}: ${f.reason}`),
  ];
  if (kept) lines.push(`  nodes' roots: ${s.workDir}/nodes/<node-id>/root; image: ${s.workDir}/image/${s.image.file}`);
  return lines.join('\n');
}

/** Polls `check` every 200 ms until it is true; throws DEMO_TIMEOUT naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new SwarmbootError('DEMO_TIMEOUT', `timed out waiting for ${what}`);
    await sleep(200);
  }
}
