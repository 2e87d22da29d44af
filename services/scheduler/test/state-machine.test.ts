import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeState } from '@swarmboot/contracts';
import {
  NODE_TRANSITIONS, TIMED_STATES, admissionSteps, bootDecision, bootOutcome, canTransition, classifyReport, finishedAs, isActive, mayInstall, recoveryAction, stageTarget, timeoutCode,
} from '../src/domain/state-machine.js';

const ALL = Object.values(NodeState);

test('the happy path is a chain of allowed transitions', () => {
  const path: NodeState[] = ['registered', 'queued', 'admitted', 'dhcp', 'booting', 'installing', 'verifying', 'installed', 'released'];
  for (let i = 0; i + 1 < path.length; i++) assert.ok(canTransition(path[i]!, path[i + 1]!), `${path[i]} → ${path[i + 1]}`);
});

test('failed is reachable from every active state and from no other', () => {
  for (const s of ALL) assert.equal(canTransition(s, 'failed'), isActive(s), s);
  assert.deepEqual(ALL.filter(isActive), ['queued', 'admitted', 'dhcp', 'booting', 'installing', 'verifying']);
});

test('late or duplicated events cannot move a node back', () => {
  // a lease seen after the node already fetched its script or is installing
  for (const s of ['booting', 'installing', 'verifying', 'installed', 'released', 'failed'] as const) assert.equal(canTransition(s, 'dhcp'), false, `${s} → dhcp`);
  // a TFTP transfer seen after the agent reported
  for (const s of ['installing', 'verifying', 'installed', 'released'] as const) assert.equal(canTransition(s, 'booting'), false, `${s} → booting`);
  assert.equal(canTransition('released', 'installed'), false);
  assert.equal(canTransition('installed', 'verifying'), false);
});

test('stages cannot be skipped and a state is not a transition to itself', () => {
  const skips: [NodeState, NodeState][] = [['registered', 'admitted'], ['queued', 'dhcp'], ['booting', 'verifying'], ['installing', 'installed'], ['registered', 'installed']];
  for (const [from, to] of skips) assert.equal(canTransition(from, to), false, `${from} → ${to}`);
  for (const s of ALL) assert.equal(canTransition(s, s), false, s);
});

test('the booting shortcut: an admitted node that fetched its script before its lease event', () => {
  assert.ok(canTransition('admitted', 'booting'));
  assert.ok(canTransition('dhcp', 'booting'));
});

test('idle nodes can be queued by a new deployment; busy ones cannot', () => {
  for (const s of ALL) assert.equal(canTransition(s, 'queued'), s === 'registered' || s === 'installed' || s === 'released' || s === 'failed', s);
});

test('every state has an entry in the transition table and targets are states', () => {
  assert.deepEqual(Object.keys(NODE_TRANSITIONS).sort(), [...ALL].sort());
  for (const targets of Object.values(NODE_TRANSITIONS)) for (const t of targets) assert.ok(ALL.includes(t));
});

test('agent stages map to states', () => {
  assert.deepEqual(
    (['booted', 'downloading', 'verifying', 'installed', 'failed'] as const).map((stage) => [stage, stageTarget(stage)]),
    [['booted', 'installing'], ['downloading', 'installing'], ['verifying', 'verifying'], ['installed', 'installed'], ['failed', 'failed']],
  );
});

test('classifyReport: apply, same (retry or progress), behind (late or release polling), invalid', () => {
  // [state the node is in, state the report asks for, verdict]
  const cases: [NodeState, NodeState, ReturnType<typeof classifyReport>][] = [
    ['booting', 'installing', 'apply'],
    ['verifying', 'installed', 'apply'],
    ['installing', 'failed', 'apply'],
    ['installing', 'installing', 'same'],
    ['failed', 'failed', 'same'],
    ['verifying', 'installing', 'behind'],
    ['released', 'installed', 'behind'],
    ['installed', 'installing', 'behind'],
    ['booting', 'installed', 'invalid'],
    ['installing', 'installed', 'invalid'],
    ['failed', 'installing', 'invalid'],
    ['installed', 'failed', 'invalid'],
    ['queued', 'installing', 'invalid'],
  ];
  for (const [state, target, verdict] of cases) assert.equal(classifyReport(state, target), verdict, `${state} + report ${target}`);
});

