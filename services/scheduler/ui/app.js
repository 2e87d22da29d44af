// The swarmboot dashboard: Preact + htm (tagged templates, so no JSX build step), served with the
// scheduler at /ui. Everything it shows comes from the public /v1 API and its two event streams
// (GET /v1/events/stream, GET /v1/nodes/:id/logs/stream); it holds no state of its own beyond the
// page. Routes are hashes: #/ (deployments, fleet grid, failures) and #/node/<id>.
import { html, render, useEffect, useMemo, useRef, useState } from './vendor/htm-preact.mjs';

const STATES = ['registered', 'queued', 'admitted', 'dhcp', 'booting', 'installing', 'verifying', 'installed', 'released', 'failed'];
/** Nodes past each phase of an install (the pipeline the ETA follows). */
const PHASES = [
  { name: 'boot', past: ['installing', 'verifying', 'installed', 'released', 'failed'] },
  { name: 'download', past: ['verifying', 'installed', 'released', 'failed'] },
  { name: 'verify', past: ['installed', 'released', 'failed'] },
];
/** The window rates are measured over (ms): several node finishes at fleet scale, yet it follows a phase change (as `status --watch`). */
const RATE_WINDOW_MS = 30_000;
/** How often the page re-reads the REST snapshot (ms); state changes arrive between reads over SSE. */
const POLL_MS = 2000;
/** Log lines kept on a node page (the rest are in the timeline and GET /v1/nodes/:id/logs). */
const MAX_LOG_LINES = 1000;
const TOKEN_KEY = 'swarmboot.token';

// --- the API ------------------------------------------------------------------------------------

/** The bearer token the operator typed, kept for this tab only (sessionStorage). */
const token = () => sessionStorage.getItem(TOKEN_KEY) ?? '';

/** GET a /v1 path as JSON, with the token as `Authorization: Bearer` (RFC 6750 §2.1) when one is set. */
async function api(path) {
  const t = token();
  const res = await fetch(path, { headers: t ? { authorization: `Bearer ${t}` } : {} });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new Error(`${res.status} ${body.code ?? ''} ${body.message ?? res.statusText}`.trim());
  }
  return res.json();
}

/** An EventSource on a stream route: EventSource cannot send headers, so the token goes as ?access_token= (RFC 6750 §2.3), which only the stream routes take. */
function stream(path, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ''));
  if (token()) q.set('access_token', token());
  const s = q.toString();
  return new EventSource(s ? `${path}?${s}` : path);
}

