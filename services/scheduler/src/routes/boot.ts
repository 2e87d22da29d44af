import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { SwarmbootError } from '@swarmboot/contracts';
import type { BootScripts } from '../boot.js';
import { MacParams } from './schemas.js';

const Text = { content: { 'text/plain': { schema: Type.String() } } };

/** The files of the install environment (scripts/build-bootenv.sh), the only names /v1/bootenv serves. */
export const BOOTENV_FILES = ['vmlinuz', 'initrd.img'] as const;

/** Whether `dir` holds every file of the install environment. */
export async function bootenvFilesPresent(dir: string): Promise<boolean> {
  const st = await Promise.all(BOOTENV_FILES.map((f) => stat(join(dir, f)).catch(() => undefined)));
  return st.every((s) => s?.isFile() === true && s.size > 0);
}

/**
 * `/v1/boot/:mac` (iPXE scripts) and, when `bootenvDir` is set, `/v1/bootenv/:file`: the install
 * environment over HTTP — NodeFoundry measured a 100-node boot at 4+ min with kernel and initrd
 * over TFTP and under 90 s over HTTP.
 */
export function bootRoutes(app: FastifyInstance, boot: BootScripts, bootenvDir?: string): void {
  if (bootenvDir !== undefined) {
    app.get<{ Params: { file: string } }>(
      '/v1/bootenv/:file',
      {
        config: { textErrors: true, scope: 'public' },
        logLevel: 'warn',
        schema: {
          tags: ['boot'],
          summary: 'a file of the install environment (vmlinuz, initrd.img)',
          params: Type.Object({ file: Type.Union(BOOTENV_FILES.map((f) => Type.Literal(f))) }),
          response: { 404: Text },
        },
      },
      async (req, reply) => {
        const path = join(bootenvDir, req.params.file);
        const st = await stat(path).catch(() => undefined);
        if (!st?.isFile()) throw new SwarmbootError('NOT_FOUND', `${req.params.file} is not in SWARMBOOT_BOOTENV_DIR (build it with scripts/build-bootenv.sh)`);
        return reply.type('application/octet-stream').header('content-length', st.size).header('last-modified', st.mtime.toUTCString()).send(createReadStream(path));
      },
    );
  }

  app.get<{ Params: MacParams }>(
    '/v1/boot/:mac',
    {
      // public: iPXE in a node's firmware holds no token
      config: { textErrors: true, scope: 'public' },
      schema: {
        tags: ['boot'],
        summary: 'iPXE script for the node with this MAC: the installer when admitted, else exit to the local disk',
        params: MacParams,
        response: { 200: Text, 400: Text, 404: Text },
      },
    },
    async (req, reply) => {
      const { script } = await boot.bootScript(req.params.mac);
      return reply.type('text/plain; charset=utf-8').send(script);
    },
  );
}
