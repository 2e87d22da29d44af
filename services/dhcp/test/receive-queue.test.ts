import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { ReceiveQueue, type QueueDropReason, type ReceiveQueueOptions } from '../src/domain/receive-queue.js';

/** A job whose work is held until the test settles it. */
interface Job {
  name: string;
  release: () => void;
  fail: (err: Error) => void;
}

/** A queue on a fake clock whose work waits for the test; records what ran, dropped and failed. */
function harness(bounds: Pick<ReceiveQueueOptions<Job>, 'max' | 'maxAgeMs' | 'concurrency'>, work?: (job: Job) => Promise<void>) {
  let time = 0;
  const started: string[] = [];
  const dropped: [QueueDropReason, string][] = [];
  const errors: [string, unknown][] = [];
  let running = 0;
  let maxRunning = 0;
  const queue = new ReceiveQueue<Job>({
    ...bounds,
    now: () => time,
    work:
      work ??
      (async (job) => {
        started.push(job.name);
        running++;
        maxRunning = Math.max(maxRunning, running);
        try {
          await new Promise<void>((resolve, reject) => {
            job.release = resolve;
            job.fail = reject;
          });
        } finally {
          running--;
        }
      }),
    onDrop: (reason, job) => dropped.push([reason, job.name]),
    onError: (err, job) => errors.push([job.name, err]),
  });
  const jobs = new Map<string, Job>();
  const push = (key: string, name = key): boolean => {
    const job: Job = { name, release: () => assert.fail(`${name} is not in work`), fail: () => assert.fail(`${name} is not in work`) };
    jobs.set(name, job);
    return queue.push(key, job);
  };
  return {
    queue,
    push,
    job: (name: string) => jobs.get(name)!,
    advance: (ms: number) => (time += ms),
    started,
    dropped,
    errors,
    maxRunning: () => maxRunning,
  };
}

test('a retransmission of a request in work or still waiting is dropped as a duplicate', async () => {
  const h = harness({ max: 10, maxAgeMs: 4000, concurrency: 1 });
  assert.equal(h.push('a', 'a1'), true);
  assert.equal(h.push('b', 'b1'), true);
  assert.deepEqual(h.started, ['a1'], 'b waits behind a');
  assert.equal(h.push('a', 'a2'), false, 'a is in work');
  assert.equal(h.push('b', 'b2'), false, 'b is waiting');
  assert.deepEqual(h.dropped, [
    ['duplicate', 'a2'],
    ['duplicate', 'b2'],
  ]);
  h.job('a1').release();
  await tick();
  assert.deepEqual(h.started, ['a1', 'b1']);
});

test('a request that waited longer than maxAgeMs of the clock is dropped as stale when its turn comes', async () => {
  const h = harness({ max: 10, maxAgeMs: 4000, concurrency: 1 });
  h.push('a');
  h.push('b');
  h.advance(1000);
  h.push('c');
  h.advance(3001); // b waited 4001 ms, c 3001 ms
  h.job('a').release();
  await tick();
  assert.deepEqual(h.dropped, [['stale', 'b']]);
  assert.deepEqual(h.started, ['a', 'c']);
  // a stale request frees its key: the client's retransmission is queued
  assert.equal(h.push('b', 'b-again'), true);
});

test('a request that waited exactly maxAgeMs is still worked', async () => {
  const h = harness({ max: 10, maxAgeMs: 4000, concurrency: 1 });
  h.push('a');
  h.push('b');
  h.advance(4000);
  h.job('a').release();
  await tick();
  assert.deepEqual(h.dropped, []);
  assert.deepEqual(h.started, ['a', 'b']);
});

test('beyond max waiting requests new ones are dropped as queue_full; requests in work do not count', async () => {
  const h = harness({ max: 2, maxAgeMs: 4000, concurrency: 1 });
  for (const k of ['a', 'b', 'c', 'd']) h.push(k);
  assert.deepEqual(h.started, ['a']);
  assert.equal(h.queue.depth, 2);
  assert.deepEqual(h.dropped, [['queue_full', 'd']]);
  h.job('a').release();
  await tick();
  assert.equal(h.queue.depth, 1);
  assert.equal(h.push('e'), true, 'a slot freed');
});

test('no more than concurrency requests are in work at once, and every queued one is worked', async () => {
  const h = harness({ max: 100, maxAgeMs: 4000, concurrency: 3 });
  const names = Array.from({ length: 10 }, (_, i) => `n${i}`);
  for (const n of names) h.push(n);
  assert.equal(h.started.length, 3);
  while (h.started.length < names.length || h.queue.depth > 0) {
    for (const n of h.started) h.job(n).release();
    await tick();
  }
  for (const n of h.started) h.job(n).release();
  await tick();
  assert.equal(h.maxRunning(), 3);
  assert.deepEqual(h.started, names, 'in arrival order');
});

test('tracked operations still running hold the second gate after their request ended', async () => {
  let finishOp!: () => void;
  const started: string[] = [];
  const queue: ReceiveQueue<{ name: string }> = new ReceiveQueue<{ name: string }>({
    max: 10,
    maxAgeMs: 4000,
    concurrency: 1,
    now: () => 0,
    work: async (job) => {
      started.push(job.name);
      // the request gives up on its operation (a timeout) while the operation keeps running
      if (job.name === 'a') void queue.track(new Promise<void>((resolve) => (finishOp = resolve)));
    },
    onDrop: () => assert.fail('nothing is dropped'),
    onError: (err) => assert.fail(String(err)),
  });
  queue.push('a', { name: 'a' });
  queue.push('b', { name: 'b' });
  await tick();
  assert.deepEqual(started, ['a'], 'b waits for the operation a left running');
  finishOp();
  await tick();
  assert.deepEqual(started, ['a', 'b']);
});

test('track resolves and rejects as the operation does', async () => {
  const queue = new ReceiveQueue<never>({ max: 1, maxAgeMs: 1, concurrency: 1, work: async () => undefined, onDrop: () => undefined, onError: () => undefined });
  assert.equal(await queue.track(Promise.resolve(42)), 42);
  await assert.rejects(queue.track(Promise.reject(new Error('redis gone'))), /redis gone/);
});

test('keys and slots are freed when work ends, also when it rejects or throws', async () => {
  const h = harness({ max: 10, maxAgeMs: 4000, concurrency: 1 });
  h.push('a', 'a1');
  h.job('a1').fail(new Error('boom'));
  await tick();
  assert.equal(h.errors.length, 1);
  assert.deepEqual(h.errors[0]?.[0], 'a1');
  assert.equal(h.push('a', 'a2'), true, 'the key is free again');
  assert.deepEqual(h.started, ['a1', 'a2'], 'the slot is free again');

  const thrown = new Error('sync');
  const errors: unknown[] = [];
  let calls = 0;
  const q = new ReceiveQueue<string>({
    max: 10,
    maxAgeMs: 4000,
    concurrency: 1,
    now: () => 0,
    work: (job) => {
      calls++;
      if (job === 'throw') throw thrown;
      return Promise.resolve();
    },
    onDrop: (reason) => assert.fail(`dropped: ${reason}`),
    onError: (err) => errors.push(err),
  });
  q.push('k', 'throw');
  q.push('other', 'fine');
  await tick();
  assert.deepEqual(errors, [thrown]);
  assert.equal(q.push('k', 'fine'), true);
  await tick();
  assert.equal(calls, 3);
});
