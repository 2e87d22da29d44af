// A share of bench/admission's emulated machines, forked by run.mjs with an IPC channel (one
// process cannot hold all 200: each machine's swarm has up to 60 peer connections, both ends in
// the bench's processes, and the fd limit here is 20,000).
//   messages in:  {powerOn: {id, mac}} (power on, or power-cycle a running machine), {stop: true}
//   message out:  {stopped: {boots, reboots, cpuS}} after stop, then the process exits
// A machine runs the demo's emulated agent (runAgent). One whose boot fails before it knows its
// node (DHCP or TFTP gave up: DHCP_* or TFTP_*) PXE-boots again after REBOOT_MS, as a BIOS with
// boot-sequence retry does; one whose install failed stays off (the scheduler marked it failed).
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SwarmbootError } from '@swarmboot/contracts';
import { createLogger } from '@swarmboot/kit';
import { runAgent } from '@swarmboot/agent';

const [dhcpPort, tftpPort, workDir, rebootMs] = process.argv.slice(2);
const log = createLogger('bench-machine', 'warn');
const machines = new Map(); // node id → { ctl, run }
let boots = 0;
let reboots = 0;
let stopping = false;

function powerOn({ id, mac }) {
  const m = machines.get(id) ?? {};
  m.ctl?.abort(); // a power cycle cuts the running boot
  const ctl = new AbortController();
  m.ctl = ctl;
  machines.set(id, m);
  m.run = (async () => {
    while (!ctl.signal.aborted && !stopping) {
      boots++;
      try {
        await runAgent({ mac, dhcpServer: { host: '127.0.0.1', port: Number(dhcpPort) }, giaddr: '127.77.0.1', tftpPort: Number(tftpPort), workDir: join(workDir, id), log, signal: ctl.signal });
        return;
      } catch (err) {
        if (ctl.signal.aborted || stopping) return;
        if (!(err instanceof SwarmbootError) || !/^(DHCP_|TFTP_)/.test(err.code)) return;
        reboots++;
        await sleep(Number(rebootMs), undefined, { signal: ctl.signal }).catch(() => undefined);
      }
    }
  })();
}

process.on('message', async (msg) => {
  if (msg.powerOn) powerOn(msg.powerOn);
  if (msg.stop) {
    stopping = true;
    for (const m of machines.values()) m.ctl.abort();
    await Promise.race([Promise.all([...machines.values()].map((m) => m.run)), sleep(10_000)]);
    const cpu = process.cpuUsage();
    process.send({ stopped: { boots, reboots, cpuS: (cpu.user + cpu.system) / 1e6 } }, () => process.exit(0));
  }
});
