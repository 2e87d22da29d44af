import { execFile, type ExecFileException } from 'node:child_process';
import { SwarmbootError, type PowerAction } from '@swarmboot/contracts';
import { account, type BmcTarget } from '../domain/inventory.js';
import type { DriverResult, PowerDriver } from './driver.js';

/** How the IPMI driver runs ipmitool. */
export interface IpmiOptions {
  /** the ipmitool binary (SWARMBOOT_POWER_IPMITOOL) */
  ipmitool: string;
  /** limit of one ipmitool run, ms */
  timeoutMs: number;
}

/** IPMI 2.0 §13.27: RMCP+ listens on UDP 623 */
const RmcpPort = 623;

/**
 * IPMI 2.0 power driver: runs `ipmitool -I lanplus` (RMCP+, IPMI 2.0 §13) with the password in
 * the IPMI_PASSWORD environment variable (`-E`) — never on the command line, where `ps` shows it.
 * `pxe-boot`: `power status`, `chassis bootdev pxe` (a one-time override: IPMI 2.0 §28.13 boot
 * flags, "valid for next boot only"), then `power on` when off or `power cycle` when on (a
 * chassis that is off ignores or refuses cycle, IPMI 2.0 §28.3). `on`/`off`/`cycle` likewise
 * skip what is already so; `status` reads.
 * Errors (SwarmbootError): BMC_TIMEOUT (no RMCP+ answer, or the run outlived timeoutMs),
 * BMC_AUTH_FAILED (RAKP refused the user or password), BMC_REJECTED (the BMC refused the command,
 * e.g. "Invalid data field in request"), BMC_RESPONSE_INVALID (output not understood),
 * IPMITOOL_FAILED (ipmitool missing, or another failure).
 */
export class IpmiDriver implements PowerDriver {
  readonly name = 'ipmi' as const;
  constructor(private readonly opts: IpmiOptions) {}

  async run(action: PowerAction, target: BmcTarget, signal: AbortSignal): Promise<DriverResult> {
    const out = await this.ipmitool(target, ['power', 'status'], signal);
    const m = /Chassis Power is (on|off)/i.exec(out);
    if (!m?.[1]) throw new SwarmbootError('BMC_RESPONSE_INVALID', `${target.ref.address}: power status answered ${JSON.stringify(out.trim().slice(0, 120))}`);
    const off = m[1].toLowerCase() === 'off';
    switch (action) {
      case 'status':
        break;
      case 'pxe-boot':
        await this.ipmitool(target, ['chassis', 'bootdev', 'pxe'], signal);
        await this.ipmitool(target, ['power', off ? 'on' : 'cycle'], signal);
        break;
      case 'on':
        if (off) await this.ipmitool(target, ['power', 'on'], signal);
        break;
      case 'off':
        if (!off) await this.ipmitool(target, ['power', 'off'], signal);
        break;
      case 'cycle':
        await this.ipmitool(target, ['power', off ? 'on' : 'cycle'], signal);
        break;
    }
    return { powerState: off ? 'Off' : 'On' };
  }

  /** One ipmitool run; resolves with its stdout. */
  private ipmitool(target: BmcTarget, command: string[], signal: AbortSignal): Promise<string> {
    // ipmitool retries RMCP+ itself (-R, default 4, each -N seconds): one retry here, the policy
    // above (retry.ts) owns the rest, so a dead BMC costs about timeoutMs per attempt, not 5×.
    const perTry = Math.max(1, Math.floor(this.opts.timeoutMs / 2000));
    const { username, password } = account(target);
    const args = ['-I', 'lanplus', '-H', target.ref.address, '-p', String(target.ref.port ?? RmcpPort), '-U', username, '-E', '-v', '-N', String(perTry), '-R', '1', ...command];
    const what = `${target.ref.address}: ipmitool ${command.join(' ')}`;
    return new Promise((resolve, reject) => {
      execFile(
        this.opts.ipmitool,
        args,
        // a minimal environment: the password, and PATH for ipmitool's own lookups
        { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', IPMI_PASSWORD: password }, timeout: this.opts.timeoutMs + 1000, signal, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (err === null) return resolve(stdout);
          if (signal.aborted) return reject(err);
          reject(ipmiError(what, err, stderr));
        },
      );
    });
  }
}

/** Maps a failed ipmitool run to a BMC_* code by its exit and its (verbose) stderr. */
function ipmiError(what: string, err: ExecFileException, stderr: string): SwarmbootError {
  // the last lines carry the reason; -v adds the RAKP detail ("RAKP 2 HMAC is invalid")
  const said = stderr
    .split('\n')
    .map((l) => l.replace(/^>\s*/, '').trim())
    .filter((l) => l !== '' && !/^(Loading IANA|Using best available cipher|Running Get|Get Auth Capabilities|>>)/.test(l))
    .slice(-3)
    .join('; ');
  const message = `${what}: ${said === '' ? err.message : said}`;
  if (err.code === 'ENOENT') return new SwarmbootError('IPMITOOL_FAILED', `${what}: ipmitool not found (${err.message})`, { cause: err });
  if (err.killed === true) return new SwarmbootError('BMC_TIMEOUT', `${what}: no result within the timeout`, { cause: err });
  if (/RAKP 2 HMAC is invalid|unauthorized name|invalid authentication|Invalid user name|password|insufficient privilege/i.test(stderr)) return new SwarmbootError('BMC_AUTH_FAILED', message);
  if (/Insufficient resources for session|Node busy/i.test(stderr)) return new SwarmbootError('BMC_SERVER_ERROR', message);
  if (/no response|Unable to establish|timeout|Timed out/i.test(stderr)) return new SwarmbootError('BMC_TIMEOUT', message);
  if (/failed: /i.test(stderr)) return new SwarmbootError('BMC_REJECTED', message);
  return new SwarmbootError('IPMITOOL_FAILED', message, { cause: err });
}
