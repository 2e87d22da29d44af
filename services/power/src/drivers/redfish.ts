import { Agent, request, type Dispatcher } from 'undici';
import { SwarmbootError, type PowerAction } from '@swarmboot/contracts';
import { account, type BmcTarget } from '../domain/inventory.js';
import type { DriverResult, PowerDriver } from './driver.js';

/** TLS and time limits of the Redfish driver. */
export interface RedfishOptions {
  /** limit of one HTTP exchange (connect, headers, body), ms */
  timeoutMs: number;
  /** PEM of the CA the BMCs' certificates chain to; undefined: the system CAs */
  ca?: string | undefined;
  /** accept any certificate (self-signed factory certificates): an explicit operator choice */
  insecure: boolean;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown> | undefined;
}

/** The ComputerSystem's fields the driver reads (DSP2046 ComputerSystem schema). */
interface SystemView {
  path: string;
  powerState: string;
  resetTarget: string;
  etag: string | undefined;
}

const Root = '/redfish/v1';

/**
 * DMTF Redfish (DSP0266) power driver. One `run` logs in (HTTP Basic, or a session: POST
 * SessionService/Sessions, X-Auth-Token, DELETE afterwards — DSP0266 §13.3.4), reads the
 * ComputerSystem, and acts:
 * - `pxe-boot`: PATCH `Boot {BootSourceOverrideTarget: Pxe, BootSourceOverrideEnabled: Once}`, then
 *   `ComputerSystem.Reset` `On` when PowerState is Off, else `ForceRestart` — a running OS is not
 *   asked (GracefulRestart may hang on an installer);
 * - `on` / `off`: Reset `On` / `ForceOff` unless already there; `cycle`: `ForceRestart`, or `On` when off;
 * - `status`: nothing.
 * Errors (SwarmbootError): BMC_TIMEOUT, BMC_UNREACHABLE, BMC_TLS_FAILED, BMC_AUTH_FAILED (401/403),
 * BMC_REJECTED (other 4xx, with the BMC's @Message.ExtendedInfo), BMC_SERVER_ERROR (5xx),
 * BMC_RESPONSE_INVALID (not HTTP, or not the JSON expected), BMC_SYSTEM_NOT_FOUND.
 */
export class RedfishDriver implements PowerDriver {
  readonly name = 'redfish' as const;
  private readonly dispatcher: Dispatcher;

  constructor(private readonly opts: RedfishOptions) {
    this.dispatcher = new Agent({
      connect: { timeout: opts.timeoutMs, rejectUnauthorized: !opts.insecure, ...(opts.ca === undefined ? {} : { ca: opts.ca }) },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      // BMCs are small embedded web servers: one connection each, not kept idle for long
      connections: 1,
      keepAliveTimeout: 1000,
    });
  }

