// One run of bench/admission, inside the run's network namespace (run.sh makes it):
//   node run.mjs <label> <N> <tftpRoot> <image.tar> <workDir> <deployJSON> <deadlineS>
// Starts the whole stack (cli's startStack: nats-server, redis-server, every service on
// 127.0.0.1 with their default ports), registers the image, imports N nodes (the demo's
// demoNode ids and MACs), deploys with <deployJSON> (canary, maxInFlight, …) and emulates N
// machines in this one process: the demo's emulated agent (runAgent: relayed DHCP, TFTP boot
// loader, iPXE DHCP, boot script, TFTP kernel and initrd, swarm, report), one async task each.
//
// A machine is powered on when the scheduler admits it (its node goes to `admitted`), as the
// power service's `pxe-boot` does for a real node; a node sent back to `admitted` by a state
// timeout is power-cycled the same way. A machine whose boot fails before it knows its node
// (DHCP or TFTP gave up) retries PXE after REBOOT_S seconds, as a BIOS with boot-sequence retry
// does; one whose install failed stays off (the scheduler has marked it failed).
//
// Prints one JSON line: makespan (first wave admitted → deployment completed, scheduler clock),
// nodes installed/failed, TFTP retransmissions and failed transfers (the tftp service's
// /metrics), boot-phase retries (machine reboots after a failed boot, scheduler timeouts that
// sent a node back to `admitted`), the waves (time from the first, nodes, window, in flight),
// pauses, and the driver's own CPU (all N machines).
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import { Events, SwarmbootError } from '@swarmboot/contracts';
import { createLogger, SwarmbootClient } from '@swarmboot/kit';
import { runAgent } from '@swarmboot/agent';
import { defaultPorts, startStack } from '../../cli/dist/src/stack.js';
import { demoNode } from '../../cli/dist/src/demo.js';

const [label, nArg, tftpRoot, imageFile, workDir, deployJson, deadlineArg] = process.argv.slice(2);
const N = Number(nArg);
const REBOOT_MS = Number(process.env.REBOOT_S ?? 10) * 1000;
const deadline = Date.now() + Number(deadlineArg) * 1000;
const say = (m) => process.stderr.write(`[${label}] ${m}\n`);
const log = createLogger('bench-admission', 'warn');

const ports = defaultPorts();
const stack = await startStack({ workDir, bind: '127.0.0.1', host: '127.0.0.1', ports, tftpRoot, logLevel: 'warn', say });
const nc = await connect({ servers: `127.0.0.1:${ports.nats}` });
const machines = new Map(); // node id → { ctl: AbortController, boots, run: Promise }
const waves = [];
const pauses = [];
const tftpFailed = [];
let reboots = 0; // a machine retried PXE after its own failed boot
let powerCycles = 0; // the scheduler sent a booted node back to admitted (a state timeout)
let stopping = false;

try {
  const api = new SwarmbootClient(stack.apiUrl, stack.seederUrl);
  await api.addImage(imageFile, 'bench');
  while (!(await api.images()).images.some((i) => i.name === 'bench')) await sleep(200);
  const nodes = Array.from({ length: N }, (_, i) => demoNode(i + 1));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  await api.importNodes(nodes);

  const powerOn = (id) => {
    const m = machines.get(id) ?? { boots: 0 };
    m.ctl?.abort(); // a power cycle: the running boot is cut
    const ctl = new AbortController();
    m.ctl = ctl;
    machines.set(id, m);
    const n = byId.get(id);
    const dir = join(workDir, 'nodes', id);
    m.run = (async () => {
      while (!ctl.signal.aborted && !stopping) {
        m.boots++;
        try {
          await runAgent({ mac: n.mac, dhcpServer: { host: '127.0.0.1', port: ports.dhcp }, giaddr: '127.77.0.1', tftpPort: ports.tftp, workDir: dir, log, signal: ctl.signal });
          return;
        } catch (err) {
          if (ctl.signal.aborted || stopping) return;
          // an install that failed was reported (the node is failed): the machine stays off
          if (!(err instanceof SwarmbootError) || !/^(DHCP_|TFTP_)/.test(err.code)) return;
          reboots++;
          await sleep(REBOOT_MS, undefined, { signal: ctl.signal }).catch(() => undefined);
        }
      }
    })();
  };

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

  const cpu0 = process.cpuUsage();
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
  const cpu = process.cpuUsage(cpu0);
  const metrics = await (await fetch(`http://127.0.0.1:${ports.ops.tftp}/metrics`)).text();
  const metric = (re) => [...metrics.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);
  const t0 = waves[0]?.t ?? Date.now();
  const counts = dep.counts;
  const boots = [...machines.values()].reduce((s, m) => s + m.boots, 0);
  const reasons = {};
  for (const n of dep.nodes) if (n.state === 'failed') reasons[(n.reason ?? '?').split(':')[0]] = (reasons[(n.reason ?? '?').split(':')[0]] ?? 0) + 1;
  process.stdout.write(
    JSON.stringify({
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
      boots,
      reboots,
      powerCycles,
      pauses,
      waves: waves.map((w) => ({ ...w, t: Math.round((w.t - t0) / 100) / 10 })),
      driverCpuS: Math.round((cpu.user + cpu.system) / 1e4) / 100,
    }) + '\n',
  );
  await api.release(dep.id).catch(() => undefined);
} finally {
  stopping = true;
  for (const m of machines.values()) m.ctl?.abort();
  await Promise.race([Promise.all([...machines.values()].map((m) => m.run)), sleep(10_000)]);
  await nc.close();
  await stack.stop();
}
