import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

/**
 * The dashboard's files: `ui/` of this package (index.html, app.js, style.css, written as plain
 * ES modules, so nothing is built), next to `dist/` in the image as `rules/` is next to the log
 * sink's.
 */
export const UI_DIR = fileURLToPath(new URL('../../../ui/', import.meta.url));

/**
 * Preact, its hooks and htm in one ES module (htm's `preact/standalone` build, ~13 kB unminified
 * gzip-free), resolved from node_modules the way Node resolves an `import`, so the version is
 * the one package-lock.json pins and no CDN is involved.
 */
export const HTM_PREACT = fileURLToPath(import.meta.resolve('htm/preact/standalone'));

/**
 * `GET /ui/…`: the dashboard (hash routes `#/`, `#/node/<id>`; its data comes from the `/v1`
 * API and the two event streams), and `GET /ui/vendor/htm-preact.mjs`. `GET /ui` redirects to
 * `/ui/` so the page's relative URLs resolve. None of it is in the OpenAPI document.
 */
export async function uiRoutes(app: FastifyInstance): Promise<void> {
  if (!existsSync(UI_DIR)) throw new Error(`dashboard files missing: ${UI_DIR}`);
  // the page and its scripts are public (they hold no data); what it shows comes from the API with the user's token
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, scope: 'public' };
  });
  await app.register(fastifyStatic, { root: UI_DIR, prefix: '/ui/', index: 'index.html', cacheControl: true, maxAge: 0 });
  app.get('/ui', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/', 302));
  app.get('/ui/vendor/htm-preact.mjs', { schema: { hide: true } }, async (_req, reply) =>
    // a day: the file changes only with an npm install, and the page is reloaded then anyway
    reply.header('cache-control', 'public, max-age=86400').sendFile(basename(HTM_PREACT), dirname(HTM_PREACT)),
  );
}
