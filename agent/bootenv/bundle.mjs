#!/usr/bin/env node
// Bundles the node agent into ONE ES module for the install environment (/opt/swarmboot/agent.mjs):
// no node_modules on the node, only /usr/bin/node and this file.
//
//   node agent/bootenv/bundle.mjs ENTRY.js OUT.mjs      ENTRY exports `async function main()`
//
// The bundle is `import { main } from ENTRY; await main();` with every dependency inlined.
// Native add-ons cannot be inlined, and the ones in webtorrent's tree are for transports the
// cluster does not use (swarm.ts: utp off, no WebRTC, DHT/LSD off):
//   webrtc-polyfill  → node-datachannel loads its .node binary when imported (throws without it):
//                      replaced by a module exporting no RTCPeerConnection, so simple-peer reports
//                      WEBRTC_SUPPORT = false.
//   utp-native       → replaced by an empty object: webtorrent's lib/utp.cjs then sets
//                      UTP_SUPPORT = false (no "uTP not supported" warning at start-up).
//   bufferutil, utf-8-validate (ws) → external: ws requires them inside try/catch and falls back
//                      to its JavaScript code when the require fails.
// And one module replaced for CPU, not for loading:
//   cross-fetch-ponyfill (bittorrent-tracker's HTTP announces, webtorrent's web seeds) → its own
//                      Node fallback, node-fetch (on node:http), even where Node has a global
//                      fetch: Node 20's fetch (undici) parses HTTP with WebAssembly that V8
//                      compiles in each process on its first request: once only the announces
//                      used it, 0.13 CPU-s of a node's 3.2 in bench/swarm at N = 16 (perf;
//                      docs/benchmarks.md, "Issue 12, ninth step"). The agent's own requests
//                      use node:http (kit http-request.ts).
// esbuild output is deterministic for the same inputs (same bytes, same sha256).
import { build } from 'esbuild';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Modules replaced by stubs: name → [loader, contents]. */
const STUBS = {
  'webrtc-polyfill': [
    'js',
    'export const RTCPeerConnection = undefined;\nexport const RTCSessionDescription = undefined;\nexport const RTCIceCandidate = undefined;\nexport default {};\n',
  ],
  'utp-native': ['js', 'module.exports = {};\n'],
  'cross-fetch-ponyfill': [
    'js',
    "import fetch from 'node-fetch';\nexport { fetch };\nexport default fetch;\n" +
      "export { Blob, File, FormData, Headers, Request, Response, AbortError, FetchError, blobFrom, blobFromSync, fileFrom, fileFromSync, isRedirect } from 'node-fetch';\n" +
      'export const AbortController = globalThis.AbortController;\nexport const AbortSignal = globalThis.AbortSignal;\n',
  ],
};

const stubPlugin = {
  name: 'swarmboot-native-stubs',
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(STUBS).join('|')})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'swarmboot-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'swarmboot-stub' }, (args) => {
      const [loader, contents] = STUBS[args.path];
      // a stub's own imports (node-fetch) resolve from the repository's node_modules
      return { loader, contents, resolveDir: b.initialOptions.absWorkingDir };
    });
  },
};

/**
 * Bundles `entry` (an ES module exporting `main`) into `outfile`.
 * `wrap: false` bundles `entry` as it is (a script with its own top-level code, e.g. a test peer).
 * Returns the bytes written. Throws esbuild's error (with every unresolved import) on failure.
 */
export async function bundleAgent({ entry, outfile, wrap = true }) {
  const entryPath = resolve(entry);
  // Paths in the bundle's comments are relative to absWorkingDir: the repository root, so every
  // checkout of the same commit produces the same bytes.
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const input = wrap
    ? { stdin: { contents: `import { main } from ${JSON.stringify(relative(root, entryPath).startsWith('..') ? entryPath : './' + relative(root, entryPath))};\nawait main();\n`, resolveDir: root, sourcefile: 'agent-entry.mjs', loader: 'js' } }
    : { entryPoints: [entryPath] };
  const result = await build({
    ...input,
    absWorkingDir: root,
    outfile: resolve(outfile),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // CommonJS modules in the tree call require() on Node builtins; an ES module has none.
    banner: { js: "import { createRequire as __sbCreateRequire } from 'node:module';\nconst require = __sbCreateRequire(import.meta.url);" },
    external: ['bufferutil', 'utf-8-validate'],
    plugins: [stubPlugin],
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  return Object.values(result.metafile.outputs)[0].bytes;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [entry, outfile, flag] = process.argv.slice(2);
  if (!entry || !outfile) {
    console.error('usage: bundle.mjs ENTRY.js OUT.mjs [--no-wrap]');
    process.exit(2);
  }
  const bytes = await bundleAgent({ entry, outfile, wrap: flag !== '--no-wrap' });
  console.log(`${outfile}: ${bytes} bytes`);
}
