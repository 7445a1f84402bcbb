/**
 * Runs a subfunction's routes for the slots of one cycle (inside step 5), each route's stages in
 * order, and passes every stage's files through the result gate.
 *
 * - A route's first stage works from the task's inputs (downloaded, or as URLs), as a single
 *   recipe always did; or, with `from`, from another slot's produced still: the routes run in the
 *   order `from` gives (routes.ts), so that still exists when its route starts. On a rework that
 *   keeps that still, the route starts from the kept still step 3 downloaded (an uploaded image
 *   for a provider: no prediction of this cycle exists).
 * - A later stage works from the files of the stage before it, one run per file, each file being
 *   that run's one input (at the slot's position, so a recipe picks it as it picks a task's input)
 *   and asked to make one file from it: a stage transforms each candidate in turn, and a file's
 *   attribute (set by a recipe, e.g. an alternate) is carried to what the next stage makes of it.
 *   Only as many files as the slot takes are passed on: the rest would be dropped, and each costs.
 * - The gate checks every stage's files: between stages the checks every file gets (it is not
 *   empty, it decodes as what it claims to be, not blank) and, before a stage that works from
 *   photos, that it is a photo; after the last stage, the subfunction's own `checks` as well. A
 *   file refused between stages goes no further, and the plan records it.
 * - Every stage's files are saved in the step's progress when it finishes (the step helper keeps
 *   them until step 5 has its result), under the stage's position, recipe and a hash of the
 *   options it and what it worked from were made with (stageKey): a job resumed after the
 *   configuration changed takes no saved files of a stage that is not the same any more, and a
 *   stage saved without the hash (by an earlier release) runs again. A retry resumes after the last stage whose files are still on this
 *   host's disk (the cycle's work directory survives a crash of the worker; another host has none
 *   of it): the stages before it are not run at all. A stage that does run again finds its paid
 *   work in the recipe's memory and pays for nothing twice (paid-start.ts).
 * - The recipe memory is named by position only, not by options: a stage run again because its
 *   options changed while its job waited adopts the paid work it had started with the old ones
 *   rather than paying for it again (never paying twice wins over a change made mid-job).
 * - Each run of a stage has its own part of the recipe memory (`r<route>.s<stage>…:` before the
 *   recipe's keys) and its own output folder, so two stages of one provider never share an id.
 *   The first stage of the first route keeps the memory and folder a single recipe always had, so
 *   a cycle in flight when the service is upgraded resumes its paid work.
 *
 * A subfunction with one recipe (one route, one stage) runs exactly as before pipelines: one run,
 * no stage progress (the step's own result follows at once).
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExpectedOutput, ProcessDetail } from '../creative-force/schemas.ts';
import { ConnectorError } from '../errors.ts';
import { clientForRecipe } from '../providers/index.ts';
import { slotTakes } from '../providers/provider-work.ts';
import type { InputFile, ProducedFile, RecipeMemory, RecipeResult, SlotRequest, TaskContext } from '../providers/recipe.ts';
import type { TaskInputs } from './checkpoint.ts';
import type { CycleContext } from './cycle-context.ts';
import { gateOutputs, type OutputChecks, outputChecksSchema, type RefusedOutput } from './gate-outputs.ts';
import {
  type CycleRoute,
  type CycleStage,
  mayOverlap,
  type RoutedRequest,
  routeLabel,
  routeOrder,
  type StageOutputs,
  type StageRecord,
  type StageResult,
  slotForStage,
  stillSlotFor,
} from './routes.ts';
import { filesPresent } from './steps/download-inputs.ts';

export type RunRoutesInput = Pick<CycleContext, 'workDir' | 'providers' | 'finalAttempt' | 'paidWork' | 'signal' | 'logger'> & {
  routes: readonly CycleRoute[];
  detail: ProcessDetail;
  requests: readonly RoutedRequest[];
  inputs: TaskInputs;
  context: TaskContext;
  memory: RecipeMemory;
  /** The subfunction's rules, for the files of each route's last stage. */
  checks: OutputChecks;
  /** What an earlier attempt saved (StepProgress of step 5). */
  saved?: StageOutputs | undefined;
  /** Saves the stages' results so far; without it nothing is saved (a run that does not resume). */
  save?(outputs: StageOutputs): Promise<void>;
  /** Tells the task history of each stage. */
  stageDone?(stage: StageRecord): Promise<void>;
};

