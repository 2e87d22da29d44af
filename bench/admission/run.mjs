// One run of bench/admission, inside the run's network namespace (run.sh makes it):
//   node run.mjs <label> <N> <tftpRoot> <image.tar> <workDir> <deployJSON> <deadlineS>
// Starts the whole stack (cli's startStack: nats-server, redis-server, every service on
// 127.0.0.1 with their default ports), registers the image, imports N nodes (the demo's
// demoNode ids and MACs), deploys with <deployJSON> (canary, maxInFlight, …) and emulates N
// machines in ceil(N / 50) forked processes (machines.mjs: the demo's emulated agent).
//
// A machine is powered on when the scheduler admits it (its node goes to `admitted`), as the
// power service's `pxe-boot` does for a real node; a node sent back to `admitted` by a state
// timeout is power-cycled the same way. A paused deployment is resumed at once (the run measures
// the window, not an operator).
//
// Prints one JSON line: makespan (first wave admitted → deployment completed, scheduler clock),
// nodes installed/failed, TFTP retransmissions and failed transfers (the tftp service's
// /metrics), boot-phase retries (machine reboots after a failed boot, scheduler timeouts that
// sent a node back to `admitted`), the waves (time from the first, nodes, window, in flight),
// pauses, and the machines' CPU.
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import { Events } from '@swarmboot/contracts';
import { SwarmbootClient } from '@swarmboot/kit';
import { defaultPorts, startStack } from '../../cli/dist/src/stack.js';
import { demoNode } from '../../cli/dist/src/demo.js';

const [label, nArg, tftpRoot, imageFile, workDir, deployJson, deadlineArg] = process.argv.slice(2);
const N = Number(nArg);
const REBOOT_MS = Number(process.env.REBOOT_S ?? 10) * 1000;
const PER_PROCESS = 50;
const deadline = Date.now() + Number(deadlineArg) * 1000;
const say = (m) => process.stderr.write(`[${label}] ${m}\n`);

const ports = defaultPorts();
const stack = await startStack({ workDir, bind: '127.0.0.1', host: '127.0.0.1', ports, tftpRoot, logLevel: 'warn', say });
const nc = await connect({ servers: `127.0.0.1:${ports.nats}` });
const workers = Array.from({ length: Math.ceil(N / PER_PROCESS) }, () =>
  fork(new URL('./machines.mjs', import.meta.url), [String(ports.dhcp), String(ports.tftp), join(workDir, 'nodes'), String(REBOOT_MS)], { stdio: ['ignore', 2, 2, 'ipc'] }),
);
const waves = [];
const pauses = [];
const tftpFailed = [];
let powerCycles = 0; // the scheduler sent a booted node back to admitted (a state timeout)
let result;

try {
  const api = new SwarmbootClient(stack.apiUrl, stack.seederUrl);
  await api.addImage(imageFile, 'bench');
  while (!(await api.images()).images.some((i) => i.name === 'bench')) await sleep(200);
  const nodes = Array.from({ length: N }, (_, i) => demoNode(i + 1));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  await api.importNodes(nodes);

  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const powerOn = (id) => workers[index.get(id) % workers.length].send({ powerOn: { id, mac: byId.get(id).mac } });

  const sub = (subject, f) => {
    const s = nc.subscribe(subject);
    void (async () => {
      for await (const msg of s) f(msg.json(), Date.now());
    })();
  };
  let dep;
  sub(Events.deploymentWaveAdmitted.subject, (e, t) => waves.push({ t, wave: e.data.wave, nodes: e.data.nodes.length, window: e.data.window, inFlight: e.data.inFlight }));
  sub(Events.deploymentPaused.subject, (e, t) => pauses.push({ t, reason: e.data.reason }));
  sub(Events.tftpTransferFailed.subject, (e) => tftpFailed.push(e.data.error ?? ''));
  sub(Events.nodeStateChanged.subject.replace(/\*$/, '>'), (e) => {
    if (e.data.to !== 'admitted' || !byId.has(e.data.nodeId)) return;
    if (e.data.from !== 'queued') powerCycles++;
    powerOn(e.data.nodeId);
  });
  await nc.flush();

  dep = await api.deploy({ image: 'bench', nodes: nodes.map((n) => n.id), target: 'emulated', ...JSON.parse(deployJson) });
  say(`deployment ${dep.id}: ${N} nodes, ${deployJson}`);
  let last = 0;
  for (;;) {
    dep = await api.deployment(dep.id);
    if (dep.state === 'paused') {
      // the operator resumes at once: the run measures the window, not how fast someone reacts
      say(`paused (${dep.reason}); resuming`);
      await fetch(`${stack.apiUrl}/v1/deployments/${dep.id}/resume`, { method: 'POST' });
      continue;
    }
    if (dep.state !== 'running') break;
    if (Date.now() > deadline) {
      say(`deadline: ${JSON.stringify(dep.counts)}`);
      break;
    }
    if (Date.now() - last > 10_000) {
      last = Date.now();
      say(`${JSON.stringify(dep.counts)} window ${dep.admission?.window} waves ${dep.admission?.waves}`);
    }
    await sleep(500);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${ports.ops.tftp}/metrics`)).text();
  const metric = (re) => [...metrics.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);
  const t0 = waves[0]?.t ?? Date.now();
  const counts = dep.counts;
  const reasons = {};
  for (const n of dep.nodes) if (n.state === 'failed') reasons[(n.reason ?? '?').split(':')[0]] = (reasons[(n.reason ?? '?').split(':')[0]] ?? 0) + 1;
  result = {
      label,
      n: N,
      deploy: JSON.parse(deployJson),
      state: dep.state,
      // scheduler's clock for both ends; the event's arrival (this process) is within ms of it
      makespanS: dep.completedAt ? (Date.parse(dep.completedAt) - t0) / 1000 : null,
      installed: (counts.installed ?? 0) + (counts.released ?? 0),
      failed: counts.failed ?? 0,
      counts,
      failedReasons: reasons,
      tftp: {
        completed: metric(/^swarmboot_tftp_transfers_total\{result="completed"\} (\S+)$/gm),
        failed: metric(/^swarmboot_tftp_transfers_total\{result="failed"\} (\S+)$/gm),
        retransmissions: metric(/^swarmboot_tftp_retransmissions_total (\S+)$/gm),
        sentBytes: metric(/^swarmboot_tftp_sent_bytes_total (\S+)$/gm),
        failedEvents: tftpFailed.length,
        failedErrors: [...new Set(tftpFailed)].slice(0, 3),
      },
      powerCycles,
      pauses,
      waves: waves.map((w) => ({ ...w, t: Math.round((w.t - t0) / 100) / 10 })),
  };
  await api.release(dep.id).catch(() => undefined);
} finally {
  const stopped = await Promise.all(
    workers.map((w) => new Promise((resolve) => {
      w.once('message', (m) => resolve(m.stopped));
      w.once('exit', () => resolve(undefined));
      w.send({ stop: true });
    })),
  );
  const sum = (k) => stopped.reduce((s, x) => s + (x?.[k] ?? 0), 0);
  if (result) process.stdout.write(JSON.stringify({ ...result, boots: sum('boots'), reboots: sum('reboots'), machinesCpuS: Math.round(sum('cpuS') * 10) / 10 }) + '\n');
  await nc.close();
  await stack.stop();
}
