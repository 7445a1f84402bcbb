/**
 * What a subfunction runs, as data: one or more routes, each a pipeline of stages (a stage is a
 * recipe with its options). A subfunction with `recipe:` is one route of one stage; `pipeline:`
 * is one route of several; `route:` lists routes that drop boxes take by their content type,
 * position or mappingKeyId, first match wins. A route may take its input from another slot's
 * still of the same cycle (`from`), which orders the routes: the routes a `from` refers to run
 * first; on a rework whose still is kept, from that kept still (downloaded in step 3, when
 * CF_KEPT_OUTPUT_DOWNLOAD allows it). The configuration is checked when it loads (src/config/subfunction-routes.ts): here the
 * rules are functions over a task's slots: which route takes a slot and whether it can fill it,
 * what the routes need of steps 3 and 4, the order they run in (run-routes.ts runs them).
 */
import type { Logger } from 'pino';
import { AssetAttribute, AssetContentType, type KeptOutputDownload, keptOutputDownloadEnv } from '../creative-force/contract.ts';
import type { ExpectedOutput, OutputAsset } from '../creative-force/schemas.ts';
import { ConnectorError } from '../errors.ts';
import type { RecipeRegistry } from '../providers/index.ts';
import { slotCapacity } from '../providers/provider-work.ts';
import type { ContextNeeds, ProducedFile, Recipe, SlotRequest } from '../providers/recipe.ts';
import { mainMinimum, recipeRequests, type SlotWork } from './build-submission.ts';
import type { RefusedOutput } from './gate-outputs.ts';

/** The content types a pattern can name, as Creative Force's slots carry them. */
export const slotContentTypes = { photo: AssetContentType.Photo, video: AssetContentType.Video, both: AssetContentType.Both };
export type SlotContentType = keyof typeof slotContentTypes;

/**
 * Which slots a route takes (`when`) or refers to (`from`). Every field given must hold: the
 * slot's content type (`both` is a slot that takes either), its position name (case-insensitive),
 * its mappingKeyId against a glob (`*` any characters, `?` one; case-sensitive, whole id).
 */
export interface SlotPattern {
  contentType?: SlotContentType;
  position?: string;
  mappingKeyId?: string;
}

/** One stage of a pipeline, as configured: a recipe's name and its options (validated). */
export interface StageConfig {
  recipe: string;
  options: unknown;
}

/** One route of a subfunction, as configured. */
export interface RouteConfig {
  /** Absent only on the last route: it takes every slot the others do not. */
  when?: SlotPattern;
  /** The slot whose produced still is this route's input (a photo slot of the same task). */
  from?: SlotPattern;
  stages: StageConfig[];
}

/** A stage with its recipe looked up, as a cycle runs it. */
export interface CycleStage {
  recipe: Recipe;
  options: unknown;
}

/** A route as a cycle runs it. */
export interface CycleRoute {
  when?: SlotPattern;
  from?: SlotPattern;
  stages: CycleStage[];
}

/** What one stage made: its files that passed the gate, per slot, and those it refused. */
export interface StageResult {
  files: Record<string, ProducedFile[]>;
  refused: RefusedOutput[];
}

/** The step's progress: each finished stage's result, by `<route>.<stage>.<recipe>.<options hash>` (run-routes.ts stageKey). */
export interface StageOutputs {
  stages: Record<string, StageResult>;
}

/** A slot to produce, and the route that takes it. */
export interface RoutedRequest {
  request: SlotRequest;
  route: number;
  /**
   * For a `from` route whose still is kept on this rework (not produced in this cycle): the kept
   * output's assetId, downloaded in step 3 and the route's input.
   */
  keptStill?: string;
}

/** A stage that finished or was resumed, for the task history. */
export interface StageRecord {
  /** e.g. `route 2, stage 1 of 2: sartiq-generate`. */
  stage: string;
  resumed: boolean;
  durationMs: number;
}

