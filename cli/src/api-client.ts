import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { SwarmbootError, type Deployment, type DeploymentInput, type ImageFormat, type ImageRecord, type Node, type NodeInput } from '@swarmboot/contracts';

/**
 * A small client of the public APIs (scheduler `/v1`, seeder image upload), as a ticketing system
 * would call them. Non-2xx answers throw SwarmbootError with the server's `code`.
 */
export class SwarmbootClient {
  constructor(
    readonly apiUrl: string,
    readonly seederUrl: string,
  ) {}

  /**
   * Streams FILE to the seeder (PUT /v1/images/:name); resolves with the catalog record. Without
   * `format` the seeder reads it from the bytes; `bootable` (default false) lets real nodes get it.
   */
  async addImage(file: string, name: string, traits: { format?: ImageFormat; bootable?: boolean } = {}): Promise<ImageRecord> {
    const size = (await stat(file)).size;
    const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
    const q = new URLSearchParams({ file: basename(file) });
    if (traits.format !== undefined) q.set('format', traits.format);
    if (traits.bootable !== undefined) q.set('bootable', String(traits.bootable));
    const url = `${this.seederUrl}/v1/images/${encodeURIComponent(name)}?${q.toString()}`;
    return this.send<ImageRecord>('PUT', url, body, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
  }

  images(): Promise<{ images: ImageRecord[] }> {
    return this.send('GET', `${this.apiUrl}/v1/images`);
  }
  importNodes(nodes: NodeInput[]): Promise<{ imported: number; updated: number }> {
    return this.send('POST', `${this.apiUrl}/v1/nodes/import`, JSON.stringify({ nodes }), { 'content-type': 'application/json' });
  }
  importNodesCsv(csv: string): Promise<{ imported: number; updated: number }> {
    return this.send('POST', `${this.apiUrl}/v1/nodes/import`, csv, { 'content-type': 'text/csv' });
  }
  deploy(input: DeploymentInput): Promise<Deployment> {
    return this.send('POST', `${this.apiUrl}/v1/deployments`, JSON.stringify(input), { 'content-type': 'application/json' });
  }
  deployment(id: string): Promise<Deployment> {
    return this.send('GET', `${this.apiUrl}/v1/deployments/${encodeURIComponent(id)}`);
  }
  deployments(): Promise<{ deployments: Deployment[] }> {
    return this.send('GET', `${this.apiUrl}/v1/deployments`);
  }
  release(id: string): Promise<Deployment> {
    return this.send('POST', `${this.apiUrl}/v1/deployments/${encodeURIComponent(id)}/release`, '{}', { 'content-type': 'application/json' });
  }
  node(id: string): Promise<Node> {
    return this.send('GET', `${this.apiUrl}/v1/nodes/${encodeURIComponent(id)}`);
  }
  logs(id: string, after?: string, limit = 1000): Promise<{ lines: { id: string; line: unknown }[] }> {
    const q = new URLSearchParams({ limit: String(limit), ...(after ? { after } : {}) });
    return this.send('GET', `${this.apiUrl}/v1/nodes/${encodeURIComponent(id)}/logs?${q.toString()}`);
  }

  private async send<T>(method: string, url: string, body?: string | ReadableStream<Uint8Array>, headers?: Record<string, string>): Promise<T> {
    let res: Response;
    try {
      res = await fetch(url, { method, ...(body === undefined ? {} : { body, duplex: 'half' }), ...(headers ? { headers } : {}) } as RequestInit);
    } catch (err) {
      throw new SwarmbootError('API_UNREACHABLE', `${method} ${url}: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    if (!res.ok) {
      let code = 'API_ERROR';
      let message = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { code?: string; message?: string };
        code = parsed.code ?? code;
        message = parsed.message ?? message;
      } catch {
        /* not JSON */
      }
      throw new SwarmbootError(code, `${method} ${url}: ${res.status} ${message}`);
    }
    return JSON.parse(text) as T;
  }
}