export interface RoutesResult {
  /** The last stages' files that passed the gate, per slot. */
  passed: RecipeResult;
  refused: RefusedOutput[];
  /** Which route produced each slot, for people (only with several stages or routes). */
  routeOf: Map<string, string>;
}

/** What every file passes between two stages: the checks every file gets, blank frames refused. */
const betweenStages = outputChecksSchema.parse({});

/** Whether a subfunction is a single recipe, run as before pipelines. */
function isSingleRecipe(routes: readonly CycleRoute[]): boolean {
  return routes.length === 1 && routes[0]?.stages.length === 1 && routes[0].from === undefined;
}

/** Runs every route that has slots to produce, in their order; see the file comment. */
export async function runRoutes(input: RunRoutesInput): Promise<RoutesResult> {
  const { routes } = input;
  const single = isSingleRecipe(routes);
  const ordered = routeOrder(routes);
  if ('cycle' in ordered)
    throw new Error(`routes ${ordered.cycle.join(' → ')} form a cycle: the configuration check let it pass`);
  const progress: StageOutputs = { stages: { ...input.saved?.stages } };
  const passed: RecipeResult = new Map();
  const refused: RefusedOutput[] = [];
  const routeOf = new Map<string, string>();
  for (const r of ordered.order) {
    const requests = input.requests.filter((q) => q.route === r).map((q) => q.request);
    const route = routes[r];
    if (!route || requests.length === 0) continue;
    const result = await runRoute(input, { route, index: r, requests, passed, progress, single });
    for (const request of requests) {
      const { mappingKeyId } = request.slot;
      passed.set(mappingKeyId, result.files[mappingKeyId] ?? []);
      if (!single) routeOf.set(mappingKeyId, routeLabel(routes, r));
    }
    refused.push(...result.refused);
  }
  return { passed, refused, routeOf };
}

interface RouteRun {
  route: CycleRoute;
  index: number;
  requests: SlotRequest[];
  /** The files of the routes that ran before, for `from`. */
  passed: RecipeResult;
  progress: StageOutputs;
  single: boolean;
}

/** JSON with every object's keys in order: the same options give the same text, whatever their order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
}

/** What a stage's files are made from, as configured: its recipe and options and those of the stages before it. */
function stageChain(route: CycleRoute, s: number) {
  return route.stages.slice(0, s + 1).map((stage) => ({ recipe: stage.recipe.name, options: stage.options }));
}

/**
 * The key of a stage's saved outputs: `<route>.<stage>.<recipe>.<hash>`, the hash covering the
 * options of the stage and of every stage before it (whose files it worked from) and, for a `from`
 * route, of the routes its still may come from. A job resumed after the configuration changed
 * thus takes no files of another recipe, nor of a stage whose options, or whose inputs' options,
 * are not the same any more.
 */
export function stageKey(routes: readonly CycleRoute[], r: number, s: number): string {
  const route = routes[r] as CycleRoute;
  const stage = route.stages[s] as CycleStage;
  const { from } = route;
  const stills = from
    ? routes.flatMap((other, j) => (j !== r && mayOverlap(other.when, from) ? [stageChain(other, other.stages.length - 1)] : []))
    : [];
  const made = { stages: stageChain(route, s), from: from ?? null, stills };
  const hash = createHash('sha256').update(stableJson(made)).digest('hex').slice(0, 16);
  return `${r}.${s}.${stage.recipe.name}.${hash}`;
}

