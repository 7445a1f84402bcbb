/**
 * The read endpoints of generations, predictions, refines and agentic runs: `GET /generations/{id}`,
 * `GET /generations/{id}/stats`, `GET /predictions/{id}`, `GET /refines/refines/{refine_id}` and
 * `GET /generations/agentic/{shot_id}/status`.
 */
import type { Reply } from '../harness/http-io.ts';
import { notEnoughPermissions, notFound } from './errors.ts';
import { Generation } from './generation.ts';
import { organizationOf, type Route, type RouteContext, type SimRequest } from './route.ts';
import { pathUuid } from './validation.ts';

/** The generation a request may read, or its 422 / 403 / 404. */
function readableGeneration(ctx: RouteContext, req: SimRequest, id: string | undefined): Generation | Reply {
  const checkedId = pathUuid('id', id ?? '');
  if (!checkedId.ok) return checkedId.reply;
  const organization = organizationOf(req);
  if (!organization.ok) return organization.reply;
  const generation = ctx.state.generations.get(checkedId.value);
  if (!generation) return notFound('Generation');
  return ctx.state.canAccess(req.account, generation) ? generation : notEnoughPermissions();
}

const generationRoute: Route = {
  method: 'GET',
  path: '/generations/{id}',
  handle: (ctx, req) => {
    const found = readableGeneration(ctx, req, req.params.id);
    return found instanceof Generation ? { status: 200, body: found.toPublic(req.now) } : found;
  },
};

const statsRoute: Route = {
  method: 'GET',
  path: '/generations/{id}/stats',
  handle: (ctx, req) => {
    const found = readableGeneration(ctx, req, req.params.id);
    return found instanceof Generation ? { status: 200, body: found.stats(req.now) } : found;
  },
};

const predictionRoute: Route = {
  method: 'GET',
  path: '/predictions/{id}',
  handle: (ctx, req) => {
    const id = pathUuid('id', req.params.id ?? '');
    if (!id.ok) return id.reply;
    const prediction = ctx.state.predictions.get(id.value);
    const generation = prediction && ctx.state.generations.get(prediction.generationId);
    if (!prediction || !generation) return notFound('Prediction');
    if (!ctx.state.canAccess(req.account, generation)) return notEnoughPermissions();
    return { status: 200, body: prediction.toPublic(req.now) };
  },
};

const refineRoute: Route = {
  method: 'GET',
  path: '/refines/refines/{refine_id}',
  handle: (ctx, req) => {
    const id = pathUuid('refine_id', req.params.refine_id ?? '');
    if (!id.ok) return id.reply;
    const refine = ctx.state.refines.get(id.value);
    const prediction = refine && ctx.state.predictions.get(refine.init.predictionId);
    const generation = prediction && ctx.state.generations.get(prediction.generationId);
    if (!refine || !generation) return notFound('Refine');
    if (!ctx.state.canAccess(req.account, generation)) return notEnoughPermissions();
    return { status: 200, body: refine.toPublic(req.now) };
  },
};

/**
 * The orchestration of an agentic run (AgenticShotStatus). The seed lists `shot_id` (a string, not
 * typed as a UUID) as its only parameter, neither authentication nor `organization_id`; the
 * simulator is strict and asks for the Bearer token like every other route (the router does), and
 * answers only the owner of the run's generation or a member of its organization.
 */
const agenticStatusRoute: Route = {
  method: 'GET',
  path: '/generations/agentic/{shot_id}/status',
  handle: (ctx, req) => {
    const run = ctx.state.agenticRuns.get(req.params.shot_id ?? '');
    if (!run) return notFound('Shot');
    if (!ctx.state.canAccess(req.account, run.init.generation)) return notEnoughPermissions();
    return { status: 200, body: run.toStatus(req.now) };
  },
};

/** The read routes; their paths differ in depth or literal segments, so order does not matter. */
export const readRoutes: readonly Route[] = [generationRoute, statsRoute, predictionRoute, refineRoute, agenticStatusRoute];
