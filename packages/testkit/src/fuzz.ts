import assert from 'node:assert/strict';
import fc from 'fast-check';

/*
 * Codec fuzzing with fast-check, in two sizes from one set of property definitions: a test file
 * runs a codec's suite at about 10,000 cases (`npm test`), `bench/fuzz/run.sh` runs the same
 * suite at a million or more (issue 15). A suite is a list of properties; the cases of a run are
 * split evenly among them.
 */

/** One property of a codec: (a) no crash on arbitrary input, (b) a round trip, (c) mutations of valid encodings. */
export interface FuzzProperty {
  name: string;
  /** a sync or async fast-check property */
  property: fc.IRawProperty<never> | fc.IRawProperty<[unknown]> | fc.IRawProperty<unknown[]>;
}

/** A codec's properties; `open` may start what the codec's request path needs (the tracker's Redis) and `close` stops it. */
export interface FuzzSuite {
  codec: string;
  open(): Promise<{ properties: FuzzProperty[]; close?: () => Promise<void> }>;
}

export interface FuzzPropertyResult {
  name: string;
  /** cases run (fewer than asked when a property failed) */
  cases: number;
  /** 0 or 1: fast-check stops at the first failing case and shrinks it */
  crashes: number;
  /** the shrunk counterexample and the error, when it failed */
  failure?: string;
}

export interface FuzzSuiteResult {
  codec: string;
  seed: number;
  cases: number;
  crashes: number;
  ms: number;
  properties: FuzzPropertyResult[];
}

/**
 * Runs every property of `suite` with `cases` cases in all (split evenly, rounded up) from `seed`.
 * Never throws for a failing property: the failure (with fast-check's seed, path and shrunk
 * counterexample, enough to replay it) is in the result.
 */
export async function runFuzzSuite(suite: FuzzSuite, opts: { cases: number; seed: number; log?: (msg: string) => void }): Promise<FuzzSuiteResult> {
  const started = performance.now();
  const { properties, close } = await suite.open();
  const each = Math.max(1, Math.ceil(opts.cases / properties.length));
  const results: FuzzPropertyResult[] = [];
  try {
    for (const p of properties) {
      opts.log?.(`${suite.codec}: ${p.name}: ${each} cases from seed ${opts.seed}`);
      // checks of a sync property return the details, those of an async one a promise of them
      const details = (await fc.check(p.property as fc.IRawProperty<unknown[]>, { numRuns: each, seed: opts.seed, endOnFailure: false })) as fc.RunDetails<unknown[]>;
      results.push({
        name: p.name,
        cases: details.numRuns,
        crashes: details.failed ? 1 : 0,
        ...(details.failed ? { failure: `${fc.defaultReportMessage(details) ?? 'failed'}\n${String(details.errorInstance)}` } : {}),
      });
    }
  } finally {
    await close?.();
  }
  return {
    codec: suite.codec,
    seed: opts.seed,
    cases: results.reduce((n, r) => n + r.cases, 0),
    crashes: results.reduce((n, r) => n + r.crashes, 0),
    ms: Math.round(performance.now() - started),
    properties: results,
  };
}

/** Cases per codec in the test suite: `SWARMBOOT_FUZZ_CASES`, else 10,000 (issue 15's CI size). */
export function fuzzCases(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.SWARMBOOT_FUZZ_CASES ?? 10_000);
  return Number.isInteger(n) && n > 0 ? n : 10_000;
}

/** Seed of the test suite: `SWARMBOOT_FUZZ_SEED`, else a fresh one (printed by the test, so a failure can be replayed). */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env.SWARMBOOT_FUZZ_SEED);
  return Number.isInteger(s) ? s : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
}

/**
 * The test-suite form: runs `suite` at fuzzCases() cases from fuzzSeed(), reports the seed and
 * counts through `diagnostic` (node:test's `t.diagnostic`), and fails with every property's
 * counterexample when one failed.
 */
export async function assertFuzzSuite(suite: FuzzSuite, diagnostic: (msg: string) => void = () => undefined): Promise<FuzzSuiteResult> {
  const r = await runFuzzSuite(suite, { cases: fuzzCases(), seed: fuzzSeed() });
  diagnostic(`${r.codec}: ${r.cases} cases, ${r.crashes} crashes, seed ${r.seed} (SWARMBOOT_FUZZ_SEED=${r.seed} replays it), ${r.ms} ms`);
  assert.deepEqual(
    r.properties.filter((p) => p.crashes > 0).map((p) => `${p.name}: ${p.failure}`),
    [],
    `${r.codec} fuzzing failed with seed ${r.seed}`,
  );
  return r;
}

