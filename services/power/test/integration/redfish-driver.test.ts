import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSwarmbootError } from '@swarmboot/contracts';
import { RedfishDriver } from '../../src/drivers/redfish.js';
import type { BmcTarget } from '../../src/domain/inventory.js';
import { makeCertificates, simulatorBin, startSushy, type Sim } from '@swarmboot/testkit';

// The Redfish driver on its own: TLS against sushy-emulator serving HTTPS with a certificate of a
// test CA, and session login against a BMC that has a SessionService (sushy-emulator has none).

const system = { uuid: '0b7d8c2e-0000-4000-8000-0000000000b1', name: 'tls-node', powerState: 'On' as const, mac: '52:54:00:bb:00:01' };
let dir: string;
let sushy: Sim;
let ca: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-redfish-'));
  const pki = await makeCertificates(dir);
  ca = await readFile(pki.ca, 'utf8');
  sushy = await startSushy(simulatorBin(), [system], 'admin', 'tls-pass', { cert: pki.cert, key: pki.key });
});
after(async () => {
  await sushy?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const never = new AbortController().signal;
const target = (address: string, extra: Partial<BmcTarget['ref']> = {}): BmcTarget => ({ ref: { driver: 'redfish', address, credentials: 'c', ...extra }, credentials: { username: 'admin', password: 'tls-pass' } });

test('TLS: the BMC certificate verifies against SWARMBOOT_POWER_TLS_CA_FILE; without it BMC_TLS_FAILED, and insecure accepts it', async () => {
  const address = `https://127.0.0.1:${sushy.port}`;
  const withCa = new RedfishDriver({ timeoutMs: 5000, ca, insecure: false });
  const systemCas = new RedfishDriver({ timeoutMs: 5000, insecure: false });
  const insecure = new RedfishDriver({ timeoutMs: 5000, insecure: true });
  try {
    assert.deepEqual(await withCa.run('status', target(address), never), { powerState: 'On' });
    await assert.rejects(systemCas.run('status', target(address), never), (err: unknown) => isSwarmbootError(err, 'BMC_TLS_FAILED'));
    assert.deepEqual(await insecure.run('status', target(address), never), { powerState: 'On' });
  } finally {
    await Promise.all([withCa.close(), systemCas.close(), insecure.close()]);
  }
});

/** A BMC with a SessionService (DSP0266 §13.3.4) and one system; it records what it was sent. */
async function sessionBmc(): Promise<{ server: Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const token = 'tok-3f9a';
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const body = async (req: IncomingMessage) => {
    let b = '';
    for await (const chunk of req) b += String(chunk);
    return b;
  };
  const server = createServer((req, res) => {
    void (async () => {
      const text = await body(req);
      const auth = req.headers['x-auth-token'] === token ? 'token' : req.headers.authorization !== undefined ? 'basic' : 'none';
      seen.push(`${req.method} ${req.url} ${auth}${text === '' ? '' : ` ${text}`}`);
      if (req.method === 'POST' && req.url === '/redfish/v1/SessionService/Sessions') {
        const { UserName, Password } = JSON.parse(text) as { UserName: string; Password: string };
        if (UserName !== 'admin' || Password !== 'tls-pass') return json(res, 401, { error: { message: 'bad credentials' } });
        return json(res, 201, { '@odata.id': '/redfish/v1/SessionService/Sessions/1' }, { 'x-auth-token': token, location: '/redfish/v1/SessionService/Sessions/1' });
      }
      if (auth !== 'token') return json(res, 401, { error: { message: 'no session' } });
      if (req.method === 'GET' && req.url === '/redfish/v1/Systems/1') return json(res, 200, { PowerState: 'On', Actions: { '#ComputerSystem.Reset': { target: '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset' } } }, { etag: 'W/"7"' });
      if (req.method === 'PATCH' && req.url === '/redfish/v1/Systems/1') {
        seen.push(`if-match ${String(req.headers['if-match'])}`);
        return json(res, 200, {});
      }
      if (req.method === 'POST' && req.url === '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset') {
        return json(res, 400, { error: { code: 'Base.1.8.GeneralError', message: 'error', '@Message.ExtendedInfo': [{ Message: 'The system is in a lockdown mode.' }] } });
      }
      if (req.method === 'DELETE' && req.url === '/redfish/v1/SessionService/Sessions/1') return json(res, 204, {});
      return json(res, 404, {});
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr !== null ? addr.port : 0, seen };
}

test('session auth: log in, act with X-Auth-Token (If-Match on the PATCH), report the BMC’s refusal, and delete the session even then', async () => {
  const bmc = await sessionBmc();
  const driver = new RedfishDriver({ timeoutMs: 5000, insecure: false });
  try {
    await assert.rejects(
      driver.run('pxe-boot', target(`http://127.0.0.1:${bmc.port}`, { systemId: '1', auth: 'session' }), never),
      (err: unknown) => isSwarmbootError(err, 'BMC_REJECTED') && err.message.includes('The system is in a lockdown mode.'),
    );
    assert.deepEqual(bmc.seen, [
      'POST /redfish/v1/SessionService/Sessions none {"UserName":"admin","Password":"tls-pass"}',
      'GET /redfish/v1/Systems/1 token',
      'PATCH /redfish/v1/Systems/1 token {"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"}}',
      'if-match W/"7"',
      'POST /redfish/v1/Systems/1/Actions/ComputerSystem.Reset token {"ResetType":"ForceRestart"}',
      'DELETE /redfish/v1/SessionService/Sessions/1 token',
    ]);
  } finally {
    await driver.close();
    await new Promise((r) => bmc.server.close(r));
  }
});
