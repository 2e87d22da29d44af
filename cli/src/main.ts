#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { Value } from '@sinclair/typebox/value';
import { isSwarmbootError, LogLine, PowerAction, SwarmbootError, TimelineSource, type AfterInstall, type Deployment, type DeploymentTarget, type ImageFormat } from '@swarmboot/contracts';
import { createLogger, parsePublicKeys, SwarmbootClient } from '@swarmboot/kit';
import { formatSummary, runDemo } from './demo.js';
import { formatVmSummary, runVmDemo } from './demo-vms.js';
import { BrokenBoots, type BrokenBoot } from './broken-boot.js';
import { defaultPorts, SERVICES, startStack } from './stack.js';
import { assetPaths } from './assets.js';
import { errorExitCode } from './exit-codes.js';
import { formatLogLine, formatTimeline, printable } from './timeline.js';
import { formatCounts, watchDeployment } from './watch.js';
import { requestPower } from './power.js';
import { readSigningKey, signRecord, writeKeyPair } from './image-sign.js';

/** Each service's `main(env)`, loaded on demand so `swarmboot tftp` does not load webtorrent. */
const serviceMains: Record<(typeof SERVICES)[number] | 'agent', () => Promise<(env: NodeJS.ProcessEnv) => Promise<void>>> = {
  dhcp: async () => (await import('@swarmboot/dhcp')).main,
  tftp: async () => (await import('@swarmboot/tftp')).main,
  tracker: async () => (await import('@swarmboot/tracker')).main,
  seeder: async () => (await import('@swarmboot/seeder')).main,
  scheduler: async () => (await import('@swarmboot/scheduler')).main,
  logsink: async () => (await import('@swarmboot/logsink')).main,
  power: async () => (await import('@swarmboot/power')).main,
  agent: async () => (await import('@swarmboot/agent')).main,
};

const int = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer ${min}..${max}`);
  return n;
};
const num = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number ${min}..${max}`);
  return n;
};
const timelineSources = (v: string): TimelineSource[] => {
  const names = v.split(',').map((x) => x.trim());
  const known: readonly string[] = Object.values(TimelineSource);
  const unknown = names.filter((x) => !known.includes(x));
  if (unknown.length > 0) throw new InvalidArgumentError(`unknown source ${unknown.join(', ')}; known: ${known.join(', ')}`);
  return names as TimelineSource[];
};
const say = (m: string): void => void process.stderr.write(`${m}\n`);
const apiOpt = () => new Option('--api <url>', 'scheduler API URL').env('SWARMBOOT_API_URL').default('http://127.0.0.1:8080');
const tokenOpt = () => new Option('--token <token>', 'bearer token of the API (a line of the servers\' SWARMBOOT_TOKENS_FILE); prefer the variable, a flag shows in ps').env('SWARMBOOT_TOKEN');
/** Options of every command that calls the API. */
interface ApiOptions {
  api: string;
  seeder?: string;
  token?: string;
}
const seederOpt = () => new Option('--seeder <url>', 'seeder URL').env('SWARMBOOT_SEEDER_URL').default('http://127.0.0.1:8001');
const client = (o: ApiOptions) => new SwarmbootClient(o.api.replace(/\/$/, ''), (o.seeder ?? 'http://127.0.0.1:8001').replace(/\/$/, ''), { token: o.token });

const program = new Command('swarmboot')
  .description('Install an operating system onto hundreds of bare-metal nodes at once: PXE, a BitTorrent swarm, a REST scheduler.')
  .showHelpAfterError();

