import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSwarmbootError } from '@swarmboot/contracts';
import { loadInventory } from '../src/domain/inventory.js';

const dir = await mkdtemp(join(tmpdir(), 'sb-power-inv-'));
after(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, text: string): Promise<string> {
  await writeFile(join(dir, name), text);
  return join(dir, name);
}

const bmcs = await file(
  'bmcs.yaml',
  [
    'n-1: { driver: redfish, address: bmc-1.example, credentials: lab }',
    '"52:54:00:AB:CD:EF": { driver: ipmi, address: 10.0.0.9, port: 6230, credentials: lab }',
    'vm-1: { driver: qmp, address: /run/lab/vm-1.qmp }',
    '',
  ].join('\n'),
);
const creds = await file('creds.yaml', 'lab: { username: root, password: "hunter2" }\n');

test('resolve: the request’s own BMC first, then the inventory by node id, then by MAC (keys lower-cased)', () => {
  const inv = loadInventory(bmcs, creds);
  assert.equal(inv.resolve({ nodeId: 'n-1' }).ref.address, 'bmc-1.example');
  assert.equal(inv.resolve({ nodeId: 'other', mac: '52:54:00:ab:cd:ef' }).ref.driver, 'ipmi');
  const own = inv.resolve({ nodeId: 'n-1', bmc: { driver: 'ipmi', address: '10.1.1.1', credentials: 'lab' } });
  assert.equal(own.ref.address, '10.1.1.1');
  assert.equal(own.credentials?.username, 'root');
});

test('resolve: BMC_UNKNOWN without a BMC, BMC_CREDENTIALS_UNKNOWN for a missing credentials entry', () => {
  const inv = loadInventory(bmcs, creds);
  assert.throws(() => inv.resolve({ nodeId: 'n-2' }), (err: unknown) => isSwarmbootError(err, 'BMC_UNKNOWN'));
  assert.throws(
    () => inv.resolve({ nodeId: 'n-2', bmc: { driver: 'redfish', address: 'x', credentials: 'elsewhere' } }),
    (err: unknown) => isSwarmbootError(err, 'BMC_CREDENTIALS_UNKNOWN') && err.message.includes('elsewhere'),
  );
  assert.throws(() => loadInventory('', '').resolve({ nodeId: 'n-1' }), (err: unknown) => isSwarmbootError(err, 'BMC_UNKNOWN'));
});

test('loadInventory: a malformed file is CONFIG_INVALID naming the variable and the path — never the value', async () => {
  const bad = await file('bad-creds.yaml', 'lab: { username: root, password: 12345678 }\n');
  assert.throws(
    () => loadInventory(bmcs, bad),
    (err: unknown) => isSwarmbootError(err, 'CONFIG_INVALID') && err.message.includes('SWARMBOOT_POWER_CREDENTIALS_FILE') && err.message.includes('/lab/password') && !err.message.includes('12345678'),
  );
  const badBmc = await file('bad-bmcs.yaml', 'n-1: { driver: smoke-signals, address: x, credentials: lab }\n');
  assert.throws(() => loadInventory(badBmc, creds), (err: unknown) => isSwarmbootError(err, 'CONFIG_INVALID') && err.message.includes('SWARMBOOT_POWER_BMCS'));
  assert.throws(() => loadInventory(join(dir, 'missing.yaml'), creds), (err: unknown) => isSwarmbootError(err, 'CONFIG_INVALID'));
});

test('qmp: no credentials needed (none exist); Redfish and IPMI still need theirs', async () => {
  const inv = loadInventory(bmcs, creds);
  const vm = inv.resolve({ nodeId: 'vm-1' });
  assert.deepEqual(vm, { ref: { driver: 'qmp', address: '/run/lab/vm-1.qmp' }, credentials: undefined });
  // a request's own BMC is checked as the file's entries are
  assert.throws(() => inv.resolve({ nodeId: 'x', bmc: { driver: 'redfish', address: 'bmc-9.example' } }), (err: unknown) => isSwarmbootError(err, 'BMC_CREDENTIALS_UNKNOWN') && err.message.includes('needs credentials'));
  assert.throws(() => inv.resolve({ nodeId: 'x', bmc: { driver: 'qmp', address: 'vm.sock' } }), (err: unknown) => isSwarmbootError(err, 'BMC_REF_INVALID') && err.message.includes('absolute path'));
  assert.throws(() => inv.resolve({ nodeId: 'x', bmc: { driver: 'qmp', address: '/x/vm.sock', credentials: 'lab' } }), (err: unknown) => isSwarmbootError(err, 'BMC_REF_INVALID') && err.message.includes('no authentication'));
  for (const [name, line, says] of [
    ['no-creds.yaml', 'n-1: { driver: ipmi, address: 10.0.0.9 }', 'ipmi BMC needs credentials'],
    ['qmp-creds.yaml', 'vm-1: { driver: qmp, address: /x/vm.sock, credentials: lab }', 'no authentication'],
    ['qmp-relative.yaml', 'vm-1: { driver: qmp, address: vm.sock }', 'absolute path'],
  ] as const) {
    const f = await file(name, `${line}\n`);
    assert.throws(() => loadInventory(f, creds), (err: unknown) => isSwarmbootError(err, 'CONFIG_INVALID') && err.message.includes('SWARMBOOT_POWER_BMCS') && err.message.includes(says), name);
  }
});