/** Every node, a page of 1000 at a time (GET /v1/nodes is cursor-paged). */
async function allNodes() {
  const nodes = [];
  let cursor;
  do {
    const page = await api(`/v1/nodes?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    nodes.push(...page.nodes);
    cursor = page.nextCursor;
  } while (cursor);
  return nodes;
}

// --- pure helpers -------------------------------------------------------------------------------

/** Node text shown as text: control characters other than tab become \xNN, as `swarmboot timeline` prints them. */
const printable = (s) => String(s).replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

function bytes(n) {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) (n /= 1000), i++;
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function duration(s) {
  if (s === undefined) return '—';
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** The reason code a failed node's `reason` starts with (`DISK_TOO_SMALL: 1 GB < 2 GB` → DISK_TOO_SMALL). */
const reasonCode = (reason) => /^[A-Z][A-Z0-9_]+/.exec(reason ?? '')?.[0] ?? 'UNKNOWN';

const sum = (counts, states) => states.reduce((a, s) => a + (counts[s] ?? 0), 0);

/**
 * Where a deployment stands per phase: nodes past boot, download and verify (of `total`), and,
 * when its nodes are at hand, image bytes received (a node past its download has all of them).
 */
function phases(counts, nodes) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const out = Object.fromEntries(PHASES.map((p) => [p.name, sum(counts, p.past)]));
  if (nodes) {
    const size = Math.max(0, ...nodes.map((n) => n.progress?.total ?? 0));
    const have = new Set(PHASES[1].past);
    out.bytes = nodes.reduce((a, n) => a + (have.has(n.state) ? size : Math.min(size, n.progress?.bytes ?? 0)), 0);
    out.bytesTotal = size * nodes.length;
  }
  return { total, done: out };
}

/**
 * Rates per phase over a sliding window of samples, and the ETA: the longest of each phase's
 * remaining work at its own measured rate (the phases run as a pipeline, so the slowest one
 * decides). Keyed by deployment id; samples older than the window go, but two always stay.
 */
class Rates {
  constructor() {
    this.samples = new Map();
  }
  add(id, ms, done) {
    const list = this.samples.get(id) ?? [];
    list.push({ ms, done });
    while (list.length > 2 && ms - list[1].ms >= RATE_WINDOW_MS) list.shift();
    this.samples.set(id, list);
  }
  /** per second over the window, per key of `done`; {} before two samples */
  rates(id) {
    const list = this.samples.get(id) ?? [];
    const first = list[0];
    const last = list.at(-1);
    if (!first || !last || last.ms <= first.ms) return {};
    const secs = (last.ms - first.ms) / 1000;
    return Object.fromEntries(Object.keys(last.done).map((k) => [k, Math.max(0, (last.done[k] - (first.done[k] ?? 0)) / secs)]));
  }
  /** seconds until every phase is through at its measured rate; undefined while nothing left moves */
  eta(id, { total, done }) {
    const r = this.rates(id);
    const left = PHASES.map((p) => [total - done[p.name], r[p.name]]);
    if (done.bytesTotal !== undefined) left.push([done.bytesTotal - done.bytes, r.bytes]);
    const pending = left.filter(([rest]) => rest > 0);
    if (pending.length === 0) return 0;
    const etas = pending.filter(([, rate]) => rate > 0).map(([rest, rate]) => rest / rate);
    return etas.length === pending.length ? Math.max(...etas) : undefined;
  }
}

// --- hooks --------------------------------------------------------------------------------------

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

/** Calls `load` now and every `ms`, and whenever `kick` changes; the last result, or the error. */
function usePoll(load, ms, deps) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  useEffect(() => {
    let stop = false;
    let timer;
    const run = async () => {
      try {
        const data = await load();
        if (!stop) setState({ data, error: undefined });
      } catch (error) {
        if (!stop) setState((s) => ({ data: s.data, error }));
      }
      if (!stop) timer = setTimeout(run, ms);
    };
    void run();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, deps);
  return state;
}

// --- components ---------------------------------------------------------------------------------

function TokenField() {
  const [value, setValue] = useState(token());
  const save = (e) => {
    e.preventDefault();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  };
  return html`<form onSubmit=${save}>
    <input type="password" placeholder="bearer token (if the API needs one)" value=${value} onInput=${(e) => setValue(e.target.value)} aria-label="bearer token" />
  </form>`;
}

function Bar({ counts, total }) {
  const order = ['released', 'installed', 'verifying', 'installing', 'booting', 'dhcp', 'admitted', 'queued', 'failed'];
  return html`<div class="bar" title=${order.filter((s) => counts[s]).map((s) => `${s} ${counts[s]}`).join(', ')}>
    ${order.map((s) => (counts[s] ? html`<span data-state=${s} style=${`width:${(100 * counts[s]) / total}%`}></span>` : null))}
  </div>`;
}

function Deployments({ deployments, rates, selected, nodes }) {
  if (deployments.length === 0) return html`<section><h2>Deployments</h2><p class="muted">none yet: POST /v1/deployments or <code>swarmboot deploy</code></p></section>`;
  return html`<section>
    <h2>Deployments</h2>
    <table>
      <thead><tr><th>id</th><th>image</th><th>state</th><th>progress</th><th>phases (rate)</th><th>ETA</th><th>created</th></tr></thead>
      <tbody>
        ${deployments.map((d) => {
          const p = phases(d.counts, d.id === selected ? nodes : undefined);
          const r = rates.rates(d.id);
          const finished = p.done.verify;
          // why it is paused (FAILURE_BUDGET_EXCEEDED: …), and where admission stands
          const reason = d.reason;
          const admission = d.admission ? `wave ${d.admission.waves}, window ${d.admission.window}` : '';
          return html`<tr data-deployment=${d.id}>
            <td><a href=${`#/?deployment=${encodeURIComponent(d.id)}`}>${d.id}</a></td>
            <td>${d.image}</td>
            <td><span class=${`state ${d.state}`} data-deployment-state>${d.state}</span>${reason ? html` <span data-reason>${printable(reason)}</span>` : null}${admission ? html`<br /><span class="muted">${admission}</span>` : null}</td>
            <td><${Bar} counts=${d.counts} total=${p.total} /><span class="muted">${finished}/${p.total} finished${d.counts.failed ? `, ${d.counts.failed} failed` : ''}</span></td>
            <td class="muted">
              ${[
                ...PHASES.map((ph) => `${ph.name} ${p.done[ph.name]}/${p.total}${r[ph.name] ? ` (${r[ph.name].toFixed(2)}/s)` : ''}`),
                ...(p.done.bytesTotal ? [`${bytes(p.done.bytes)} of ${bytes(p.done.bytesTotal)}${r.bytes ? ` (${bytes(r.bytes)}/s)` : ''}`] : []),
              ].join(' · ')}
            </td>
            <td>${d.state === 'running' ? duration(rates.eta(d.id, p)) : '—'}</td>
            <td class="muted">${new Date(d.createdAt).toLocaleTimeString()}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </section>`;
}

function Fleet({ nodes, filter, deployments }) {
  const counts = useMemo(() => {
    const c = {};
    for (const n of nodes) c[n.state] = (c[n.state] ?? 0) + 1;
    return c;
  }, [nodes]);
  const choose = (e) => (location.hash = e.target.value ? `#/?deployment=${encodeURIComponent(e.target.value)}` : '#/');
  return html`<section>
    <h2>
      Fleet (${nodes.length} nodes)
      <select onChange=${choose} aria-label="deployment filter">
        <option value="" selected=${!filter}>all nodes</option>
        ${deployments.map((d) => html`<option value=${d.id} selected=${filter === d.id}>${d.id}</option>`)}
      </select>
    </h2>
    <div class="legend">
      ${STATES.filter((s) => counts[s]).map((s) => html`<span data-legend=${s}><i data-state=${s}></i>${s} <b>${counts[s]}</b></span>`)}
    </div>
    <div class="grid" role="list">
      ${nodes.map((n) => html`<a key=${n.id} class="cell" role="listitem" data-node=${n.id} data-state=${n.state} title=${`${n.id} ${n.state}${n.reason ? ` — ${printable(n.reason)}` : ''}`} href=${`#/node/${encodeURIComponent(n.id)}`}></a>`)}
    </div>
  </section>`;
}

function Failures({ nodes }) {
  const groups = useMemo(() => {
    const g = new Map();
    for (const n of nodes) if (n.state === 'failed') g.set(reasonCode(n.reason), [...(g.get(reasonCode(n.reason)) ?? []), n.id]);
    return [...g.entries()].sort((a, b) => b[1].length - a[1].length);
  }, [nodes]);
  return html`<section>
    <h2>Failures by reason</h2>
    ${groups.length === 0
      ? html`<p class="muted">no failed nodes</p>`
      : html`<table>
          <thead><tr><th>reason</th><th>nodes</th><th>which</th></tr></thead>
          <tbody>
            ${groups.map(([code, ids]) => html`<tr data-reason=${code}><td><code>${code}</code></td><td>${ids.length}</td>
              <td>${ids.slice(0, 50).map((id) => html`<a href=${`#/node/${encodeURIComponent(id)}`}>${id}</a> `)}${ids.length > 50 ? `… ${ids.length - 50} more` : ''}</td></tr>`)}
          </tbody>
        </table>`}
  </section>`;
}

function Dashboard({ filter }) {
  const rates = useRef(new Rates()).current;
  // state changes between two reads, from the events stream: node id → state
  const [live, setLive] = useState({});
  const [kick, setKick] = useState(0);
  const deps = usePoll(async () => (await api('/v1/deployments?limit=50')).deployments, POLL_MS, [kick]);
  const fleet = usePoll(async () => (filter ? (await api(`/v1/deployments/${encodeURIComponent(filter)}`)).nodes : allNodes()), POLL_MS, [filter, kick]);

  useEffect(() => {
    const es = stream('/v1/events/stream', { deployment: filter });
    // (re)connected: what happened while away is in the next snapshot
    es.addEventListener('ready', () => setKick((k) => k + 1));
    es.addEventListener('state', (e) => {
      const ev = JSON.parse(e.data);
      setLive((l) => ({ ...l, [ev.nodeId]: ev.to }));
    });
    return () => es.close();
  }, [filter]);
  // a fresh snapshot supersedes the live states seen before it
  useEffect(() => setLive({}), [fleet.data]);

  const deployments = deps.data ?? [];
  const nodes = useMemo(() => (fleet.data ?? []).map((n) => (live[n.id] && live[n.id] !== n.state ? { ...n, state: live[n.id] } : n)), [fleet.data, live]);
  useEffect(() => {
    const now = Date.now();
    for (const d of deployments) rates.add(d.id, now, phases(d.counts, d.id === filter ? fleet.data : undefined).done);
  }, [deps.data]);

  const error = deps.error ?? fleet.error;
  return html`<main>
    ${error ? html`<p class="err">${String(error.message ?? error)}</p>` : null}
    <${Deployments} deployments=${deployments} rates=${rates} selected=${filter} nodes=${fleet.data} />
    <${Fleet} nodes=${nodes} filter=${filter} deployments=${deployments} />
    <${Failures} nodes=${nodes} />
  </main>`;
}

/** One timeline entry as a line of text: what happened, per source. */
function describe(e) {
  switch (e.source) {
    case 'dhcp':
      return `lease ${e.lease.yiaddr} to ${e.lease.chaddr}${e.lease.bootFile ? `, boot file ${e.lease.bootFile}` : ''}${e.lease.userClass ? ` (${e.lease.userClass})` : ''}`;
    case 'tftp':
      return `${e.transfer.file} ${e.outcome}: ${bytes(e.transfer.bytes)} in ${Math.round(e.transfer.durationMs)} ms${e.transfer.error ? ` — ${e.transfer.error}` : ''}`;
    case 'state':
      return `${e.from ?? '∅'} → ${e.to}${e.reason ? ` (${e.reason})` : ''}`;
    case 'progress':
      return `${e.stage} ${bytes(e.bytes)} of ${bytes(e.total)}${e.rate !== undefined ? ` at ${bytes(e.rate)}/s` : ''}`;
    case 'failure':
      return `${e.failure.code} (${e.failure.severity}, rule ${e.failure.ruleId}): ${e.failure.line}`;
    case 'power':
      if (e.outcome === 'requested') return `${e.power.action} requested${e.power.reason ? ` (${e.power.reason})` : ''}`;
      if (e.outcome === 'completed') return `${e.power.action} done by ${e.power.driver} in ${Math.round(e.power.durationMs)} ms (was ${e.power.powerState})`;
      return `${e.power.action} failed after ${e.power.attempts} attempts: ${e.power.code}: ${e.power.message}`;
    case 'log':
      return typeof e.line === 'string' ? e.line : `${e.line.app ? `${e.line.app}: ` : ''}${e.line.message}`;
    default:
      return JSON.stringify(e);
  }
}

function NodePage({ id }) {
  const node = usePoll(() => api(`/v1/nodes/${encodeURIComponent(id)}`), POLL_MS, [id]);
  const timeline = usePoll(() => api(`/v1/nodes/${encodeURIComponent(id)}/timeline?limit=300`), 3000, [id]);
  const [lines, setLines] = useState([]);
  const [streamState, setStreamState] = useState('connecting');
  const box = useRef(null);

  useEffect(() => {
    setLines([]);
    let ready = false;
    const es = stream(`/v1/nodes/${encodeURIComponent(id)}/logs/stream`);
    es.addEventListener('ready', () => {
      ready = true;
      setStreamState('live');
    });
    es.addEventListener('line', (e) => {
      const l = JSON.parse(e.data);
      // after `ready`, a line arrived while the page was open (or after a reconnect)
      setLines((ls) => [...ls.slice(-(MAX_LOG_LINES - 1)), { ...l, live: ready }]);
    });
    es.addEventListener('error', () => setStreamState('reconnecting'));
    return () => es.close();
  }, [id]);
  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);

  const n = node.data;
  const entries = timeline.data?.entries ?? [];
  return html`<main>
    <p><a href="#/">← fleet</a></p>
    ${node.error ? html`<p class="err">${String(node.error.message)}</p>` : null}
    <div class="two">
      <section>
        <h2>Node ${id} ${n ? html`<span class="cell" style="display:inline-block" data-state=${n.state}></span> <span data-node-state>${n.state}</span>` : null}</h2>
        ${n
          ? html`<table class="kv"><tbody>
              ${[
                ['MAC', n.mac], ['hostname', n.hostname], ['IP', n.ip], ['deployment', n.deploymentId], ['reason', n.reason],
                ['attempts', n.attempts], ['root disk', n.rootDisk],
                ['download', n.progress ? `${bytes(n.progress.bytes)} of ${bytes(n.progress.total)}` : undefined],
                ['bytes from', n.stats ? `peers ${bytes(n.stats.bytesFromPeers)}, seeder ${bytes(n.stats.bytesFromSeeder)}, web seed ${bytes(n.stats.bytesFromWebSeed)}; uploaded ${bytes(n.stats.bytesUploaded)}` : undefined],
                ['labels', Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(', ')],
                ['updated', n.updatedAt],
              ]
                .filter(([, v]) => v !== undefined && v !== '')
                .map(([k, v]) => html`<tr><td>${k}</td><td>${printable(v)}</td></tr>`)}
            </tbody></table>`
          : html`<p class="muted">loading…</p>`}
      </section>
      <section>
        <h2>Live log <span class="muted" data-stream-state>${streamState}</span></h2>
        <div class="logs" ref=${box} data-log-lines>
          ${lines.map((l) => html`<div key=${l.id} class=${`${l.live ? 'live' : ''} sev-${l.line?.severity ?? 6}`} data-live=${l.live ? 'true' : 'false'}>${new Date(l.line?.received ?? Number(l.id.split('-')[0])).toLocaleTimeString()} ${printable(typeof l.line === 'string' ? l.line : `${l.line.app ? `${l.line.app}: ` : ''}${l.line.message}`)}</div>`)}
        </div>
      </section>
    </div>
    <section>
      <h2>Timeline ${timeline.data?.truncated ? html`<span class="muted">(the newest 300)</span>` : null}</h2>
      <div class="timeline">
        <table>
          <thead><tr><th>time</th><th>source</th><th>what</th></tr></thead>
          <tbody data-timeline>
            ${entries.map((e) => html`<tr key=${e.id} data-source=${e.source}><td>${new Date(e.at).toLocaleTimeString()}</td><td>${e.source}</td><td>${printable(describe(e))}</td></tr>`)}
          </tbody>
        </table>
      </div>
    </section>
  </main>`;
}

function App() {
  const hash = useHash();
  const nodeMatch = /^#\/node\/([^?]+)/.exec(hash);
  const filter = new URLSearchParams(hash.split('?')[1] ?? '').get('deployment') ?? undefined;
  return html`<header><a href="#/">swarmboot</a><span class="muted">dashboard</span><span class="spacer"></span><${TokenField} /></header>
    ${nodeMatch ? html`<${NodePage} id=${decodeURIComponent(nodeMatch[1])} />` : html`<${Dashboard} filter=${filter} />`}`;
}

const root = document.getElementById('app');
root.textContent = ''; // the "loading…" placeholder: render() adds to what is there
render(html`<${App} />`, root);
