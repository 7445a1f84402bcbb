/**
 * Recipe `firefly-workflow`: runs a studio's published Adobe Firefly workflow on the task's images.
 * Inputs go to Firefly as Creative Force's own pre-signed S3 GET URLs (Firefly accepts S3), so they
 * are neither downloaded nor uploaded again. One run per image a drop box needs; several tasks
 * waiting on the same workflow share one batch (see batch-gatherer.ts), and each task reads only
 * its own runs' results and fails alone when one of them fails. Of the results (a run may give
 * several, one per output node), only those the drop box takes are downloaded.
 *
 * Never pay twice: the batch id and this task's run indexes are saved in the job before polling,
 * so a retry resumes the same batch; runs whose batch answer was lost (the leader's execute
 * answer, or a task that died while waiting for it) are found in the batch that holds them before
 * they are queued again (lost-start.ts). A cycle abandoned by its deadline (its last attempt timed
 * out) cancels the batch when no other task shares it.
 */
import { mkdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { z } from 'zod';
import { kindFits } from '../../cycle/build-submission.ts';
import { ConnectorError } from '../../errors.ts';
import { startPaidWork } from '../paid-start.ts';
import { pollingOptionsShape, pollUntil } from '../poll.ts';
import { fillTemplate, templateSchema, templateValues, usesField } from '../prompt-template.ts';
import { downloadWithRetry, slotTakes } from '../provider-work.ts';
import type { ProducedFile, ProviderRecipe, RecipeRun, SlotRequest } from '../recipe.ts';
import type { BatchAssignment, BatchGatherer } from './batch-gatherer.ts';
import type { FireflyClient, FireflyNodeInput } from './client.ts';
import { fireflyProvider } from './errors.ts';
import { fireflyRunDigest, fireflyStartLookup } from './lost-start.ts';

/** What fills one input node of the workflow. */
const nodeSource = z.union([
  /** The drop box's input image (the input of the same position, else the first). */
  z.strictObject({ from: z.literal('input') }),
  /** A color reference file of the task. */
  z.strictObject({ from: z.literal('colorReference'), index: z.number().int().min(0).default(0) }),
  /** A text built from a template over the task. */
  z.strictObject({ text: templateSchema }),
]);

export const workflowOptionsSchema = z.strictObject({
  workflowId: z.uuid(),
  /** Input node id (from the workflow's sample cURL) → what fills it. */
  inputs: z
    .record(z.string().min(1), nodeSource)
    .refine((m) => Object.keys(m).length > 0, { message: 'map at least one input node' }),
  /** Take only this output node's results (default: every output with a URL). */
  outputNodeId: z.string().optional(),
  /** How long the first task waits for others before the shared batch is executed. */
  gatherWindowMs: z.number().int().min(0).max(60_000).default(2_000),
  ...pollingOptionsShape({ pollIntervalMs: 3_000, deadlineMs: 20 * 60_000 }),
});
export type WorkflowOptions = z.output<typeof workflowOptionsSchema>;

interface WorkflowMemory extends BatchAssignment {
  /** The mappingKeyId each of this task's runs fills, in run order. */
  slots: string[];
}

/** What the recipe runs with: the connection's client, and the batch gatherer every connection shares. */
export interface FireflyProvider {
  client: FireflyClient;
  batches: BatchGatherer;
}

type WorkflowRun = RecipeRun<WorkflowOptions, FireflyProvider>;

function inputUrlFor(run: WorkflowRun, request: SlotRequest, n: number): string {
  const position = request.slot.positionName?.trim().toLowerCase();
  const matching = position ? run.inputUrls.filter((i) => i.positionName?.trim().toLowerCase() === position) : [];
  const candidates = matching.length > 0 ? matching : run.inputUrls.slice(0, 1);
  const input = candidates[n % Math.max(1, candidates.length)];
  if (!input) throw new ConnectorError('TASK_INPUT_MISSING', 'the task has no input asset for the Firefly workflow');
  return input.url;
}

function runInputs(run: WorkflowRun, request: SlotRequest, n: number): FireflyNodeInput[] {
  const { client } = run.client;
  const values = templateValues(run.context, undefined, request);
  return Object.entries(run.options.inputs).map(([nodeId, source]): FireflyNodeInput => {
    if ('text' in source) return { node_id: nodeId, content: fillTemplate(source.text, values) };
    if (source.from === 'input') return { node_id: nodeId, content: [client.storageRef(inputUrlFor(run, request, n))] };
    const reference = run.colorReferenceUrls[source.index];
    if (!reference) {
      throw new ConnectorError(
        'TASK_INPUT_MISSING',
        `the workflow's node ${nodeId} needs color reference ${source.index + 1}; the task has ${run.colorReferenceUrls.length}`,
      );
    }
    return { node_id: nodeId, content: [client.storageRef(reference.url)] };
  });
}

/** Where the job keeps its batch. */
const memoryKey = 'firefly-workflow';

/** The digest a run's intent records (lost-start.ts); the recipe's own runs always have one. */
function digestOf(inputs: FireflyNodeInput[]): string {
  const digest = fireflyRunDigest(inputs);
  if (digest === null) throw new ConnectorError('PROVIDER_REJECTED', 'a Firefly run has node inputs of an unknown shape');
  return digest;
}

async function runWorkflow(run: WorkflowRun): Promise<Map<string, ProducedFile[]>> {
  const { client, batches } = run.client;
  const { options, memory, signal, logger } = run;
  const call = <T>(fn: () => Promise<T>) => batches.call(client.connectionId, fn, signal);
  let saved = memory.get<WorkflowMemory>(memoryKey);
  if (!saved) {
    const runs: FireflyNodeInput[][] = [];
    const slots: string[] = [];
    for (const request of run.requests) {
      for (let n = 0; n < request.count; n += 1) {
        runs.push(runInputs(run, request, n));
        slots.push(request.slot.mappingKeyId);
      }
    }
    const assignment = await startPaidWork(run, {
      intentKey: `${memoryKey}:intent`,
      what: 'Adobe Firefly batch',
      facts: { workflowId: options.workflowId, runs: runs.length },
      lookup: fireflyStartLookup(client, { workflowId: options.workflowId, runs: runs.map(digestOf) }, call, signal),
      // The leader of the gathered batch executes it; each task records its own runs in it.
      start: () => batches.join(client, options.workflowId, runs, options.gatherWindowMs, signal),
      record: (joined) => memory.set(memoryKey, { ...joined, slots } satisfies WorkflowMemory), // before polling: a retry resumes this batch
      idOf: (joined) => joined.batchId,
    });
    saved = { ...assignment, slots };
    logger.info(
      { batchId: saved.batchId, runs: saved.runIndexes, shared: saved.totalRuns > saved.runIndexes.length },
      'firefly batch joined',
    );
  } else {
    logger.info({ batchId: saved.batchId, runs: saved.runIndexes }, 'firefly batch resumed');
  }
  const { batchId, runIndexes } = saved;

  try {
    await pollUntil(
      async () => {
        const status = await call(() => client.batchStatus(batchId, signal));
        return status.terminal ? status : undefined;
      },
      {
        intervalMs: options.pollIntervalMs,
        maxIntervalMs: 15_000,
        deadline: Date.now() + options.deadlineMs,
        signal,
        what: `Firefly batch ${batchId}`,
        provider: 'firefly',
      },
    );
  } catch (err) {
    const abandoned = err instanceof ConnectorError && err.code === 'PROVIDER_TIMEOUT' && run.finalAttempt;
    if (abandoned && saved.totalRuns === runIndexes.length) {
      await client.cancelBatch(batchId).then(
        () => logger.info({ batchId }, 'firefly batch cancelled: the cycle gave up on it'),
        (e: unknown) => logger.warn({ err: e, batchId }, 'firefly batch not cancelled'),
      );
    }
    throw err;
  }

  const executions = new Map((await call(() => client.executions(batchId, signal))).map((e) => [e.assetIndex, e]));
  const dir = join(run.outputDir, 'firefly');
  await mkdir(dir, { recursive: true });
  const result = new Map<string, ProducedFile[]>();
  /** Per slot: how many files it takes, and how many downloaded files fit it so far. */
  const slots = new Map(run.requests.map((r) => [r.slot.mappingKeyId, { request: r, takes: slotTakes(r), fitting: 0 }]));
  let skipped = 0;
  for (const [position, runIndex] of runIndexes.entries()) {
    const mappingKeyId = saved.slots[position] ?? '';
    const slot = slots.get(mappingKeyId);
    const execution = executions.get(runIndex);
    if (execution?.status.toLowerCase() !== 'success') {
      throw new ConnectorError(
        'PROVIDER_GENERATION_FAILED',
        `Adobe Firefly run ${runIndex} of batch ${batchId} failed: ${execution?.error ?? 'no result'}`,
        {
          details: { provider: 'firefly', batchId, runIndex },
        },
      );
    }
    const outputs = execution.outputs.filter((o) => o.url && (!options.outputNodeId || o.nodeId === options.outputNodeId));
    if (outputs.length === 0) {
      throw new ConnectorError(
        'PROVIDER_GENERATION_FAILED',
        `Adobe Firefly run ${runIndex} of batch ${batchId} produced no output`,
        {
          details: { provider: 'firefly', batchId, runIndex },
        },
      );
    }
    const files = result.get(mappingKeyId) ?? [];
    for (const [k, output] of outputs.entries()) {
      // Outputs in run order, then in the order the run lists them: the first ones the slot takes
      // are downloaded, the rest never (the planner would drop them).
      if (slot && slot.fitting >= slot.takes) {
        skipped += 1;
        continue;
      }
      const url = output.url ?? '';
      const extension = extname(new URL(url).pathname).toLowerCase() || (output.mimeType === 'image/jpeg' ? '.jpg' : '.png');
      const fileName = `firefly-${mappingKeyId.replace(/[^A-Za-z0-9_-]/g, '_')}-${runIndex + 1}-${k + 1}${extension}`;
      const file = await downloadWithRetry(() => client.download(url, join(dir, fileName), signal), signal);
      const kind = file.contentType.startsWith('video/') ? 'video' : 'photo';
      files.push({ path: file.path, fileName, bytes: file.bytes, contentType: file.contentType, kind });
      if (slot && kindFits(slot.request.slot, kind)) slot.fitting += 1;
    }
    result.set(mappingKeyId, files);
  }
  if (skipped > 0) logger.info({ batchId, skipped }, 'firefly outputs not downloaded: their drop boxes were full');
  return result;
}

export const workflowRecipe: ProviderRecipe<WorkflowOptions, FireflyProvider, typeof fireflyProvider> = {
  name: 'firefly-workflow',
  provider: fireflyProvider,
  inputsAs: 'urls',
  produces: 'either',
  optionsSchema: workflowOptionsSchema,
  needs: (o) => {
    const sources = Object.values(o.inputs);
    const texts = sources.flatMap((s) => ('text' in s ? [s.text] : []));
    return {
      colorReferences: sources.some((s) => 'from' in s && s.from === 'colorReference'),
      annotations: usesField(texts, 'reviewerComments'),
      product: usesField(texts, 'productName'),
    };
  },
  // One workflow run per file a slot asks for, all in one batch.
  paidCalls: (requests) => requests.reduce((n, r) => n + r.count, 0),
  cannotFill: () => null,
  run: runWorkflow,
};
