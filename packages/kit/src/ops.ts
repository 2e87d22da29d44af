import { createServer, type Server } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './logger.js';

export type HealthCheck = () => Promise<boolean> | boolean;

/**
 * The operations endpoint of a service: `GET /healthz` (200 when every check passes, else 503,
 * body `{status, checks}`) and `GET /metrics` (Prometheus text format).
 */
export async function startOpsServer(opts: { host: string; port: number; checks: Record<string, HealthCheck>; registry: Registry; log: Logger }): Promise<Server> {
  collectDefaultMetrics({ register: opts.registry });
  const server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/healthz' || req.url === '/readyz') {
        const checks: Record<string, boolean> = {};
        for (const [name, check] of Object.entries(opts.checks)) {
          checks[name] = await Promise.resolve()
            .then(check)
            .catch(() => false);
        }
        const ok = Object.values(checks).every(Boolean);
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: ok ? 'ok' : 'unhealthy', checks }));
      } else if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': opts.registry.contentType });
        res.end(await opts.registry.metrics());
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'NOT_FOUND', message: 'try /healthz or /metrics' }));
      }
    })().catch((err: unknown) => {
      opts.log.error({ err }, 'ops endpoint failed');
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  opts.log.info({ port: opts.port }, 'ops endpoint listening (/healthz, /metrics)');
  return server;
}

export { Registry } from 'prom-client';