/** Runs one route's stages, resuming after the last one whose files are still here. */
async function runRoute(input: RunRoutesInput, run: RouteRun): Promise<StageResult> {
  const { route, index } = run;
  const keyOf = (s: number) => stageKey(input.routes, index, s);
  const usable = async (s: number) => {
    const saved = run.progress.stages[keyOf(s)];
    return saved !== undefined && (await filesPresent(Object.values(saved.files).flat()));
  };
  let start = 0;
  for (let s = route.stages.length - 1; s >= 0; s -= 1) {
    if (await usable(s)) {
      start = s + 1;
      break;
    }
  }
  let current: StageResult | undefined = start > 0 ? run.progress.stages[keyOf(start - 1)] : undefined;
  const refused: RefusedOutput[] = [];
  for (let s = 0; s < start; s += 1) {
    refused.push(...(run.progress.stages[keyOf(s)]?.refused ?? []));
    if (!run.single) await stageFinished(input, run, s, true, 0);
  }
  for (let s = start; s < route.stages.length; s += 1) {
    const started = performance.now();
    const last = s === route.stages.length - 1;
    const produced = await runStage(input, run, s, current);
    const notPhotos: RefusedOutput[] = [];
    const candidates = last ? produced : photosOnly(produced, route.stages[s + 1], notPhotos);
    const gated = await gateOutputs(candidates, last ? input.checks : betweenStages, input.logger);
    current = { files: Object.fromEntries(gated.passed), refused: [...notPhotos, ...gated.refused] };
    refused.push(...current.refused);
    if (!run.single) {
      run.progress.stages[keyOf(s)] = current;
      await input.save?.(run.progress);
      await stageFinished(input, run, s, false, Math.round(performance.now() - started));
    }
  }
  return { files: current?.files ?? {}, refused };
}

/** Refuses the files that are not photos before a stage that works from photos (every recipe does). */
function photosOnly(produced: RecipeResult, next: CycleStage | undefined, refused: RefusedOutput[]): RecipeResult {
  if (!next) return produced;
  const kept: RecipeResult = new Map();
  for (const [mappingKeyId, files] of produced) {
    kept.set(
      mappingKeyId,
      files.filter((f) => {
        if (f.kind === 'photo') return true;
        refused.push({
          mappingKeyId,
          fileName: f.fileName,
          rule: 'format',
          reason: `${f.kind}, but the next stage (${next.recipe.name}) works from photos`,
        });
        return false;
      }),
    );
  }
  return kept;
}

async function stageFinished(input: RunRoutesInput, run: RouteRun, s: number, resumed: boolean, durationMs: number) {
  const { route, index } = run;
  const recipe = route.stages[s]?.recipe.name ?? '';
  const where = input.routes.length > 1 ? `route ${index + 1}, ` : '';
  const stage = `${where}stage ${s + 1} of ${route.stages.length}: ${recipe}`;
  input.logger.info(
    {
      route: index + 1,
      stage: s + 1,
      stages: route.stages.length,
      recipe,
      resumed,
      slots: run.requests.map((q) => q.slot.mappingKeyId),
    },
    resumed ? 'pipeline stage resumed' : 'pipeline stage finished',
  );
  await input.stageDone?.({ stage, resumed, durationMs });
}

/** A produced file as the input of the next run, at the slot's position. */
function asInput(file: ProducedFile, slot: ExpectedOutput, assetId: string): InputFile {
  return {
    path: file.path,
    fileName: file.fileName,
    bytes: file.bytes,
    assetId,
    positionName: slot.positionName,
    positionTagId: null,
    ...(file.source ? { source: file.source } : {}),
  };
}

/** The recipe memory under `prefix` (none: the memory as it is). */
function memoryUnder(memory: RecipeMemory, prefix: string): RecipeMemory {
  if (prefix === '') return memory;
  return { get: (key) => memory.get(`${prefix}${key}`), set: (key, value) => memory.set(`${prefix}${key}`, value) };
}

interface StageCall {
  requests: SlotRequest[];
  inputs: InputFile[];
  /** Names this call's memory and output folder; '' for the first stage of the first route. */
  name: string;
  fromTask: boolean;
}