/**
 * Most time one decode may take (ms) before a case counts as a hang: far above any codec's cost on
 * 64 KiB, far below a quadratic blow-up. A case over it is timed once more and fails only when
 * slow again, so that a GC pause or a loaded machine (load 10 on 2 cores, measured here while
 * other builds ran) is not taken for a hang.
 */
export const CASE_TIME_LIMIT_MS = 1000;

function settle<O>(decode: () => O, expected: (err: unknown) => boolean): O | undefined {
  try {
    return decode();
  } catch (err) {
    if (!expected(err)) throw new Error(`undocumented error: ${String(err)}`, { cause: err });
    return undefined;
  }
}

/**
 * Calls `decode(input)` and returns its result, or undefined when it threw an error that
 * `expected` accepts (the codec's documented error). Anything else thrown fails the case, and so
 * does a call slower than CASE_TIME_LIMIT_MS twice in a row.
 */
export function decodeOrReject<I, O>(decode: (input: I) => O, input: I, expected: (err: unknown) => boolean): O | undefined {
  for (let attempt = 1; ; attempt++) {
    const t0 = performance.now();
    const out = settle(() => decode(input), expected);
    const ms = performance.now() - t0;
    if (ms <= CASE_TIME_LIMIT_MS) return out;
    if (attempt === 2) throw new Error(`decode took ${ms.toFixed(0)} ms (> ${CASE_TIME_LIMIT_MS} ms) twice`);
  }
}

/** The async form of decodeOrReject. */
export async function decodeOrRejectAsync<I, O>(decode: (input: I) => Promise<O>, input: I, expected: (err: unknown) => boolean): Promise<O | undefined> {
  for (let attempt = 1; ; attempt++) {
    const t0 = performance.now();
    let out: O | undefined;
    try {
      out = await decode(input);
    } catch (err) {
      if (!expected(err)) throw new Error(`undocumented error: ${String(err)}`, { cause: err });
    }
    const ms = performance.now() - t0;
    if (ms <= CASE_TIME_LIMIT_MS) return out;
    if (attempt === 2) throw new Error(`decode took ${ms.toFixed(0)} ms (> ${CASE_TIME_LIMIT_MS} ms) twice`);
  }
}

/** Arbitrary bytes as a Buffer, 0..maxLength long. */
export function bytes(maxLength = 1500): fc.Arbitrary<Buffer> {
  return fc.uint8Array({ maxLength }).map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
}

type Mutation = { kind: 'flip'; at: number; bit: number } | { kind: 'set'; at: number; value: number } | { kind: 'truncate'; at: number } | { kind: 'extend'; tail: Uint8Array } | { kind: 'insert'; at: number; tail: Uint8Array } | { kind: 'delete'; at: number; n: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), tail: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), tail: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
);

function apply(buf: Buffer, m: Mutation): Buffer {
  const at = buf.length === 0 ? 0 : m.kind === 'extend' ? 0 : m.at % (buf.length + (m.kind === 'truncate' || m.kind === 'insert' ? 1 : 0));
  switch (m.kind) {
    case 'flip': {
      if (buf.length === 0) return buf;
      const out = Buffer.from(buf);
      out[at] = out[at]! ^ (1 << m.bit);
      return out;
    }
    case 'set': {
      if (buf.length === 0) return buf;
      const out = Buffer.from(buf);
      out[at] = m.value;
      return out;
    }
    case 'truncate':
      return Buffer.from(buf.subarray(0, at));
    case 'extend':
      return Buffer.concat([buf, m.tail]);
    case 'insert':
      return Buffer.concat([buf.subarray(0, at), m.tail, buf.subarray(at)]);
    case 'delete':
      return Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.n)]);
  }
}

/**
 * Valid encodings from `valid`, then 1–4 mutations each: a bit flipped, an octet set, the tail cut,
 * bytes appended, inserted or deleted (issue 15 (c)).
 */
export function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([buf, ms]) => ms.reduce(apply, buf));
}