for (const svc of [...SERVICES, 'agent'] as const) {
  const cmd = program
    .command(svc)
    .description(svc === 'agent' ? 'run the node agent (one emulated node), configured by SWARMBOOT_AGENT_* env' : `run the ${svc} service, configured by SWARMBOOT_* env (see README)`);
  if (svc === 'dhcp') {
    // standalone DHCP / proxyDHCP server: services/dhcp/README.md documents the file
    cmd
      .option('--config <file>', 'JSON or YAML config file (SWARMBOOT_DHCP_CONFIG)')
      .option('--redis <url>', 'Redis URL (SWARMBOOT_REDIS_URL)')
      .option('--nats <url>', "NATS URL, or 'none' to run without events (SWARMBOOT_NATS_URL)");
  } else if (svc === 'power') {
    // `swarmboot power` runs the service; `swarmboot power NODE ACTION` asks it (over NATS) and waits
    const actions = Object.values(PowerAction);
    cmd
      .description(`run the power service (SWARMBOOT_POWER_* env, see README); with NODE and ACTION (${actions.join('|')}): ask it to act on the node's BMC and wait for the result`)
      .argument('[node]', 'node id (its BMC is in the power service’s SWARMBOOT_POWER_BMCS)')
      .addArgument(new Argument('[action]', 'what to do to the node').choices(actions))
      .option('--nats <url>', 'NATS URL (SWARMBOOT_NATS_URL)')
      .option('--timeout <s>', 'seconds to wait for the result', int('--timeout', 1, 3600), 120)
      .action(async (node: string | undefined, action: string | undefined, o: { nats?: string; timeout: number }) => {
        const env = { ...process.env, ...(o.nats === undefined ? {} : { SWARMBOOT_NATS_URL: o.nats }) };
        if (node === undefined) return (await serviceMains.power())(env);
        if (action === undefined) return cmd.error(`swarmboot power ${node}: which ACTION? (${actions.join(', ')})`);
        const natsUrl = env['SWARMBOOT_NATS_URL'] ?? 'nats://127.0.0.1:4222';
        const r = await requestPower(natsUrl, node, action as PowerAction, o.timeout * 1000, createLogger('cli', 'warn'));
        const d = r.data;
        if (r.kind === 'completed') say(`${d.nodeId}: ${d.action} done via ${d.driver} (power was ${r.data.powerState}; ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}, ${Math.round(d.durationMs)} ms)`);
        else {
          say(`${d.nodeId}: ${d.action} failed: ${r.data.code}: ${r.data.message} (${d.attempts} attempts)`);
          process.exitCode = 1;
        }
      });
    continue;
  } else if (svc === 'tftp') {
    // standalone TFTP server: with --root, no NATS and no events unless --nats is given
    cmd
      .option('--root <dir>', 'served directory (SWARMBOOT_TFTP_ROOT); runs standalone, without NATS, unless --nats is given')
      .option('--listen <addr:port>', 'UDP listen address (SWARMBOOT_TFTP_LISTEN)')
      .option('--rate <bytes/s>', 'total send budget, 0 = unpaced (SWARMBOOT_TFTP_RATE)')
      .option('--max-transfers <n>', 'transfers sending at once, 0 = no limit (SWARMBOOT_TFTP_MAX_TRANSFERS)')
      .option('--ops <addr:port>', '/healthz and /metrics (SWARMBOOT_OPS_LISTEN)')
      .option('--nats <url>', "NATS URL, or 'none' to run without events (SWARMBOOT_NATS_URL)");
  }
  cmd.action(async (o: { config?: string; redis?: string; nats?: string; root?: string; listen?: string; rate?: string; maxTransfers?: string; ops?: string }) => {
    const env = { ...process.env };
    if (svc === 'tftp') {
      if (o.root !== undefined) {
        env['SWARMBOOT_TFTP_ROOT'] = resolve(o.root);
        if (o.nats === undefined) env['SWARMBOOT_TFTP_EVENTS'] = 'off';
        // standalone: keep the ops endpoint off the machine's interfaces unless asked
        env['SWARMBOOT_OPS_LISTEN'] ??= '127.0.0.1:0';
      }
      if (o.listen !== undefined) env['SWARMBOOT_TFTP_LISTEN'] = o.listen;
      if (o.rate !== undefined) env['SWARMBOOT_TFTP_RATE'] = o.rate;
      if (o.maxTransfers !== undefined) env['SWARMBOOT_TFTP_MAX_TRANSFERS'] = o.maxTransfers;
      if (o.ops !== undefined) env['SWARMBOOT_OPS_LISTEN'] = o.ops;
    }
    if (o.config !== undefined) env['SWARMBOOT_DHCP_CONFIG'] = resolve(o.config);
    if (o.redis !== undefined) env['SWARMBOOT_REDIS_URL'] = o.redis;
    if (o.nats !== undefined) env['SWARMBOOT_NATS_URL'] = o.nats;
    const main = await serviceMains[svc]();
    await main(env);
  });
}