test('boot decisions: install while admitted…verifying, wait while queued, local disk otherwise', () => {
  assert.deepEqual(
    ALL.map((s) => [s, bootDecision(s)]),
    [
      ['registered', 'local'],
      ['queued', 'wait'],
      ['admitted', 'install'],
      ['dhcp', 'install'],
      ['booting', 'install'],
      ['installing', 'install'],
      ['verifying', 'install'],
      ['installed', 'local'],
      ['released', 'local'],
      ['failed', 'local'],
    ],
  );
});

test('install manifest from admitted until released', () => {
  assert.deepEqual(ALL.filter(mayInstall), ['admitted', 'dhcp', 'booting', 'installing', 'verifying', 'installed']);
});

test('installed and failed finish a node in its deployment', () => {
  assert.deepEqual(ALL.map(finishedAs).filter(Boolean), ['installed', 'failed']);
});

test('admission steps: queued, then admitted for a node of a wave', () => {
  assert.deepEqual(admissionSteps(true), ['queued', 'admitted']);
  assert.deepEqual(admissionSteps(false), ['queued']);
  // each step is an allowed transition from an idle node
  for (const from of ['registered', 'installed', 'released', 'failed'] as const) {
    let s: NodeState = from;
    for (const to of admissionSteps(true)) {
      assert.ok(canTransition(s, to), `${s} → ${to}`);
      s = to;
    }
  }
});

test('boot outcome: leaving the boot phase forward is done, backward or failing is a failure, moves inside it are neither', () => {
  assert.equal(bootOutcome('booting', 'installing'), 'bootDone');
  assert.equal(bootOutcome('dhcp', 'admitted'), 'bootFailed');
  assert.equal(bootOutcome('admitted', 'failed'), 'bootFailed');
  assert.equal(bootOutcome('admitted', 'dhcp'), undefined);
  assert.equal(bootOutcome('dhcp', 'booting'), undefined);
  assert.equal(bootOutcome('installing', 'admitted'), undefined, 'an install retry is not the boot path\'s failure');
  assert.equal(bootOutcome('queued', 'admitted'), undefined);
  // over the edges of the state machine: the boot phase is left forward once (booting → installing), backward or failing from each of its states
  const edges = ALL.flatMap((from) => NODE_TRANSITIONS[from].map((to) => [from, to, bootOutcome(from, to)] as const)).filter(([, , o]) => o !== undefined);
  assert.deepEqual(edges.map(([f, t, o]) => `${f}→${t}:${o}`).sort(), ['admitted→failed:bootFailed', 'booting→admitted:bootFailed', 'booting→failed:bootFailed', 'booting→installing:bootDone', 'dhcp→admitted:bootFailed', 'dhcp→failed:bootFailed']);
});

test('timeouts: every timed state can go back to admitted (retry) or to failed, with the code of its phase', () => {
  for (const s of TIMED_STATES) {
    assert.ok(isActive(s));
    assert.ok(s === 'admitted' || canTransition(s, 'admitted'), `${s} → admitted`);
    assert.ok(canTransition(s, 'failed'), `${s} → failed`);
  }
  assert.deepEqual(TIMED_STATES.map(timeoutCode), ['BOOT_TIMEOUT', 'BOOT_TIMEOUT', 'BOOT_TIMEOUT', 'INSTALL_TIMEOUT', 'INSTALL_TIMEOUT']);
  assert.deepEqual([0, 1, 2, 3].map((n) => recoveryAction(n, 2)), ['retry', 'retry', 'fail', 'fail']);
  assert.equal(recoveryAction(0, 0), 'fail');
});

test('cancel: a queued node may go back to registered', () => {
  assert.ok(canTransition('queued', 'registered'));
});
