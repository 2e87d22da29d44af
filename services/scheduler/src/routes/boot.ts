import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { SchedulerCore } from '../scheduler.js';
import { MacParams } from './schemas.js';

const Text = { content: { 'text/plain': { schema: Type.String() } } };

export function bootRoutes(app: FastifyInstance, core: SchedulerCore): void {
  app.get<{ Params: MacParams }>(
    '/v1/boot/:mac',
    {
      config: { textErrors: true },
      schema: {
        tags: ['boot'],
        summary: 'iPXE script for the node with this MAC: the installer when admitted, else exit to the local disk',
        params: MacParams,
        response: { 200: Text, 400: Text, 404: Text },
      },
    },
    async (req, reply) => {
      const { script } = await core.bootScript(req.params.mac);
      return reply.type('text/plain; charset=utf-8').send(script);
    },
  );
}