program
  .command('up')
  .description('run every service on this machine (starts nats-server and redis-server when no URL is configured)')
  .option('--work <dir>', 'state, data and logs', './swarmboot-data')
  .option('--host <addr>', 'address nodes and clients use to reach the services', '127.0.0.1')
  .option('--bind <addr>', 'address the services listen on', '0.0.0.0')
  .option('--tftp-root <dir>', 'TFTP root (boot loaders, kernel, initrd)', assetPaths().tftpRoot)
  .addOption(new Option('--bootenv <dir>', 'the install environment real nodes boot (scripts/build-bootenv.sh)').env('SWARMBOOT_BOOTENV_DIR').default(assetPaths().bootenvDir))
  .action(async (o: { work: string; host: string; bind: string; tftpRoot: string; bootenv: string }) => {
    const stack = await startStack({
      workDir: resolve(o.work), bind: o.bind, host: o.host, ports: defaultPorts(), tftpRoot: resolve(o.tftpRoot),
      natsUrl: process.env['SWARMBOOT_NATS_URL'], redisUrl: process.env['SWARMBOOT_REDIS_URL'], say,
      env: { SWARMBOOT_BOOTENV_DIR: resolve(o.bootenv) },
    });
    if (!existsSync(join(o.bootenv, 'initrd.img'))) say(`no install environment in ${resolve(o.bootenv)}: deployments to real nodes are refused until \`swarmboot bootenv build\` made it`);
    say(`swarmboot is up: API ${stack.apiUrl}/v1 (OpenAPI at /v1/openapi.json, Swagger UI at /docs), seeder ${stack.seederUrl}; logs in ${resolve(o.work, 'logs')}. Ctrl-C stops.`);
    const stopped = new Promise<string>((r) => {
      process.once('SIGINT', () => r('SIGINT'));
      process.once('SIGTERM', () => r('SIGTERM'));
    });
    const why = await Promise.race([stopped, stack.died.then((s) => `${s} died`)]);
    say(`stopping (${why})`);
    await stack.stop();
    if (why.endsWith('died')) process.exitCode = 1;
  });

program
  .command('bootenv')
  .description('the install environment real nodes boot (kernel + initramfs with the agent)')
  .command('build')
  .description(`build it from Debian 12 packages into ${assetPaths().bootenvDir} (scripts/build-bootenv.sh; skipped when up to date)`)
  .option('--force', 'build even when up to date')
  .option('--out <dir>', 'where to put vmlinuz, initrd.img and manifest.json')
  .action(async (o: { force?: boolean; out?: string }) => {
    const script = fileURLToPath(new URL('../../../scripts/build-bootenv.sh', import.meta.url));
    const code = await new Promise<number | null>((res) => {
      spawn('bash', [script, ...(o.force ? ['--force'] : []), ...(o.out ? ['--out', resolve(o.out)] : [])], { stdio: 'inherit' }).on('exit', res);
    });
    if (code !== 0) process.exitCode = 1;
  });

