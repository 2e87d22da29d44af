import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitForListener } from '@swarmboot/kit';
import { freePort, waitFor } from './wait.js';

const pexec = promisify(execFile);
// from packages/testkit/dist/src/
const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const simScript = fileURLToPath(new URL('../../fixtures/ipmi-sim.py', import.meta.url));

/*
 * BMC simulators for tests of the power service and of full runs: sushy-emulator (Redfish, the
 * emulator Ironic and Metal3 test with), an RMCP+ BMC on pyghmi (fixtures/ipmi-sim.py), and BMCs
 * that hang or answer garbage.
 */

/**
 * The venv bin directory with sushy-emulator and pyghmi: scripts/install-power-test-tools.sh
 * installs them (and ipmitool) when missing, as scripts/test.sh does before the suite.
 */
export function simulatorBin(): string {
  return execFileSync('bash', [join(repo, 'scripts/install-power-test-tools.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

export interface Sim {
  port: number;
  /** what the simulator printed (sushy's access log: one line per request, with the status) */
  output(): string;
  stop(): Promise<void>;
}

async function started(proc: ChildProcess, port: number, what: string, udp = false): Promise<() => string> {
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  if (udp) await waitFor(`${what} ready`, () => out.includes('listening') || proc.exitCode !== null, 15_000);
  else await waitForListener(port, { timeoutMs: 15_000, everyMs: 100, alive: () => proc.exitCode === null });
  if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}: ${out}`);
  return () => out;
}

function stopper(proc: ChildProcess, dir?: string): () => Promise<void> {
  return async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  };
}

/** A system of sushy-emulator's fake driver (SUSHY_EMULATOR_FAKE_SYSTEMS). */
export interface FakeSystem {
  uuid: string;
  name: string;
  powerState: 'On' | 'Off';
  mac: string;
}

/**
 * sushy-emulator (sushy-tools) with its fake driver — in-memory systems whose power state changes
 * a few seconds after a reset, as hardware does — and HTTP Basic auth from an htpasswd file
 * (bcrypt, as its RedfishAuthMiddleware requires), on a free loopback port; HTTPS with `tls`
 * (PEM file paths).
 */
export async function startSushy(bin: string, systems: FakeSystem[], user: string, password: string, tls?: { cert: string; key: string }): Promise<Sim> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-sushy-'));
  const port = await freePort();
  const { stdout: hash } = await pexec(join(bin, 'python3'), ['-c', 'import bcrypt,sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(rounds=4)).decode())', password]);
  await writeFile(join(dir, 'htpasswd'), `${user}:${hash.trim()}\n`);
  const fake = systems.map((s) => ({ uuid: s.uuid, name: s.name, power_state: s.powerState, nics: [{ mac: s.mac, ip: '127.0.0.2' }] }));
  await writeFile(
    join(dir, 'emulator.conf'),
    [
      `SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'`,
      `SUSHY_EMULATOR_LISTEN_PORT = ${port}`,
      `SUSHY_EMULATOR_FAKE_DRIVER = True`,
      `SUSHY_EMULATOR_AUTH_FILE = ${JSON.stringify(join(dir, 'htpasswd'))}`,
      `SUSHY_EMULATOR_STATE_DIR = ${JSON.stringify(join(dir, 'state'))}`,
      `SUSHY_EMULATOR_FAKE_SYSTEMS = ${JSON.stringify(fake)}`,
      ...(tls === undefined ? [] : [`SUSHY_EMULATOR_SSL_CERT = ${JSON.stringify(tls.cert)}`, `SUSHY_EMULATOR_SSL_KEY = ${JSON.stringify(tls.key)}`]),
      '',
    ].join('\n'),
  );
  const proc = spawn(join(bin, 'sushy-emulator'), ['--config', join(dir, 'emulator.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = await started(proc, port, 'sushy-emulator');
  return { port, output, stop: stopper(proc, dir) };
}

/** fixtures/ipmi-sim.py: an RMCP+ BMC (pyghmi) with one account, on a free UDP port. */
export async function startIpmiSim(bin: string, user: string, password: string): Promise<Sim> {
  const port = await freePort();
  const proc = spawn(join(bin, 'python3'), ['-u', simScript, String(port), user, password], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = await started(proc, port, 'ipmi-sim', true);
  return { port, output, stop: stopper(proc) };
}

/** Runs ipmitool against the simulator as an operator would; resolves with stdout. */
export async function ipmitool(port: number, user: string, password: string, ...command: string[]): Promise<string> {
  const { stdout } = await pexec('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', user, '-E', ...command], { env: { ...process.env, IPMI_PASSWORD: password } });
  return stdout;
}

/** A BMC that misbehaves at the TCP level: `hang` accepts and never answers; `garbage` answers bytes that are not HTTP. */
export interface BadBmc {
  port: number;
  /** HTTP requests received so far (first bytes of a connection): one per attempt of the driver */
  requests(): number;
  stop(): Promise<void>;
}

export async function startBadBmc(kind: 'hang' | 'garbage'): Promise<BadBmc> {
  // requests, not connections: undici opens a spare connection after an aborted one
  let requests = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.once('data', () => {
      requests += 1;
      if (kind === 'garbage') s.end('\x00\x13garbage, not HTTP\r\n\r\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    port,
    requests: () => requests,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A CA and a server certificate it signed for 127.0.0.1 (subjectAltName IP), made with openssl in
 * `dir`: what an operator's PKI gives a BMC. Returns the PEM file paths.
 */
export async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const f = (name: string) => join(dir, name);
  const run = (...args: string[]) => pexec('openssl', args);
  await run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=swarmboot test BMC CA');
  await run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('bmc.key'), '-out', f('bmc.csr'), '-subj', '/CN=127.0.0.1');
  await writeFile(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  await run('x509', '-req', '-in', f('bmc.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('bmc.crt'), '-days', '2', '-extfile', f('san.ext'));
  return { ca: f('ca.crt'), cert: f('bmc.crt'), key: f('bmc.key') };
}