/** Runs stage `s` of a route: once from the task's inputs, or once per still or file (see the file comment). */
async function runStage(input: RunRoutesInput, run: RouteRun, s: number, before: StageResult | undefined): Promise<RecipeResult> {
  const { route, index, requests } = run;
  const last = s === route.stages.length - 1;
  const stageName = `r${index}.s${s}`;
  const calls: StageCall[] = [];
  if (s === 0 && !route.from) {
    const name = index === 0 ? '' : stageName;
    calls.push({
      requests: requests.map((q) => ({ ...q, slot: slotForStage(q.slot, last) })),
      inputs: input.inputs.files,
      name,
      fromTask: true,
    });
  } else if (s === 0 && route.from) {
    for (const request of requests) {
      const name = `${stageName}.${request.slot.mappingKeyId}`;
      const stillInput = stillFor(input, run, request, `${name}.still`);
      calls.push({
        requests: [{ ...request, slot: slotForStage(request.slot, last) }],
        inputs: [stillInput],
        name,
        fromTask: false,
      });
    }
  } else {
    for (const request of requests) {
      const files = (before?.files[request.slot.mappingKeyId] ?? []).slice(0, slotTakes(request));
      for (const [n, file] of files.entries()) {
        const name = `${stageName}.${request.slot.mappingKeyId}.${n}`;
        const replaced = request.replaces[n];
        calls.push({
          requests: [{ slot: slotForStage(request.slot, last), count: 1, replaces: replaced ? [replaced] : [] }],
          inputs: [asInput(file, request.slot, name)],
          name,
          fromTask: false,
        });
      }
    }
  }
  const stage = route.stages[s] as CycleStage;
  const result: RecipeResult = new Map();
  for (const call of calls) {
    const made = await callRecipe(input, stage, call);
    const source = call.fromTask ? undefined : call.inputs[0];
    for (const [mappingKeyId, files] of made) {
      const attribute = s > 0 && source ? attributeOf(before, mappingKeyId, source) : undefined;
      const carried = files.map((f) =>
        attribute !== undefined && f.assetAttributeId === undefined ? { ...f, assetAttributeId: attribute } : f,
      );
      result.set(mappingKeyId, [...(result.get(mappingKeyId) ?? []), ...carried]);
    }
  }
  return result;
}

/** The attribute the file a later stage worked from had (its run's input). */
function attributeOf(before: StageResult | undefined, mappingKeyId: string, input: InputFile): ProducedFile['assetAttributeId'] {
  return before?.files[mappingKeyId]?.find((f) => f.path === input.path)?.assetAttributeId;
}

/**
 * The still a `from` route's slot starts from, as the input of its run (at the slot's position):
 * the kept still step 3 downloaded when routedRequests named one, else the best-ranked file of the
 * slot the reference names, made in this cycle (routedRequests made sure that slot is produced,
 * and the route order that it ran).
 */
function stillFor(input: RunRoutesInput, run: RouteRun, request: SlotRequest, assetId: string): InputFile {
  const { slot } = request;
  const keptStill = input.requests.find((q) => q.request.slot.mappingKeyId === slot.mappingKeyId)?.keptStill;
  if (keptStill !== undefined) {
    const kept = input.inputs.keptStills.find((f) => f.assetId === keptStill);
    if (kept) return { ...kept, positionName: slot.positionName, positionTagId: null };
    throw new ConnectorError(
      'SLOT_UNFILLABLE',
      `slot ${slot.mappingKeyId} starts from the kept output ${keptStill}, which step 3 did not download`,
      {
        details: { mappingKeyId: slot.mappingKeyId },
      },
    );
  }
  const from = run.route.from;
  const stillSlot = from && stillSlotFor(input.detail.taskProcessExpectedOutputs, slot, from);
  const [still] = (stillSlot && run.passed.get(stillSlot.mappingKeyId)) || [];
  if (still) return asInput(still, slot, assetId);
  throw new ConnectorError(
    'SLOT_UNFILLABLE',
    `slot ${slot.mappingKeyId} takes its input from another slot's still: slot ${stillSlot?.mappingKeyId} has no still that passed the result check`,
    { details: { mappingKeyId: slot.mappingKeyId } },
  );
}

/** One call of a stage's recipe. */
async function callRecipe(input: RunRoutesInput, stage: CycleStage, call: StageCall): Promise<RecipeResult> {
  const outputDir = call.name === '' ? join(input.workDir, 'out') : join(input.workDir, 'out', call.name);
  await mkdir(outputDir, { recursive: true });
  const urls = call.fromTask ? input.inputs.urls : null;
  return stage.recipe.run({
    detail: input.detail,
    requests: call.requests,
    inputs: call.inputs,
    inputUrls: urls?.inputUrls ?? [],
    colorReferenceUrls: urls?.colorReferenceUrls ?? [],
    context: input.context,
    options: stage.options,
    outputDir,
    memory: memoryUnder(input.memory, call.name === '' ? '' : `${call.name}:`),
    client: clientForRecipe(stage.recipe, input.providers),
    finalAttempt: input.finalAttempt,
    paidWork: input.paidWork,
    signal: input.signal,
    logger: input.logger,
  });
}