program
  .command('demo')
  .description('start the stack and install a real Debian 12 image onto N emulated nodes (--nodes) or N qemu VMs that PXE-boot, write their disks and boot them (--vms), end to end')
  .option('--nodes <n>', 'emulated nodes', int('--nodes', 1, 1000), 10)
  .option('--vms <n>', 'qemu VMs instead of emulated nodes (root: network namespace, taps)', int('--vms', 1, 32))
  .option('--uefi', 'with --vms: OVMF firmware instead of SeaBIOS')
  .option('--memory <MiB>', 'with --vms: RAM of each VM', int('--memory', 256, 65536), 2048)
  .option('--disk-size <GiB>', 'with --vms: empty sparse disk of each VM', int('--disk-size', 1, 1024), 4)
  .option('--kvm', 'with --vms: -accel kvm instead of tcg')
  .option('--skip-disk-check', 'with --vms: do not boot each installed disk again alone, without network')
  .addOption(new Option('--after-install <action>', 'with --vms: reboot through the firmware, or kexec into the installed kernel').choices(['reboot', 'kexec']).default('reboot'))
  .addOption(new Option('--break <kind>', `with --vms: break every VM's install on purpose (${Object.entries(BrokenBoots).map(([k, v]) => `${k}: ${v.code}`).join(', ')})`).choices(Object.keys(BrokenBoots)))
  .option('--bootenv <dir>', 'with --vms: the install environment (default: the cached one, built by `swarmboot bootenv build` when missing)')
  .option('--work <dir>', 'keep nodes roots (DIR/nodes/<id>/root) or VM disks and consoles (DIR/vms/<id>/), the image (DIR/image/) and logs here')
  .option('--image <file>', 'image (default: the cached debootstrap minbase tarball; with --vms the bootable image)')
  .option('--seeder-upload-limit <bytes>', "seeder's upload cap, bytes/s", int('--seeder-upload-limit', 0, 2 ** 40), 20_000_000)
  .option('--json', 'print the summary as one JSON object')
  .action(async (o: { nodes: number; vms?: number; uefi?: boolean; memory: number; diskSize: number; kvm?: boolean; skipDiskCheck?: boolean; afterInstall: AfterInstall; break?: BrokenBoot; bootenv?: string; work?: string; image?: string; seederUploadLimit: number; json?: boolean }) => {
    if (o.vms !== undefined) {
      if (process.getuid?.() !== 0) throw new SwarmbootError('DEMO_INVALID', 'demo --vms needs root: it creates a network namespace and tap devices for the VMs (run it with sudo)');
      const s = await runVmDemo({
        vms: o.vms, uefi: o.uefi === true, work: o.work, image: o.image, memMiB: o.memory, diskBytes: o.diskSize * 1024 ** 3, kvm: o.kvm === true,
        checkDisks: o.skipDiskCheck !== true, seederUploadLimit: o.seederUploadLimit, bootenvDir: o.bootenv, afterInstall: o.afterInstall, break: o.break, say,
      });
      process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : `${formatVmSummary(s)}\n`);
      if (s.failed > 0) process.exitCode = 1;
      return;
    }
    const summary = await runDemo({
      nodes: o.nodes, work: o.work, image: o.image, seederUploadLimit: o.seederUploadLimit,
      natsUrl: process.env['SWARMBOOT_NATS_URL'], redisUrl: process.env['SWARMBOOT_REDIS_URL'], say,
    });
    process.stdout.write(o.json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary, o.work !== undefined)}\n`);
    if (summary.failed > 0 || summary.installed !== summary.nodes) process.exitCode = 1;
  });

const image = program.command('image').description('images in the catalog');
image
  .command('add <file>')
  .description('upload an image to the seeder: stored, hashed, turned into a .torrent and seeded')
  .requiredOption('--name <name>', 'image name')
  .addOption(new Option('--format <format>', 'rootfs-tar (tar, tar.gz, tar.zst) or raw-disk (raw, .gz, .zst); default: read from the file').choices(['rootfs-tar', 'raw-disk']))
  .option('--bootable', 'the image boots a machine on its own (kernel and boot loader inside): real nodes may get it')
  .option('--sign <key.pem>', 'sign its manifest (name, format, size, sha256, infohash) with this Ed25519 private key (swarmboot keygen) after the upload')
  .addOption(seederOpt())
  .addOption(apiOpt())
  .addOption(tokenOpt())
  .action(async (file: string, o: { name: string; format?: ImageFormat; bootable?: boolean; sign?: string; seeder: string } & ApiOptions) => {
    // a key that does not parse fails before the upload, not after it
    const key = o.sign === undefined ? undefined : await readSigningKey(o.sign);
    const c = client(o);
    let rec = await c.addImage(resolve(file), o.name, { ...(o.format ? { format: o.format } : {}), bootable: o.bootable === true });
    if (key) {
      rec = await c.signImage(rec.name, await signRecord(resolve(file), rec, key));
      say(`signed ${rec.name} with key ${key.publicKey.keyId}`);
    }
    process.stdout.write(`${JSON.stringify(rec, null, 2)}\n`);
  });
image
  .command('sign <name> <file>')
  .description("sign the catalog's image NAME again (a new key: key rotation), after checking that FILE holds its bytes (size, sha256, infohash)")
  .requiredOption('--key <key.pem>', 'Ed25519 private key (swarmboot keygen)')
  .addOption(seederOpt())
  .addOption(tokenOpt())
  .action(async (name: string, file: string, o: { key: string; seeder: string; token?: string }) => {
    const key = await readSigningKey(o.key);
    const c = client({ api: '', ...o });
    const rec = await c.signImage(name, await signRecord(resolve(file), await c.image(name), key));
    say(`signed ${rec.name} with key ${key.publicKey.keyId}`);
    process.stdout.write(`${JSON.stringify(rec.signedManifest, null, 2)}\n`);
  });
image
  .command('list')
  .addOption(apiOpt())
  .addOption(tokenOpt())
  .action(async (o: ApiOptions) => {
    process.stdout.write(`${JSON.stringify(await client(o).images(), null, 2)}\n`);
  });

program
  .command('keygen <prefix>')
  .description('make an Ed25519 key pair for signing images: PREFIX.key (private, mode 0600; keep it off the servers) and PREFIX.pub (for deploy --trust); prints the keyId')
  .action(async (prefix: string) => {
    const k = await writeKeyPair(resolve(prefix));
    say(`private key ${k.privateKeyPath}, public key ${k.publicKeyPath}`);
    process.stdout.write(`${k.keyId}\n`);
  });

program
  .command('nodes')
  .description('inventory')
  .command('import <file>')
  .description('import nodes from a CSV file (header id,mac,hostname[,labels]; labels k=v;k=v)')
  .addOption(apiOpt())
  .addOption(tokenOpt())
  .action(async (file: string, o: ApiOptions) => {
    const res = await client(o).importNodesCsv(await readFile(file, 'utf8'));
    process.stdout.write(`imported ${res.imported}, updated ${res.updated}\n`);
  });

program
  .command('deploy')
  .description('install an image onto nodes')
  .requiredOption('--image <name>', 'image name')
  .requiredOption('--nodes <selector>', 'node ids (a,b,c), a label selector (k=v[,k=v]) or * for all')
  .addOption(new Option('--target <target>', 'node: real machines boot the install environment; emulated: the demo agents').choices(['node', 'emulated']).default('node'))
  .addOption(new Option('--after-install <action>', 'what a real node does once released').choices(['reboot', 'kexec']).default('reboot'))
  .option('--canary <n>', 'nodes of the first wave; later waves wait for it (default: the scheduler\'s SWARMBOOT_SCHEDULER_CANARY_SIZE)', int('--canary', 1, 100000))
  .option('--max-in-flight <n>', 'at most n nodes in the boot phase at once (default SWARMBOOT_SCHEDULER_MAX_IN_FLIGHT)', int('--max-in-flight', 1, 100000))
  .option('--rate <per-second>', 'at most this many nodes admitted per second, 0 = no limit (default SWARMBOOT_SCHEDULER_RATE_PER_SECOND)', num('--rate', 0, 100000))
  .option('--failure-budget <n>', 'failed nodes allowed before the deployment pauses: below 1 a fraction of its nodes, from 1 a count (default SWARMBOOT_SCHEDULER_FAILURE_BUDGET)', num('--failure-budget', 0, 100000))
  .option('--trust <key.pub>', 'install only an image signed by this Ed25519 public key (PEM file, swarmboot keygen); repeat for several (key rotation); default: the scheduler\'s SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE', (v: string, prev: string[] = []) => [...prev, v])
  .addOption(apiOpt())
  .addOption(tokenOpt())
  .action(async (o: { image: string; nodes: string; target: DeploymentTarget; afterInstall: AfterInstall; canary?: number; maxInFlight?: number; rate?: number; failureBudget?: number; trust?: string[] } & ApiOptions) => {
    // each file may hold several keys (PEM blocks or base64 lines): checked here, sent as raw base64
    const readKeys = async (f: string) => {
      const text = await readFile(f, 'utf8').catch((err: unknown) => {
        throw new SwarmbootError('SIGNING_KEY_INVALID', `cannot read the trusted key file ${f}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
      });
      return parsePublicKeys(text, f);
    };
    const trustedKeys = o.trust === undefined ? undefined : (await Promise.all(o.trust.map(readKeys))).flat().map((k) => k.raw);
    if (trustedKeys?.length === 0) throw new SwarmbootError('SIGNING_KEY_INVALID', `no public key in ${o.trust?.join(', ') ?? ''}`);
    const selector = o.nodes === '*' || o.nodes.includes('=') ? { selector: o.nodes } : { nodes: o.nodes.split(',').map((s) => s.trim()).filter(Boolean) };
    const dep = await client(o).deploy({
      image: o.image,
      ...selector,
      target: o.target,
      afterInstall: o.afterInstall,
      ...(o.canary === undefined ? {} : { canary: o.canary }),
      ...(o.maxInFlight === undefined ? {} : { maxInFlight: o.maxInFlight }),
      ...(o.rate === undefined ? {} : { ratePerSecond: o.rate }),
      ...(o.failureBudget === undefined ? {} : { failureBudget: o.failureBudget }),
      ...(trustedKeys === undefined ? {} : { trustedKeys }),
    });
    process.stdout.write(`${dep.id}\n`);
  });

