import { spawn } from 'node:child_process';
import { mkdir, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SwarmbootError, type TransferStats } from '@swarmboot/contracts';
import { AGENT_RETRY_DELAYS_MS, AgentApiClient, httpRequest, parseHostPort, type HttpAnswer, type Logger } from '@swarmboot/kit';
import { requestLeaseViaRelay } from '@swarmboot/dhcp';
import { tftpGet } from '@swarmboot/tftp';
import { createSyslogSender } from '@swarmboot/logsink';
import { parseBootScript, parseTftpUrl, parseWaitScript, swarmbootArgs } from './boot-script.js';
import { installFromSwarm, reportFailure } from './install.js';

export interface AgentOptions {
  /** the node's MAC (chaddr) — all a freshly booted node knows about itself */
  mac: string;
  /** where the relay forwards DHCP (the dhcp service) */
  dhcpServer: { host: string; port: number };
  /** the relay's address on the node's subnet (RFC 1542 giaddr) */
  giaddr: string;
  /** TFTP port of the next-server for the first-stage boot loader (69 on a real network) */
  tftpPort: number;
  /** RFC 4578 option 93 client architecture: 0 BIOS, 7 EFI x64 (default) */
  arch?: number;
  /** the node's "disk": `root/` (installed system), `image/` (downloaded image), `boot/` (kernel, initrd) */
  workDir: string;
  log: Logger;
  signal?: AbortSignal;
  /** how often to ask whether the deployment released the node (ms, default 1000) */
  releasePollMs?: number;
}

export interface AgentResult {
  nodeId: string;
  deploymentId: string;
  yiaddr: string;
  stats: TransferStats;
}

/**
 * How long the emulated PXE ROM and iPXE keep asking for a lease: a PXE ROM sends DHCPDISCOVER 4
 * times with timeouts of 4, 8, 16 and 32 s (PXE 2.1 §2.2.1), 60 s in all. The relay client's
 * faster retransmissions (0.5 s doubling to 4 s) go on as long; with its default (4 retries, about
 * 17 s) an agent gave up while the dhcp replicas refused every request for the 15 s a Sentinel's
 * demoted master took to resync (bench/faults sentinel-failover, seed 412), where a real node waits.
 */
const PXE_PATIENCE = { timeoutMs: 60_000, retries: 16 };

/**
 * Does what a node's PXE ROM, iPXE and installer do, through the same services a real node uses:
 * DHCP (relayed) → TFTP boot loader → DHCP as iPXE → HTTP boot script → TFTP kernel and initrd →
 * install manifest → signed-manifest check (when the deployment trusts keys) → BitTorrent
 * download → sha256 verify → unpack into `root/` → report →
 * keep seeding until the deployment releases the node. Syslog lines are sent at every stage.
 * Throws SwarmbootError (DHCP_*, TFTP_*, BOOT_SCRIPT_INVALID, IMAGE_NOT_SIGNED, IMAGE_KEY_UNTRUSTED,
 * IMAGE_SIGNATURE_INVALID, IMAGE_MANIFEST_MISMATCH, IMAGE_CORRUPT, UNPACK_FAILED, …)
 * after reporting `failed` when it knows its node.
 */
