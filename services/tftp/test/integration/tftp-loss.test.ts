import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetPair, netnsUnavailable, sh, stopChild, waitForOutput } from './netns.js';

/**
 * Every real client completes a byte-identical 1 MB transfer from our server while the server's
 * side of the link drops 1 % and 5 % of its datagrams (nftables in the server's namespace).
 *
 * The bound: a lock-step client (tftp-hpa, atftp, curl: their own timeouts are 1–5 s) would
 * wait its whole timeout for every lost block if the server did not resend first; at 5 % of
 * ~2 050 DATA blocks that is ~100 losses × ≥ 1 s ≥ 100 s (dnsmasq took 1 min 55 s at 3 % with
 * atftp). Our server resends after its measured RTO (≥ 40 ms on this link), so each loss costs
 * ~40–80 ms: ~100 × 80 ms ≈ 8 s at 5 % in the worst case measured, plus ~1 s of lock-step
 * transfer. LOSS_BOUND_S = 20 s per transfer leaves 2× headroom for a loaded 2-core CI machine
 * and still fails any server that lets a client time out more than a handful of times.
 */
const LOSS_BOUND_S = 20;
const SIZE = 1_000_000;
const indexJs = fileURLToPath(new URL('../../src/index.js', import.meta.url));

const skip = await netnsUnavailable();
let net: NetPair;
let server: ChildProcess | undefined;
let base: string;
let data: Buffer;

before(async () => {
  if (skip) return;
  base = await mkdtemp(join(tmpdir(), 'sb-tftp-loss-'));
  await sh('mkdir', ['-p', join(base, 'root'), join(base, 'out')]);
  data = randomBytes(SIZE);
  await writeFile(join(base, 'root', 'one-mb.bin'), data);
  net = await new NetPair('tfl').create();
  server = net.spawn(net.server, process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(indexJs)}).then((m) => m.main())`], {
    ...process.env,
    SWARMBOOT_TFTP_EVENTS: 'off',
    SWARMBOOT_LOG_LEVEL: 'info',
    SWARMBOOT_TFTP_ROOT: join(base, 'root'),
    SWARMBOOT_TFTP_LISTEN: `${net.serverIp}:69`,
    SWARMBOOT_OPS_LISTEN: '127.0.0.1:0',
  });
  await waitForOutput(server, /tftp listening/);
});

after(async () => {
  if (skip) return;
  await stopChild(server);
  await net?.destroy();
  await rm(base, { recursive: true, force: true });
});

const tftpGetScript = (ip: string, out: string, windowsize: number): string =>
  `import(${JSON.stringify(indexJs)}).then(async (m) => { const r = await m.tftpGet({ host: '${ip}', port: 69, file: 'one-mb.bin', blksize: 1432, tsize: true, windowsize: ${windowsize}, timeoutMs: 1000, retries: 10 }); (await import('node:fs')).writeFileSync('${out}', r.data); })`;

const clients: { name: string; run: (out: string) => [string, string[]] }[] = [
  { name: 'tftp-hpa tftp (lock-step, 512)', run: (out) => ['tftp', [net.serverIp, '69', '-m', 'binary', '-c', 'get', 'one-mb.bin', out]] },
  { name: 'atftp (lock-step, blksize 1428)', run: (out) => ['atftp', ['--option', 'blksize 1428', '-g', '-r', 'one-mb.bin', '-l', out, net.serverIp, '69']] },
  { name: 'atftp (windowsize 8, blksize 1428)', run: (out) => ['atftp', ['--option', 'blksize 1428', '--option', 'windowsize 8', '-g', '-r', 'one-mb.bin', '-l', out, net.serverIp, '69']] },
  { name: 'curl tftp:// (lock-step, 512, tsize)', run: (out) => ['curl', ['-sS', '--max-time', String(LOSS_BOUND_S * 3), '-o', out, `tftp://${net.serverIp}/one-mb.bin`]] },
  { name: 'tftpGet (windowsize 8, blksize 1432)', run: (out) => [process.execPath, ['--input-type=module', '-e', tftpGetScript(net.serverIp, out, 8)]] },
];

for (const percent of [1, 5]) {
  test(`at ${percent} % loss on the server's side every real client completes a byte-identical 1 MB transfer within ${LOSS_BOUND_S} s`, { skip: skip ?? false, timeout: 170_000 }, async (t) => {
    await net.loss(percent);
    const times: string[] = [];
    try {
      for (const c of clients) {
        const out = join(base, 'out', `${percent}-${c.name.replace(/\W+/g, '_')}`);
        const [cmd, args] = c.run(out);
        const started = performance.now();
        await net.exec(net.client, cmd, args, LOSS_BOUND_S * 3 * 1000).catch((err: Error) => assert.fail(`${c.name}: ${err.message}`));
        const seconds = (performance.now() - started) / 1000;
        times.push(`${c.name}: ${seconds.toFixed(2)} s`);
        const got = await readFile(out);
        assert.equal(got.length, SIZE, `${c.name}: size`);
        assert.ok(got.equals(data), `${c.name}: bytes differ`);
        assert.ok(seconds <= LOSS_BOUND_S, `${c.name} took ${seconds.toFixed(1)} s at ${percent} % loss (bound ${LOSS_BOUND_S} s)`);
      }
    } finally {
      t.diagnostic(times.join('; '));
      await net.loss(0);
    }
  });
}