for (const [action, what] of [
  ['release', 'installed nodes stop seeding and boot their disk (real nodes reboot or kexec)'],
  ['resume', 'a paused deployment admits nodes again; its failure budget starts afresh'],
  ['cancel', 'queued nodes go back to registered, active ones fail with CANCELLED; installed nodes stay'],
] as const) {
  program
    .command(`${action} <deployment>`)
    .description(what)
    .addOption(apiOpt())
    .addOption(tokenOpt())
    .action(async (id: string, o: ApiOptions) => {
      const dep = await client(o).deploymentAction(id, action);
      process.stdout.write(`${dep.id} ${dep.state}${dep.reason ? ` (${dep.reason})` : ''}\n`);
    });
}

program
  .command('status [deployment]')
  .description('a deployment with each node (the newest when none is named)')
  .option('--watch', 'follow it until it finishes: progress bars and an ETA on a terminal, else one line per change; exit code 0 all installed, 2 nodes failed, 3 cancelled or released before done, 6 paused (README, "Exit codes")')
  .addOption(apiOpt())
  .addOption(tokenOpt())
  .action(async (id: string | undefined, o: { watch?: boolean } & ApiOptions) => {
    const c = client(o);
    const depId = id ?? (await c.deployments({ limit: 1 })).deployments[0]?.id;
    if (!depId) {
      process.stdout.write('no deployments\n');
      return;
    }
    if (!o.watch) {
      process.stdout.write(formatDeployment(await c.deployment(depId)));
      return;
    }
    process.exitCode = await watchDeployment(c, depId, { out: process.stdout, tty: process.stdout.isTTY === true, intervalMs: 1000 });
  });