export async function runAgent(opts: AgentOptions): Promise<AgentResult> {
  const log = opts.log.child({ component: 'agent', chaddr: opts.mac });
  const arch = opts.arch ?? 7;
  const dhcp = { server: opts.dhcpServer, giaddr: opts.giaddr, chaddr: opts.mac, arch, ...PXE_PATIENCE };

  // 1. PXE ROM: DHCP through the relay, then the boot loader named by option 67 over TFTP.
  const pxe = await requestLeaseViaRelay(dhcp);
  log.info({ yiaddr: pxe.yiaddr, bootFile: pxe.bootFile, siaddr: pxe.siaddr }, 'PXE lease');
  const loader = await tftpGet({ host: pxe.siaddr, port: opts.tftpPort, file: pxe.bootFile, blksize: 1432, tsize: true, localAddress: pxe.yiaddr });
  await mkdir(join(opts.workDir, 'boot'), { recursive: true });
  await writeFile(join(opts.workDir, 'boot', pxe.bootFile.replace(/[/\\]/g, '_')), loader.data);

  // 2. iPXE: DHCP again with user class "iPXE" (RFC 3004) → the boot script URL.
  const ipxe = await requestLeaseViaRelay({ ...dhcp, userClass: 'iPXE' });
  if (ipxe.yiaddr !== pxe.yiaddr) log.warn({ first: pxe.yiaddr, second: ipxe.yiaddr }, 'iPXE got another address than the PXE ROM');
  // A node queued behind the deployment's admission gets a script that sleeps and asks again.
  let scriptUrl = ipxe.bootFile;
  let scriptText: string;
  for (;;) {
    const scriptRes = await fetchBootScript(scriptUrl, opts.signal);
    scriptText = scriptRes.body.toString('utf8');
    if (!scriptRes.ok) throw new SwarmbootError('BOOT_SCRIPT_INVALID', `GET ${scriptUrl}: ${scriptRes.status} ${scriptText.slice(0, 200)}`);
    const wait = parseWaitScript(scriptText);
    if (wait === undefined) break;
    log.debug({ seconds: wait.seconds }, 'queued; waiting for admission');
    await sleep(wait.seconds * 1000, undefined, { signal: opts.signal });
    scriptUrl = wait.url;
  }
  const script = parseBootScript(scriptText);

  // 3. Kernel and initrd over TFTP, as iPXE would fetch them.
  const boot: Record<string, number> = {};
  for (const [name, url] of [['linux', script.kernelUrl], ['initrd.gz', script.initrdUrl]] as const) {
    const t = parseTftpUrl(url);
    const got = await tftpGet({ host: t.host, port: t.port, file: t.file, blksize: 1432, tsize: true, windowsize: 8, localAddress: ipxe.yiaddr });
    if (got.tsize !== undefined && got.tsize !== got.data.length) throw new SwarmbootError('TFTP_SHORT', `${url}: tsize ${got.tsize} but got ${got.data.length} bytes`);
    await writeFile(join(opts.workDir, 'boot', name), got.data);
    boot[name] = got.data.length;
  }
  const args = swarmbootArgs(script.cmdline);
  const api = args['api'];
  const nodeId = args['node'];
  const deploymentId = args['deployment'];
  if (!api || !nodeId || !deploymentId) throw new SwarmbootError('BOOT_SCRIPT_INVALID', `kernel command line lacks swarmboot.api/node/deployment: ${script.cmdline.join(' ')}`);
  const nlog = log.child({ nodeId, deploymentId });
  nlog.info({ yiaddr: ipxe.yiaddr, ...boot }, 'kernel and initrd loaded');

  // 4. The "installer" from here on: report, fetch the manifest, log to the sink.
  const client = new AgentApiClient(api, nodeId, deploymentId, opts.signal);
  await client.report({ stage: 'booted' });
  const manifest = await client.manifest();
  const syslog = createSyslogSender({ target: parseHostPort(manifest.syslog, 'syslog target'), localAddress: ipxe.yiaddr, hostname: nodeId, app: 'swarmboot-agent' });
  const say = (severity: number, msg: string): void => syslog.send(severity, msg);
  say(6, `booted ${nodeId} at ${ipxe.yiaddr} (kernel ${boot['linux']} bytes, initrd ${boot['initrd.gz']} bytes)`);
  try {
    // 5. The swarm, sha256, and the image unpacked onto the node's "disk" (a directory); seed until released.
    const root = join(opts.workDir, 'root');
    const stats = await installFromSwarm({
      client,
      manifest,
      imageDir: join(opts.workDir, 'image'),
      log: nlog,
      say,
      signal: opts.signal,
      releasePollMs: opts.releasePollMs,
      write: async (file) => {
        await rm(root, { recursive: true, force: true });
        await mkdir(root, { recursive: true });
        await untar(file, root);
        return `image unpacked into ${root}`;
      },
    });
    return { nodeId, deploymentId, yiaddr: ipxe.yiaddr, stats };
  } catch (err) {
    await reportFailure(client, say, err);
    throw err;
  } finally {
    await syslog.close();
  }
}

/**
 * GET of the iPXE script, sent again after each of AGENT_RETRY_DELAYS_MS when no answer came
 * (refused, reset: a scheduler replica killed under a keep-alive connection, bench/faults) or a
 * gateway answered 502/503/504 — as an iPXE script's `chain … || goto retry` loop does. Resolves
 * with the last response; rejects with httpRequest's error once the delays are used up.
 */
async function fetchBootScript(url: string, signal: AbortSignal | undefined): Promise<HttpAnswer> {
  for (let attempt = 0; ; attempt++) {
    const delay = AGENT_RETRY_DELAYS_MS[attempt];
    try {
      const res = await httpRequest('GET', url, { signal });
      if (delay === undefined || ![502, 503, 504].includes(res.status)) return res;
    } catch (err) {
      if (delay === undefined || signal?.aborted === true) throw err;
    }
    await sleep(delay, undefined, { signal });
  }
}

/**
 * Unpacks a tar image as an installer does: permissions and numeric owners kept (-p
 * --numeric-owner), so `tar --compare` against the image finds no difference. Uses the system
 * tar: device nodes, hard links, xattrs and sparse files are its business, not ours.
 * Rejects with UNPACK_FAILED, also when tar cannot be started (missing, EMFILE).
 */
export function untar(file: string, root: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('tar', ['-x', '-p', '--numeric-owner', '-f', file, '-C', root], { stdio: ['ignore', 'ignore', 'pipe'] });
    // the listener before anything else: on EMFILE Node sets up no stdio (p.stderr is null) and
    // emits 'error' on the next tick, which with no listener yet takes the process down
    p.on('error', (e) => reject(new SwarmbootError('UNPACK_FAILED', `tar: ${e.message}`)));
    let err = '';
    p.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new SwarmbootError('UNPACK_FAILED', `tar exited ${code}: ${err}`))));
  });
}
