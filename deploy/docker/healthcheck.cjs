// Container health check of the swarmboot image (Dockerfile HEALTHCHECK, docker-compose.yml):
// GET /healthz on the ops endpoint of the service this container runs. Exit 0 when it answers
// 200, 1 otherwise (Docker's contract).
//
// The port differs per service, so: SWARMBOOT_OPS_LISTEN when set, else the default of the
// service named on the command line of PID 1 (`swarmboot <service>`), read from /proc.
// CommonJS on purpose: no package.json "type" applies to this file.
'use strict';
const http = require('node:http');
const fs = require('node:fs');

// DefaultPorts.ops in packages/contracts/src/ports.ts
const DEFAULT_OPS_PORT = { dhcp: 9101, tftp: 9102, tracker: 9103, seeder: 9104, scheduler: 9105, logsink: 9106, power: 9107, up: 9105 };

function service(cmdline) {
  const args = cmdline.split('\0').filter(Boolean);
  return args.find((a) => Object.hasOwn(DEFAULT_OPS_PORT, a));
}

function target(env, cmdline) {
  const listen = env.SWARMBOOT_OPS_LISTEN;
  if (listen) {
    const m = /^(.*):(\d{1,5})$/.exec(listen);
    if (!m) throw new Error(`SWARMBOOT_OPS_LISTEN=${JSON.stringify(listen)}: expected host:port`);
    let host = m[1].replace(/^\[(.*)\]$/, '$1');
    // a wildcard bind is reachable on loopback
    if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
    if (host === '::') host = '::1';
    return { host, port: Number(m[2]) };
  }
  const svc = service(cmdline);
  if (!svc) throw new Error('cannot tell the service: set SWARMBOOT_OPS_LISTEN');
  return { host: '127.0.0.1', port: DEFAULT_OPS_PORT[svc] };
}

function main() {
  let t;
  try {
    let cmdline = '';
    try {
      cmdline = fs.readFileSync('/proc/1/cmdline', 'latin1');
    } catch {
      // not Linux, or /proc hidden: SWARMBOOT_OPS_LISTEN must say it
    }
    t = target(process.env, cmdline);
  } catch (err) {
    console.error(`healthcheck: ${err.message}`);
    process.exit(1);
  }
  const req = http.get({ host: t.host, port: t.port, path: '/healthz', timeout: 4000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => (body += chunk));
    res.on('end', () => {
      console.log(`healthcheck: ${t.host}:${t.port} ${res.statusCode} ${body.slice(0, 500)}`);
      process.exit(res.statusCode === 200 ? 0 : 1);
    });
  });
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (err) => {
    console.error(`healthcheck: ${t.host}:${t.port} ${err.message}`);
    process.exit(1);
  });
}

if (require.main === module) main();
module.exports = { target, service };
