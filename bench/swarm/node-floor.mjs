// bench/swarm/node-floor.mjs: the least CPU a Node 20 process spends receiving a file over TCP and
// doing what any BitTorrent client must do with it, without BitTorrent: the lower bound for an
// agent written in Node, beside aria2c's CPU for the same bytes in bench/swarm's rows.
//
//   node bench/swarm/node-floor.mjs <file> [rounds]
//
// A child process sends <file> over loopback TCP; this process receives it into one reused 64 KiB
// read buffer (`onread`), and per step adds: `recv` only receives; `hash` also copies the bytes
// into 256 KiB pieces and SHA-1s each (BEP 3); `write` copies into pieces and writes each to a
// file (fs.write, the page cache) without hashing; `all` does both. Each step runs in a fresh
// process `rounds` times (default 3) and prints its CPU ms (user + sys, from process.cpuUsage, so
// Node's own start, 20–30 ms here, is included) and the file's bytes. Loopback, no root.
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, openSync, statSync, unlinkSync, write } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PIECE = 256 * 1024;
const self = fileURLToPath(import.meta.url);
const [role, file, arg] = process.argv.slice(2);

/** The sender: serves `file` once on a free loopback port, printed on stdout. */
function send() {
  const server = createServer((socket) => {
    createReadStream(file, { highWaterMark: 1 << 20 }).pipe(socket);
    socket.on('close', () => server.close());
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
}

/** The receiver for one step; prints `step cpu_ms bytes`. */
function receive(step, port) {
  const hash = step === 'hash' || step === 'all';
  const store = step === 'write' || step === 'all';
  const out = join(tmpdir(), `node-floor-${process.pid}.bin`);
  const fd = store ? openSync(out, 'w') : -1;
  const read = Buffer.allocUnsafe(64 * 1024);
  let piece = Buffer.allocUnsafe(PIECE);
  let filled = 0;
  let index = 0;
  let bytes = 0;
  let writing = 0;
  let ended = false;
  const finish = () => {
    if (!ended || writing > 0) return;
    const cpu = process.cpuUsage();
    if (store) {
      closeSync(fd);
      unlinkSync(out);
    }
    process.stdout.write(`${step}\t${Math.round((cpu.user + cpu.system) / 1000)}\t${bytes}\n`);
  };
  const onPiece = (length) => {
    if (hash) createHash('sha1').update(piece.subarray(0, length)).digest();
    if (store) {
      const buf = piece;
      writing++;
      write(fd, buf, 0, length, index * PIECE, () => {
        writing--;
        finish();
      });
      piece = Buffer.allocUnsafe(PIECE);
    }
    index++;
    filled = 0;
  };
  const socket = connect({
    port,
    host: '127.0.0.1',
    onread: {
      buffer: read,
      callback: (n, buf) => {
        bytes += n;
        if (!hash && !store) return;
        for (let at = 0; at < n; ) {
          const take = Math.min(PIECE - filled, n - at);
          piece.set(buf.subarray(at, at + take), filled);
          filled += take;
          at += take;
          if (filled === PIECE) onPiece(PIECE);
        }
      },
    },
  });
  socket.on('end', () => {
    if (filled > 0 && (hash || store)) onPiece(filled);
    ended = true;
    finish();
  });
}

/**
 * Runs `node self <args>` and resolves with its stdout. Without NODE_EXTRA_CA_CERTS, as run.sh
 * starts the swarm nodes: the install environment has none, and Debian's bundle costs 60 CPU-ms.
 */
function run(args, onLine) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const child = spawn(process.execPath, [self, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      onLine?.(out);
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args[0]} exited ${code}`))));
  });
}

async function main() {
  const target = role;
  const rounds = Number(file ?? 3);
  const size = statSync(target).size;
  process.stdout.write(`# ${target}: ${size} bytes, node ${process.version}\nstep\tcpu_ms\tbytes\n`);
  for (let r = 0; r < rounds; r++) {
    for (const step of ['recv', 'hash', 'write', 'all']) {
      let port;
      const portKnown = new Promise((resolve) => {
        port = resolve;
      });
      const sender = run(['--send', target], (out) => out.includes('\n') && port(Number(out.trim())));
      const line = await run(['--recv', step, String(await portKnown)]);
      await sender;
      process.stdout.write(line);
    }
  }
}

if (role === '--send') send();
else if (role === '--recv') receive(file, Number(arg));
else if (role) await main();
else {
  process.stderr.write('usage: node bench/swarm/node-floor.mjs <file> [rounds]\n');
  process.exit(2);
}
