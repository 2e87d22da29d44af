// Bench client: K concurrent downloads of one file with swarmboot's own tftpGet (lock-step or
// RFC 7440 windowsize), each hashed as it arrives (nothing kept in memory) and compared with the
// expected sha256. Prints one JSON line: per-client seconds, failures, client-side resends.
// Usage: node clients.mjs HOST PORT FILE K WINDOWSIZE BLKSIZE SHA256 [TIMEOUT_MS]
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const [host, port, file, k, windowsize, blksize, sha, timeoutMs = '1000'] = process.argv.slice(2);
const { tftpGet } = await import(fileURLToPath(new URL('../../services/tftp/dist/src/index.js', import.meta.url)));

const started = performance.now();
const results = await Promise.all(
  Array.from({ length: Number(k) }, async (_, i) => {
    const hash = createHash('sha256');
    const t0 = performance.now();
    try {
      const r = await tftpGet({
        host, port: Number(port), file, blksize: Number(blksize), tsize: true,
        ...(Number(windowsize) > 1 ? { windowsize: Number(windowsize) } : {}),
        // a PXE-like client: 1 s timeout, gives up after 10 silent timeouts in a row
        timeoutMs: Number(timeoutMs), retries: 10,
        onData: (chunk) => hash.update(chunk),
      });
      const ok = hash.digest('hex') === sha;
      return { i, ok, error: ok ? undefined : 'sha256 mismatch', seconds: (performance.now() - t0) / 1000, resends: r.retransmissions, windowsize: r.windowsize };
    } catch (err) {
      return { i, ok: false, error: String(err.message ?? err).slice(0, 200), seconds: (performance.now() - t0) / 1000, resends: 0 };
    }
  }),
);
const makespan = (performance.now() - started) / 1000;
const times = results.filter((r) => r.ok).map((r) => r.seconds).sort((a, b) => a - b);
const pct = (p) => (times.length ? times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)] : NaN);
console.log(JSON.stringify({
  completed: times.length,
  failed: results.length - times.length,
  p50: pct(50), p99: pct(99), makespan,
  clientResends: results.reduce((a, r) => a + r.resends, 0),
  granted: [...new Set(results.map((r) => r.windowsize).filter((w) => w !== undefined))],
  errors: [...new Set(results.filter((r) => !r.ok).map((r) => r.error))].slice(0, 3),
}));
