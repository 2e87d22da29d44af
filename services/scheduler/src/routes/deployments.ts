import type { FastifyInstance } from 'fastify';
import { Deployment, DeploymentInput, DeploymentList, Events, ImageList } from '@swarmboot/contracts';
import type { EventBus, ImageCatalog } from '@swarmboot/kit';
import type { Deployments } from '../deployments.js';
import { DeploymentIdParams, DeploymentListQuery, errors } from './schemas.js';

/**
 * `/v1/deployments…` and the image catalog. Scopes: reads need `read`; creating and releasing a
 * deployment `deploy`. A created deployment is announced as `swarmboot.deployment.created` here,
 * at the edge, so an idempotent replay (which runs no handler) announces nothing twice.
 */
export function deploymentRoutes(app: FastifyInstance, deployments: Deployments, catalog: ImageCatalog, bus: EventBus): void {
  app.get('/v1/images', { config: { scope: 'read' }, schema: { tags: ['images'], summary: 'The image catalog (written by the seeder)', response: { 200: ImageList } } }, async () => ({ images: await catalog.list() }));

  app.post<{ Body: DeploymentInput }>(
    '/v1/deployments',
    {
      config: { idempotent: true, scope: 'deploy' },
      schema: {
        tags: ['deployments'],
        summary: 'Install an image onto nodes given by id or by label selector (`k=v,k=v`, `*` for all); with trustedKeys only an image signed by one of them (422 IMAGE_NOT_SIGNED, IMAGE_KEY_UNTRUSTED, IMAGE_SIGNATURE_INVALID, IMAGE_MANIFEST_MISMATCH)',
        body: DeploymentInput,
        response: { 201: Deployment, ...errors(400, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const dep = await deployments.createDeployment(req.body);
      const created = { deploymentId: dep.id, image: dep.image, target: dep.target, nodes: dep.nodes.length, selector: req.body.selector, requestedBy: req.tokenName };
      // the deployment exists: a failed publish must not turn into a 5xx (that frees the Idempotency-Key and a retry would create a second one)
      await bus.publish(Events.deploymentCreated, created).catch((err: unknown) => req.log.error({ err, deploymentId: dep.id }, 'swarmboot.deployment.created not published'));
      return reply.code(201).send(dep);
    },
  );

  app.get<{ Querystring: DeploymentListQuery }>(
    '/v1/deployments',
    { config: { scope: 'read' }, schema: { tags: ['deployments'], summary: 'Deployments, newest first, with node counts per state; a page at a time (nextCursor)', querystring: DeploymentListQuery, response: { 200: DeploymentList, ...errors(400) } } },
    async (req) => deployments.listDeployments(req.query.limit, req.query.cursor),
  );

  app.get<{ Params: DeploymentIdParams }>(
    '/v1/deployments/:id',
    { config: { scope: 'read' }, schema: { tags: ['deployments'], params: DeploymentIdParams, response: { 200: Deployment, ...errors(400, 404) } } },
    async (req) => deployments.getDeployment(req.params.id),
  );

  app.post<{ Params: DeploymentIdParams }>(
    '/v1/deployments/:id/release',
    { config: { idempotent: true, scope: 'deploy' }, schema: { tags: ['deployments'], summary: 'Release the installed nodes: their agents stop seeding; a real node then boots its installed system (reboot or kexec), an emulated one exits. Power is not touched', params: DeploymentIdParams, response: { 200: Deployment, ...errors(400, 404) } } },
    async (req) => deployments.releaseDeployment(req.params.id),
  );

  app.post<{ Params: DeploymentIdParams }>(
    '/v1/deployments/:id/resume',
    { config: { idempotent: true, scope: 'deploy' }, schema: { tags: ['deployments'], summary: 'Resume a deployment paused over its failure budget: it admits nodes again, the budget counting afresh. A running one is answered unchanged', params: DeploymentIdParams, response: { 200: Deployment, ...errors(400, 404, 409) } } },
    async (req) => deployments.resumeDeployment(req.params.id),
  );

  app.post<{ Params: DeploymentIdParams }>(
    '/v1/deployments/:id/cancel',
    { config: { idempotent: true, scope: 'deploy' }, schema: { tags: ['deployments'], summary: 'Cancel a deployment at once: queued nodes go back to registered, admitted and installing ones to failed (CANCELLED) and boot their local disks; installed ones stay. Idempotent', params: DeploymentIdParams, response: { 200: Deployment, ...errors(400, 404, 409) } } },
    async (req) => deployments.cancelDeployment(req.params.id),
  );
}
