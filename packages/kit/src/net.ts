import { connect as tcpConnect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Normalises a MAC to lower-case colon-separated form (`AA-BB-…` → `aa:bb:…`); undefined when it is not one. */
export function normalizeMac(mac: string): string | undefined {
  const hex = mac.toLowerCase().replace(/[:-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

/** IPv4 dotted quad → unsigned 32-bit integer; throws on anything else. */
export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${ip}`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new Error(`not an IPv4 address: ${ip}`);
    n = n * 256 + Number(p);
  }
  return n >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * Polls a TCP connect to 127.0.0.1:`port` every `everyMs` (ms) until one succeeds (true), or
 * `alive()` turns false, or `timeoutMs` (ms) has passed (false). For a just-spawned server
 * (nats-server, redis-server) whose readiness is its listening socket.
 */
export async function waitForListener(port: number, opts: { timeoutMs: number; everyMs: number; alive: () => boolean }): Promise<boolean> {
  const deadline = Date.now() + opts.timeoutMs;
  while (opts.alive()) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    if (Date.now() > deadline) return false;
    await sleep(opts.everyMs);
  }
  return false;
}