program
  .command('logs <node>')
  .description("a node's log lines (syslog, netconsole), oldest first")
  .option('--follow', 'keep printing new lines until Ctrl-C (exit code 0)')
  .addOption(apiOpt())
  .addOption(tokenOpt())
  .action(async (node: string, o: { follow?: boolean } & ApiOptions) => {
    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.once('SIGINT', onSigint);
    const c = client(o);
    let after: string | undefined;
    try {
      while (!stop.signal.aborted) {
        const { lines } = await c.logs(node, after);
        for (const l of lines) {
          process.stdout.write(Value.Check(LogLine, l.line) ? `${l.line.received} ${formatLogLine(l.line)}\n` : `${printable(JSON.stringify(l.line))}\n`);
          after = l.id;
        }
        if (!o.follow) return;
        await sleep(1000, undefined, { signal: stop.signal }).catch(() => undefined);
      }
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  });

program
  .command('timeline <node>')
  .description("a node's flight recorder: leases, boot-file transfers, state changes, swarm progress, failures and log lines in time order")
  .option('--limit <n>', 'the newest n entries', int('--limit', 1, 10000), 1000)
  .option('--since <time>', 'entries at or after this ISO 8601 time only')
  .option('--sources <list>', `comma-separated, of ${Object.values(TimelineSource).join(', ')} (default all)`, timelineSources)
  .option('--json', 'the API answer as JSON')
  .addOption(apiOpt())
  .addOption(tokenOpt())
  .action(async (node: string, o: { limit: number; since?: string; sources?: TimelineSource[]; json?: boolean } & ApiOptions) => {
    const tl = await client(o).timeline(node, { limit: o.limit, ...(o.since ? { since: o.since } : {}), ...(o.sources ? { sources: o.sources } : {}) });
    process.stdout.write(o.json ? `${JSON.stringify(tl)}\n` : formatTimeline(tl.entries) + (tl.truncated ? `(older entries left out: --limit, --since)\n` : ''));
  });

function formatDeployment(d: Deployment): string {
  const head = `${d.id} image=${d.image} state=${d.state}${d.trustedKeyIds ? ` trust=${d.trustedKeyIds.join(',')}` : ''} ${formatCounts(d.counts)}\n`;
  return head + d.nodes.map((n) => `  ${n.id.padEnd(12)} ${n.state.padEnd(11)} ${n.ip ?? ''}${n.progress ? ` ${Math.round((100 * n.progress.bytes) / Math.max(1, n.progress.total))}%` : ''}${n.reason ? ` ${n.reason}` : ''}\n`).join('');
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (isSwarmbootError(err, 'UNAUTHENTICATED')) process.stderr.write(`swarmboot: the API wants a valid token: give --token or set SWARMBOOT_TOKEN (${err.message})\n`);
  else if (isSwarmbootError(err, 'INSUFFICIENT_SCOPE')) process.stderr.write(`swarmboot: the token may not do this: ${err.message}\n`);
  else if (isSwarmbootError(err)) process.stderr.write(`swarmboot: ${err.code}: ${err.message}\n`);
  else process.stderr.write(`swarmboot: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  // 401 and 403 exit ExitCode.denied
  process.exitCode = errorExitCode(err);
});
