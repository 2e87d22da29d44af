import { request as httpRequestRaw, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequestRaw } from 'node:https';
import { Readable } from 'node:stream';

/** An HTTP answer read to its end. */
export interface HttpAnswer {
  status: number;
  /** the status is 2xx (as fetch's `Response.ok`) */
  ok: boolean;
  headers: IncomingHttpHeaders;
  /** the whole body (bytes) */
  body: Buffer;
}

export interface HttpRequestOptions {
  headers?: Record<string, string>;
  /** a string or bytes, or a stream piped as the body (give its content-length in `headers`) */
  body?: string | Uint8Array | Readable;
  /** aborts the request: the promise rejects with the signal's AbortError */
  signal?: AbortSignal | undefined;
}

/** Redirects (RFC 9110 §15.4) a GET or HEAD follows before the 3xx itself is the answer. */
export const MAX_REDIRECTS = 5;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * One HTTP/1.1 exchange on node:http (node:https for an https URL), with Node's default
 * keep-alive agent; resolves with the status, headers and whole body of the answer, whatever its
 * status. A GET or HEAD follows up to MAX_REDIRECTS redirects, as fetch does; other methods get
 * the 3xx. Rejects with Node's error when no answer comes (refused, reset, "socket hang up") or
 * the answer breaks off, with the AbortError when `signal` aborts.
 *
 * Not `fetch`: Node 20's fetch (undici) parses HTTP with llhttp compiled to WebAssembly, which V8
 * compiles and tiers up in each process on its first request. Measured on the bench machine
 * (2 vCPUs, Node 20.20; two GETs of 20 kB on loopback, 3 runs each): 130–175 CPU-ms per process
 * by 1.5 s after the first fetch, against 11–14 ms with node:http (its llhttp is native). In
 * bench/swarm at N = 16, compiling it was 0.2 of a node's 3.2 CPU-s (perf, 499 Hz;
 * docs/benchmarks.md, "Issue 12, ninth step").
 */
export async function httpRequest(method: string, url: string, opts: HttpRequestOptions = {}): Promise<HttpAnswer> {
  let target = new URL(url);
  for (let redirects = 0; ; redirects++) {
    const answer = await exchange(method, target, opts);
    const location = answer.headers.location;
    if ((method !== 'GET' && method !== 'HEAD') || !REDIRECTS.has(answer.status) || location === undefined || redirects === MAX_REDIRECTS) return answer;
    target = new URL(location, target);
  }
}

function exchange(method: string, url: URL, opts: HttpRequestOptions): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequestRaw : httpRequestRaw;
    const req = send(url, { method, headers: opts.headers ?? {}, ...(opts.signal === undefined ? {} : { signal: opts.signal }) }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        resolve({ status, ok: status >= 200 && status < 300, headers: res.headers, body: Buffer.concat(chunks) });
      });
      // closed before its end (the server or the connection went away mid-body)
      res.on('close', () => {
        if (!res.complete) reject(new Error(`${method} ${url.href}: the answer broke off`));
      });
    });
    req.on('error', reject);
    const body = opts.body;
    if (body instanceof Readable) {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    } else req.end(body);
  });
}
