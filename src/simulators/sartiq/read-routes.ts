/**
 * The read endpoints of generations, predictions, refines and agentic runs: `GET /generations/`
 * (the list), `GET /generations/{id}`, `GET /generations/{id}/stats`, `GET /predictions/{id}`,
 * `GET /refines/refines/{refine_id}` and `GET /generations/agentic/{shot_id}/status`.
 */
import type { Reply } from '../harness/http-io.ts';
import { notEnoughPermissions, notFound } from './errors.ts';
import { Generation } from './generation.ts';
import { organizationOf, type Route, type RouteContext, type SimRequest } from './route.ts';
import { FieldReader, pathUuid } from './validation.ts';

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

/** The documented `GenerationType` values (the list's `generation_type` filter: "BASE or AGENTIC"). */
const generationTypes = ['BASE', 'AGENTIC'] as const;
/** The documented `GenerationTool` values (the `tools` filter). */
const generationTools = ['EDIT', 'SUBJECT_SWAP', 'PRODUCT_ENHANCEMENT'] as const;
/** The simulator's `GenerationStatus` values (the `status` filter; the reference lists none). */
const generationStatuses = ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED'] as const;
/**
 * The largest page. The reference gives `limit` a default of 100 and no maximum; the simulator
 * refuses more than the default rather than let a client rely on larger pages.
 */
const maxPageSize = 100;

/**
 * `GET /generations/` (Read Generations): "Retrieve generations with optional filtering. Results
 * are ordered by creation date descending and include pagination metadata"; with
 * `organization_id` the organization's generations, without it "only personal generations (not
 * belonging to any organization)". Every documented filter is applied; `created_at_from` and
 * `created_at_to` keep what was created strictly after / before ("created after this date"),
 * `product_id` "searches both product_id and product2_id", `tools` is repeated and ORed, and
 * `refined_only` keeps generations with a refined prediction. The answer is `{ data, count }`;
 * whether `count` is the page's or all matches is not documented: the simulator answers all
 * matches. Unknown query parameters are ignored, as FastAPI does.
 */
const listRoute: Route = {
  method: 'GET',
  path: '/generations/',
  handle: (ctx, req) => {
    const params = req.url.searchParams;
    const query = new FieldReader(Object.fromEntries(params), 'query');
    const from = query.dateTime('created_at_from');
    const to = query.dateTime('created_at_to');
    const type = query.choice('generation_type', generationTypes);
    const productId = query.uuid('product_id');
    const refinedOnly = query.boolean('refined_only', false);
    const shotId = query.string('shot_id');
    const shotTypeId = query.uuid('shot_type_id');
    const shotTypeString = query.string('shot_type_string');
    const status = query.choice('status', generationStatuses);
    const styleId = query.uuid('style_id');
    const subjectId = query.uuid('subject_id');
    const skip = query.integer('skip', { fallback: 0, nullable: false, ge: 0 }) ?? 0;
    const limit = query.integer('limit', { fallback: maxPageSize, nullable: false, ge: 1, le: maxPageSize }) ?? maxPageSize;
    const tools = params.getAll('tools');
    const unknownTool = tools.find((tool) => !(generationTools as readonly string[]).includes(tool));
    const toolReader = new FieldReader(unknownTool === undefined ? {} : { tools: unknownTool }, 'query');
    toolReader.choice('tools', generationTools);
    const problem = query.problem() ?? toolReader.problem();
    if (problem) return problem;
    const organization = organizationOf(req);
    if (!organization.ok) return organization.reply;
    const field = (g: Generation, name: string) => g.init.fields[name] ?? null;
    // Newest first; of two created in the same millisecond, the later one first.
    const matching = [...ctx.state.generations.values()]
      .reverse()
      .filter((g) =>
        organization.value === null
          ? g.init.organizationId === null && g.init.ownerId === req.account.id
          : g.init.organizationId === organization.value,
      )
      .filter((g) => from === null || g.init.createdAt > from)
      .filter((g) => to === null || g.init.createdAt < to)
      .filter((g) => type === null || (field(g, 'generation_type') ?? 'BASE') === type)
      .filter((g) => productId === null || field(g, 'product_id') === productId || field(g, 'product2_id') === productId)
      .filter((g) => !refinedOnly || g.predictions.some((p) => p.refines.length > 0))
      .filter((g) => shotId === null || field(g, 'shot_id') === shotId)
      .filter((g) => shotTypeId === null || field(g, 'shot_type_id') === shotTypeId)
      .filter((g) => shotTypeString === null || field(g, 'shot_type_string') === shotTypeString)
      .filter((g) => status === null || g.status(req.now) === status)
      .filter((g) => styleId === null || field(g, 'style_id') === styleId)
      .filter((g) => subjectId === null || field(g, 'subject_id') === subjectId)
      .filter((g) => tools.length === 0 || tools.includes(String(field(g, 'tool'))))
      .sort((a, b) => b.init.createdAt - a.init.createdAt);
    const page = matching.slice(skip, skip + limit);
    return { status: 200, body: { data: page.map((g) => g.toPublic(req.now)), count: matching.length } };
  },
};

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
export const readRoutes: readonly Route[] = [
  listRoute,
  generationRoute,
  statsRoute,
  predictionRoute,
  refineRoute,
  agenticStatusRoute,
];
