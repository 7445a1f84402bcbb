/**
 * What a subfunction of the connections file runs: `recipe` (with `options`), `pipeline` (stages,
 * each a recipe with its options) or `route` (routes by slot, each a recipe or a pipeline),
 * exactly one of the three. Everything that can be known before a task arrives is checked here,
 * when the configuration loads, and a refusal names the subfunction, the route and the stage:
 *
 * - every recipe is known, its options pass its schema, and its provider's section is present;
 * - the stages fit: every recipe works from photos, so a stage after one that produces video is
 *   refused; a recipe that takes its inputs as Creative Force's URLs (firefly-workflow) can only
 *   be the first stage of a route that works from the task's inputs (a produced file has no such
 *   URL), and a subfunction's routes take the task's inputs one way, all as files or all as URLs;
 * - a route for video slots ends with a stage that can produce video, one for photo slots with
 *   one that can produce photos;
 * - only the last route may go without `when`;
 * - `from` references form no cycle (a route cannot wait for a still that it, or a route waiting
 *   for it, may make), so the routes have an order (src/cycle/routes.ts).
 */
import { z } from 'zod';
import { type RouteConfig, routeOrder, type SlotPattern, type StageConfig, slotContentTypes } from '../cycle/routes.ts';
import type { Recipe, RecipeRegistry } from '../providers/index.ts';

const patternSchema = z
  .strictObject({
    contentType: z.enum(Object.keys(slotContentTypes) as [keyof typeof slotContentTypes]).optional(),
    position: z.string().min(1).optional(),
    /** A glob: `*` any characters, `?` one. */
    mappingKeyId: z.string().min(1).optional(),
  })
  .refine((p) => Object.keys(p).length > 0, { message: 'give contentType, position or mappingKeyId' });

const stageSchema = z.strictObject({ recipe: z.string().min(1), options: z.unknown().default({}) });

const routeSchema = z.strictObject({
  when: patternSchema.optional(),
  from: z.strictObject({ slot: patternSchema }).optional(),
  recipe: z.string().min(1).optional(),
  options: z.unknown().optional(),
  pipeline: z.array(stageSchema).min(1).optional(),
});

/** The fields of a subfunction that say what it runs (the rest: checks, webhookSecrets). */
export const subfunctionWorkFields = {
  recipe: z.string().min(1).optional(),
  options: z.unknown().optional(),
  pipeline: z.array(stageSchema).min(1).optional(),
  route: z.array(routeSchema).min(1).optional(),
};

type WorkFields = {
  recipe?: string | undefined;
  options?: unknown;
  pipeline?: { recipe: string; options: unknown }[] | undefined;
};

/** What the checks need to know of the connection. */
export interface RouteCheckContext {
  recipes: RecipeRegistry;
  /** The problem with a recipe's provider section (none when present, or not checked). */
  missingSection(recipe: Recipe): string | null;
}

class RouteProblem extends Error {}

function problem(message: string): never {
  throw new RouteProblem(message);
}

/** The stages of a recipe-or-pipeline entry (`where` names it in messages). */
function stagesOf(entry: WorkFields, where: string): StageConfig[] {
  const given = [entry.recipe !== undefined && 'recipe', entry.pipeline !== undefined && 'pipeline'].filter(Boolean);
  if (given.length !== 1) problem(`${where}: give either recipe (with options) or pipeline`);
  if (entry.pipeline !== undefined) {
    if (entry.options !== undefined) problem(`${where}: options belong to each stage of a pipeline, not beside it`);
    return entry.pipeline;
  }
  return [{ recipe: entry.recipe ?? '', options: entry.options ?? {} }];
}