  async run(action: PowerAction, target: BmcTarget, signal: AbortSignal): Promise<DriverResult> {
    const base = baseUrl(target.ref.address, target.ref.port);
    const { username, password } = account(target);
    const session = target.ref.auth === 'session' ? await this.login(base, username, password, signal) : undefined;
    const auth: Record<string, string> = session === undefined ? { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` } : { 'x-auth-token': session.token };
    try {
      const system = await this.system(base, target.ref.systemId, auth, signal);
      const off = system.powerState === 'Off';
      switch (action) {
        case 'status':
          break;
        case 'pxe-boot':
          await this.call(base, 'PATCH', system.path, auth, signal, { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } }, system.etag);
          await this.reset(base, system, off ? 'On' : 'ForceRestart', auth, signal);
          break;
        case 'on':
          if (off) await this.reset(base, system, 'On', auth, signal);
          break;
        case 'off':
          if (!off) await this.reset(base, system, 'ForceOff', auth, signal);
          break;
        case 'cycle':
          await this.reset(base, system, off ? 'On' : 'ForceRestart', auth, signal);
          break;
      }
      return { powerState: system.powerState };
    } finally {
      // a BMC holds few sessions (often 4–16): give ours back even when the action failed
      if (session?.location !== undefined) await this.call(base, 'DELETE', session.location, auth, signal).catch(() => undefined);
    }
  }

  /** Releases the connection pool (service shutdown). */
  close(): Promise<void> {
    return this.dispatcher.close();
  }

  private async login(base: URL, username: string, password: string, signal: AbortSignal): Promise<{ token: string; location: string | undefined }> {
    const a = await this.call(base, 'POST', `${Root}/SessionService/Sessions`, {}, signal, { UserName: username, Password: password });
    const token = header(a, 'x-auth-token');
    if (token === undefined) throw new SwarmbootError('BMC_RESPONSE_INVALID', `${base.host}: the session answer has no X-Auth-Token`);
    const odataId = a.json?.['@odata.id'];
    return { token, location: header(a, 'location') ?? (typeof odataId === 'string' ? odataId : undefined) };
  }

  private async system(base: URL, systemId: string | undefined, auth: Record<string, string>, signal: AbortSignal): Promise<SystemView> {
    let path: string;
    if (systemId !== undefined) {
      path = `${Root}/Systems/${encodeURIComponent(systemId)}`;
    } else {
      const members = (await this.call(base, 'GET', `${Root}/Systems`, auth, signal)).json?.['Members'];
      const ids = Array.isArray(members) ? members.map((m: unknown) => (m as { '@odata.id'?: unknown })['@odata.id']).filter((x): x is string => typeof x === 'string') : undefined;
      if (ids === undefined) throw new SwarmbootError('BMC_RESPONSE_INVALID', `${base.host}: ${Root}/Systems has no Members`);
      if (ids.length !== 1 || ids[0] === undefined) throw new SwarmbootError('BMC_SYSTEM_NOT_FOUND', `${base.host}: ${ids.length} systems; name one with systemId`);
      path = ids[0];
    }
    const a = await this.call(base, 'GET', path, auth, signal);
    const powerState = a.json?.['PowerState'];
    if (typeof powerState !== 'string') throw new SwarmbootError('BMC_RESPONSE_INVALID', `${base.host}: ${path} has no PowerState`);
    const actions = a.json?.['Actions'] as Record<string, { target?: unknown } | undefined> | undefined;
    const target = actions?.['#ComputerSystem.Reset']?.target;
    const etag = header(a, 'etag') ?? (typeof a.json?.['@odata.etag'] === 'string' ? a.json['@odata.etag'] : undefined);
    return { path, powerState, resetTarget: typeof target === 'string' ? target : `${path}/Actions/ComputerSystem.Reset`, etag };
  }

  private async reset(base: URL, system: SystemView, resetType: 'On' | 'ForceOff' | 'ForceRestart', auth: Record<string, string>, signal: AbortSignal): Promise<void> {
    await this.call(base, 'POST', system.resetTarget, auth, signal, { ResetType: resetType });
  }

  /** One HTTP exchange; maps every failure to a BMC_* code. */
  private async call(base: URL, method: Dispatcher.HttpMethod, path: string, auth: Record<string, string>, signal: AbortSignal, body?: unknown, ifMatch?: string): Promise<Answer> {
    const url = new URL(path, base);
    const what = `${method} ${url.host}${url.pathname}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method,
        dispatcher: this.dispatcher,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.opts.timeoutMs)]),
        headers: {
          accept: 'application/json',
          'odata-version': '4.0',
          ...auth,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(ifMatch === undefined ? {} : { 'if-match': ifMatch }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      if (signal.aborted) throw err;
      throw transportError(what, err);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      if (signal.aborted) throw err;
      throw transportError(what, err);
    }
    let json: Record<string, unknown> | undefined;
    if (text.trim() !== '') {
      try {
        const parsed: unknown = JSON.parse(text);
        json = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      if (json === undefined && res.statusCode < 300) throw new SwarmbootError('BMC_RESPONSE_INVALID', `${what}: ${res.statusCode} with a body that is not a JSON object: ${JSON.stringify(text.slice(0, 120))}`);
    }
    const answer: Answer = { status: res.statusCode, headers: res.headers, json };
    if (res.statusCode < 300) return answer;
    const message = `${what}: ${res.statusCode}${redfishMessage(json, text)}`;
    if (res.statusCode === 401 || res.statusCode === 403) throw new SwarmbootError('BMC_AUTH_FAILED', message, { context: { status: res.statusCode } });
    if (res.statusCode === 404 && method === 'GET') throw new SwarmbootError('BMC_SYSTEM_NOT_FOUND', message, { context: { status: res.statusCode } });
    if (res.statusCode >= 500) throw new SwarmbootError('BMC_SERVER_ERROR', message, { context: { status: res.statusCode } });
    throw new SwarmbootError('BMC_REJECTED', message, { context: { status: res.statusCode } });
  }
}

/** `bmc.example` → https://bmc.example[:port]; `http://127.0.0.1:8000` as given (emulators, plain-HTTP BMCs). */
export function baseUrl(address: string, port?: number): URL {
  const url = new URL(/^https?:\/\//i.test(address) ? address : `https://${address.includes(':') && !address.startsWith('[') ? `[${address}]` : address}`);
  if (port !== undefined) url.port = String(port);
  return url;
}

function header(a: Answer, name: string): string | undefined {
  const v = a.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The BMC's own words: DSP0266 §9.6 error response `error.@Message.ExtendedInfo[].Message`, else `error.message`, else the text. */
function redfishMessage(json: Record<string, unknown> | undefined, text: string): string {
  const error = json?.['error'] as { message?: unknown; '@Message.ExtendedInfo'?: unknown } | undefined;
  const info = Array.isArray(error?.['@Message.ExtendedInfo']) ? (error['@Message.ExtendedInfo'] as { Message?: unknown }[]).map((i) => i.Message).filter((m): m is string => typeof m === 'string') : [];
  const msg = info.length > 0 ? info.join('; ') : typeof error?.message === 'string' ? error.message : text.trim().slice(0, 200);
  return msg === '' ? '' : ` ${msg}`;
}

/** Maps a failed exchange (undici errors, Node socket and TLS errors) to a BMC_* code. */
function transportError(what: string, err: unknown): SwarmbootError {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  const message = `${what}: ${e.message ?? String(err)}${e.cause?.message === undefined ? '' : ` (${e.cause.message})`}`;
  if (e.name === 'TimeoutError' || /TIMEOUT/.test(code)) return new SwarmbootError('BMC_TIMEOUT', message, { cause: err });
  if (e.name === 'HTTPParserError' || code.startsWith('HPE_')) return new SwarmbootError('BMC_RESPONSE_INVALID', message, { cause: err });
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) return new SwarmbootError('BMC_TLS_FAILED', message, { cause: err });
  return new SwarmbootError('BMC_UNREACHABLE', message, { cause: err });
}