/** A route's stages for people: `sartiq-generate → sartiq-upscale → convert`. */
function describeStages(stages: readonly { recipe: string | Recipe }[]): string {
  return stages.map((s) => (typeof s.recipe === 'string' ? s.recipe : s.recipe.name)).join(' → ');
}

/** A subfunction's routes for people (a single recipe is its name). */
export function describeRoutes(routes: readonly RouteConfig[]): string {
  return routes.map((r) => describeStages(r.stages)).join(' | ');
}

/** Which route of several took a slot, for the plan and the history: `route 2: sartiq-video`. */
export function routeLabel(routes: readonly { stages: readonly { recipe: string | Recipe }[] }[], index: number): string {
  const stages = describeStages(routes[index]?.stages ?? []);
  return routes.length === 1 ? stages : `route ${index + 1}: ${stages}`;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

const sameName = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/** Whether `slot` is one `pattern` names. */
export function slotMatches(slot: ExpectedOutput, pattern: SlotPattern | undefined): boolean {
  if (!pattern) return true;
  if (pattern.contentType !== undefined && slotContentTypes[pattern.contentType] !== slot.assetContentTypeId) return false;
  if (pattern.position !== undefined && !(slot.positionName !== null && sameName(slot.positionName, pattern.position))) {
    return false;
  }
  return pattern.mappingKeyId === undefined || globToRegExp(pattern.mappingKeyId).test(slot.mappingKeyId);
}

/** The index of the route that takes `slot` (the first that matches), or undefined when none does. */
export function routeIndexFor(slot: ExpectedOutput, routes: readonly { when?: SlotPattern }[]): number | undefined {
  const index = routes.findIndex((r) => slotMatches(slot, r.when));
  return index < 0 ? undefined : index;
}

/** Whether a slot can be a still for `from`: a photo slot (or one taking either) that the pattern names. */
function isStillOf(slot: ExpectedOutput, from: SlotPattern): boolean {
  return slot.assetContentTypeId !== AssetContentType.Video && slotMatches(slot, from);
}

/** The slot whose still `from` names for `slot`: the first such slot of the task but `slot` itself. */
export function stillSlotFor(
  slots: readonly ExpectedOutput[],
  slot: ExpectedOutput,
  from: SlotPattern,
): ExpectedOutput | undefined {
  return slots.find((s) => s.mappingKeyId !== slot.mappingKeyId && isStillOf(s, from));
}

/**
 * Whether some slot could match both patterns (`from` being a still's pattern: never a video slot).
 * Patterns are told apart by a differing content type or position, or two mappingKeyIds without
 * wildcards that differ; anything else may overlap. Used at load to find the routes a `from` may
 * depend on, so it errs towards "may".
 */
export function mayOverlap(when: SlotPattern | undefined, from: SlotPattern): boolean {
  if (when?.contentType === 'video') return false;
  if (when?.contentType !== undefined && from.contentType !== undefined && when.contentType !== from.contentType) return false;
  if (when?.position !== undefined && from.position !== undefined && !sameName(when.position, from.position)) return false;
  const literal = (glob: string | undefined) => glob !== undefined && !/[*?]/.test(glob);
  return !(literal(when?.mappingKeyId) && literal(from.mappingKeyId) && when?.mappingKeyId !== from.mappingKeyId);
}

/**
 * The order the routes run in: every route after the routes its `from` may take its still from,
 * otherwise in their own order.
 *
 * @returns the order, or the routes (indexes) of a cycle of references.
 */
export function routeOrder(
  routes: readonly { when?: SlotPattern; from?: SlotPattern }[],
): { order: number[] } | { cycle: number[] } {
  const dependsOn = routes.map((route) => {
    const { from } = route;
    return from ? routes.flatMap((other, j) => (mayOverlap(other.when, from) ? [j] : [])) : [];
  });
  const order: number[] = [];
  const done = new Set<number>();
  while (order.length < routes.length) {
    const next = [...routes.keys()].find((i) => !done.has(i) && (dependsOn[i] ?? []).every((j) => done.has(j)));
    if (next === undefined) return { cycle: cycleAmong(dependsOn, done) };
    order.push(next);
    done.add(next);
  }
  return { order };
}

/** A cycle of the dependencies among the routes not `done` (each of which waits for another of them). */
function cycleAmong(dependsOn: readonly number[][], done: ReadonlySet<number>): number[] {
  const path: number[] = [];
  let at = [...dependsOn.keys()].find((i) => !done.has(i)) ?? 0;
  while (!path.includes(at)) {
    path.push(at);
    at = (dependsOn[at] ?? []).find((j) => !done.has(j)) ?? at;
  }
  return [...path.slice(path.indexOf(at)), at];
}

/** The slot as a stage sees it: a stage before the last makes photos (what the next one works from). */
export function slotForStage(slot: ExpectedOutput, last: boolean): ExpectedOutput {
  return last ? slot : { ...slot, assetContentTypeId: AssetContentType.Photo };
}

/** Why a route cannot fill a slot: the first stage's reason (each sees the slot as it works on it). */
function routeCannotFill(route: CycleRoute, slot: ExpectedOutput): string | null {
  for (const [s, stage] of route.stages.entries()) {
    const reason = stage.recipe.cannotFill(slotForStage(slot, s === route.stages.length - 1), stage.options);
    if (reason) return reason;
  }
  return null;
}

/**
 * Before any download or paid work: which route takes each slot that must be produced, and can it
 * fill it at all? An optional slot filled from scratch is left empty instead; a required or
 * reworked one fails the cycle. `keptOutputs` says whether a `from` route may start from a still
 * kept from an earlier cycle (CF_KEPT_OUTPUT_DOWNLOAD).
 */
export function routedRequests(
  work: readonly SlotWork[],
  routes: readonly CycleRoute[],
  logger: Logger,
  keptOutputs: KeptOutputDownload,
): RoutedRequest[] {
  const routed = recipeRequests(work).flatMap((request): RoutedRequest[] => {
    const { slot, replaces } = request;
    const route = routeIndexFor(slot, routes);
    const reason =
      route === undefined
        ? `slot ${slot.mappingKeyId} (position ${slot.positionName ?? 'none'}) is taken by none of the subfunction's routes`
        : routeCannotFill(routes[route] as CycleRoute, slot);
    if (reason && (mainMinimum(slot) > 0 || replaces.length > 0)) {
      throw new ConnectorError('SLOT_UNSUPPORTED', reason, { details: { mappingKeyId: slot.mappingKeyId } });
    }
    if (reason || route === undefined) {
      logger.info({ mappingKeyId: slot.mappingKeyId, reason }, 'optional slot left empty');
      return [];
    }
    return [{ request, route }];
  });
  return routed.map((q) => withStill(q, routed, routes, work, keptOutputs));
}

/** The kept output a still slot offers: its first main asset (an alternate only when it has no other). */
function keptStillOf(work: SlotWork | undefined): OutputAsset | undefined {
  const kept = work?.keep ?? [];
  return kept.find((o) => o.assetAttributeId !== AssetAttribute.Alternative) ?? kept[0];
}

/**
 * A `from` route's drop box has its still: the drop box the reference names exists and is
 * produced in this cycle too, or (on a rework, when `keptOutputs` allows it) keeps an output the
 * route starts from instead.
 *
 * @returns the request, with the kept still it starts from when there is one.
 * @throws ConnectorError SLOT_UNFILLABLE naming both drop boxes (and the setting, when it is off).
 */
function withStill(
  routedRequest: RoutedRequest,
  routed: readonly RoutedRequest[],
  routes: readonly CycleRoute[],
  work: readonly SlotWork[],
  keptOutputs: KeptOutputDownload,
): RoutedRequest {
  const { request, route } = routedRequest;
  const from = routes[route]?.from;
  if (!from) return routedRequest;
  const slots = work.map((w) => w.slot);
  const still = stillSlotFor(slots, request.slot, from);
  const fail = (why: string) =>
    new ConnectorError('SLOT_UNFILLABLE', `slot ${request.slot.mappingKeyId} takes its input from another slot's still: ${why}`, {
      details: { mappingKeyId: request.slot.mappingKeyId },
    });
  if (!still) throw fail(`the task has no photo slot that "from" (${JSON.stringify(from)}) names`);
  if (routed.some((q) => q.request.slot.mappingKeyId === still.mappingKeyId)) return routedRequest;
  const kept = keptStillOf(work.find((w) => w.slot.mappingKeyId === still.mappingKeyId));
  if (!kept) throw fail(`slot ${still.mappingKeyId} is not produced in this cycle and has no kept output to start from`);
  if (keptOutputs === 'off') {
    throw fail(
      `slot ${still.mappingKeyId} is kept as it was on this rework, and fetching a kept output's file is off (${keptOutputDownloadEnv}=off; ${keptOutputDownloadEnv}=bulk-get-assets enables it)`,
    );
  }
  return { ...routedRequest, keptStill: kept.assetId };
}

/** The kept outputs step 3 downloads for the `from` routes that start from them (each once). */
export function keptStillIds(requests: readonly RoutedRequest[]): string[] {
  return [...new Set(requests.flatMap((q) => (q.keptStill === undefined ? [] : [q.keptStill])))];
}

/** What step 4 must fetch: whatever any stage of the routes taking slots declared. */
export function routeNeeds(routes: readonly CycleRoute[], requests: readonly RoutedRequest[]): ContextNeeds {
  const used = new Set(requests.map((q) => q.route));
  const needs: ContextNeeds = {};
  for (const [r, route] of routes.entries()) {
    if (!used.has(r)) continue;
    for (const stage of route.stages) {
      for (const [need, wanted] of Object.entries(stage.recipe.needs(stage.options)) as [keyof ContextNeeds, boolean][]) {
        if (wanted) needs[need] = true;
      }
    }
  }
  return needs;
}

/** How the routes take the task's inputs (the configuration check makes them all take them one way). */
export function routeInputsAs(routes: readonly CycleRoute[]): NonNullable<Recipe['inputsAs']> {
  return routes.find((r) => !r.from)?.stages[0]?.recipe.inputsAs ?? 'files';
}

/** A subfunction's routes with their recipes looked up. */
export function resolveRoutes(
  routes: readonly RouteConfig[],
  recipes: RecipeRegistry,
  subfunctionId: number | string,
): CycleRoute[] {
  return routes.map((route) => ({
    ...route,
    stages: route.stages.map((stage) => {
      const recipe = recipes.get(stage.recipe);
      if (!recipe) {
        throw new ConnectorError(
          'RECIPE_NOT_CONFIGURED',
          `subfunction ${subfunctionId} uses recipe ${stage.recipe}, which this release does not have`,
        );
      }
      return { recipe, options: stage.options };
    }),
  }));
}

/** The files a later stage is expected to work from per drop box: as many as it holds (at most 8), one per rejected asset on a rework. */
const expectedFiles = (request: SlotRequest) => slotCapacity(request, 8);

/**
 * The paid provider calls the routes make for `requests`, announced before they run: each first
 * stage's recipe's count; a later stage (or the first stage of a `from` route, once per drop box)
 * runs once per file it works from, counted as the files the drop box holds.
 */
export function routePaidCalls(routes: readonly CycleRoute[], requests: readonly RoutedRequest[]): number {
  let calls = 0;
  for (const { request, route } of requests) {
    const stages = routes[route]?.stages ?? [];
    for (const [s, stage] of stages.entries()) {
      const slot = slotForStage(request.slot, s === stages.length - 1);
      if (s === 0) {
        calls += stage.recipe.paidCalls([{ ...request, slot }], stage.options);
        continue;
      }
      const one = { slot, count: 1, replaces: [] };
      calls += expectedFiles(request) * stage.recipe.paidCalls([one], stage.options);
    }
  }
  return calls;
}