/** Validates one stage's recipe, options and provider; returns the stage with its options parsed. */
function checkStage(stage: StageConfig, where: string, ctx: RouteCheckContext): { config: StageConfig; recipe: Recipe } {
  const recipe = ctx.recipes.get(stage.recipe);
  if (!recipe) problem(`${where}.recipe: unknown recipe "${stage.recipe}" (known: ${[...ctx.recipes.keys()].join(', ')})`);
  const missing = ctx.missingSection(recipe);
  if (missing) problem(`${where} uses recipe "${stage.recipe}", which ${missing}`);
  const options = recipe.optionsSchema.safeParse(stage.options);
  if (!options.success) {
    problem(options.error.issues.map((i) => `${where}.options.${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return { config: { recipe: stage.recipe, options: options.data }, recipe };
}

/** The fit of a route's stages with each other and with the slots its `when` names. */
function checkFit(stages: { recipe: Recipe }[], route: { when?: SlotPattern; from?: unknown }, where: (s: number) => string) {
  for (const [s, { recipe }] of stages.entries()) {
    if (recipe.inputsAs === 'urls' && (s > 0 || route.from !== undefined)) {
      problem(
        `${where(s)} (${recipe.name}) takes its inputs as Creative Force's pre-signed URLs, and ${s > 0 ? 'the files of the stage before it' : "another slot's still"} have none: it can only be the first stage of a route that works from the task's inputs`,
      );
    }
    const before = stages[s - 1]?.recipe;
    if (before?.produces === 'video') {
      problem(`${where(s)} (${recipe.name}) works from photos, but the stage before it (${before.name}) produces video`);
    }
  }
  const last = stages.at(-1)?.recipe;
  const kind = route.when?.contentType;
  if (last && kind === 'video' && last.produces === 'photo') {
    problem(`${where(stages.length - 1)} (${last.name}) produces photos, but the route takes video slots`);
  }
  if (last && kind === 'photo' && last.produces === 'video') {
    problem(`${where(stages.length - 1)} (${last.name}) produces video, but the route takes photo slots`);
  }
}

/**
 * A subfunction's routes from its entry in the connections file, checked (see the file comment).
 *
 * @returns the routes, or the reason they are refused, prefixed with `subfunctions.<id>`.
 */
export function subfunctionRoutes(
  id: string,
  sub: WorkFields & { route?: z.output<typeof routeSchema>[] | undefined },
  ctx: RouteCheckContext,
): { routes: RouteConfig[] } | { refused: string } {
  const base = `subfunctions.${id}`;
  try {
    const given = [sub.recipe !== undefined, sub.pipeline !== undefined, sub.route !== undefined].filter(Boolean).length;
    if (given !== 1) problem(`${base}: give exactly one of recipe, pipeline or route`);
    const entries = sub.route ?? [{ recipe: sub.recipe, options: sub.options, pipeline: sub.pipeline }];
    if (sub.route !== undefined && sub.options !== undefined) problem(`${base}: options belong to a route's recipe or stages`);
    const label = (r: number) => (sub.route ? `${base}.route[${r}]` : base);
    const stageLabel = (r: number, entry: WorkFields) => (s: number) =>
      entry.pipeline ? `${label(r)}.pipeline[${s}]` : label(r);
    const routes = entries.map((entry, r): RouteConfig => {
      const where = stageLabel(r, entry);
      const checked = stagesOf(entry, label(r)).map((stage, s) => checkStage(stage, where(s), ctx));
      const when = 'when' in entry ? entry.when : undefined;
      const from = 'from' in entry ? entry.from?.slot : undefined;
      if (when === undefined && r < entries.length - 1) {
        problem(`${label(r)}: only the last route may go without "when" (the routes after it would never be taken)`);
      }
      checkFit(checked, { ...(when ? { when } : {}), from }, where);
      return { ...(when ? { when } : {}), ...(from ? { from } : {}), stages: checked.map((c) => c.config) };
    });
    const takesUrls = (route: RouteConfig) => !route.from && ctx.recipes.get(route.stages[0]?.recipe ?? '')?.inputsAs === 'urls';
    const fromTask = routes.filter((route) => !route.from);
    if (fromTask.some(takesUrls) && !fromTask.every(takesUrls)) {
      problem(
        `${base}: some routes take the task's inputs as pre-signed URLs (firefly-workflow first) and others as files: a subfunction's routes take them one way`,
      );
    }
    const ordered = routeOrder(routes);
    if ('cycle' in ordered) {
      const path = ordered.cycle.map((r) => `route[${r}]`).join(' → ');
      problem(
        `${base}: the "from" references form a cycle (${path}): a route would wait for a still that it, or a route waiting for it, may make; narrow "when" or "from"`,
      );
    }
    return { routes };
  } catch (err) {
    if (err instanceof RouteProblem) return { refused: err.message };
    throw err;
  }
}
