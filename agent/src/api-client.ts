import { SwarmbootError, type AgentReport, type AgentReportReply, type InstallManifest, type Node } from '@swarmboot/contracts';

/**
 * The node's side of the scheduler API (`/v1/nodes/:id/…`), for both agent modes. Non-2xx answers
 * throw SwarmbootError with the server's `code` (API_ERROR when the body has none).
 */
export class AgentApiClient {
  constructor(
    private readonly base: string,
    readonly nodeId: string,
    readonly deploymentId: string,
    private readonly signal: AbortSignal | undefined,
  ) {}

  report(r: Omit<AgentReport, 'deploymentId'>): Promise<AgentReportReply> {
    return this.json<AgentReportReply>('POST', `/v1/nodes/${this.nodeId}/report`, { deploymentId: this.deploymentId, ...r });
  }
  manifest(): Promise<InstallManifest> {
    return this.json<InstallManifest>('GET', `/v1/nodes/${this.nodeId}/install`);
  }
  node(): Promise<Node> {
    return this.json<Node>('GET', `/v1/nodes/${this.nodeId}`);
  }
  async getBytes(url: string): Promise<ArrayBuffer> {
    const res = await fetch(url, { signal: this.signal ?? null });
    if (!res.ok) throw new SwarmbootError('API_ERROR', `GET ${url}: ${res.status}`);
    return res.arrayBuffer();
  }
  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(this.base + path, {
      method,
      signal: this.signal ?? null,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.text();
    if (!res.ok) {
      let code = 'API_ERROR';
      try {
        code = (JSON.parse(text) as { code?: string }).code ?? code;
      } catch {
        /* not JSON */
      }
      throw new SwarmbootError(code, `${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    }
    return JSON.parse(text) as T;
  }
}
