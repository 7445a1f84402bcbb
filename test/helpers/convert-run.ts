/**
 * A run of the `convert` recipe as step 5 gives it, outside a cycle: a process detail and webhook
 * with fresh GUIDs for the given drop boxes, one file asked of each, no provider client, no
 * memory (convert saves nothing). For the recipe's tests and the memory benchmark.
 */
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { type ExpectedOutput, processDetailSchema, webhookPayloadSchema } from '../../src/creative-force/schemas.ts';
import { type ConvertOptions, convertOptionsSchema } from '../../src/providers/index.ts';
import type { InputFile, RecipeRun } from '../../src/providers/recipe.ts';

export function convertRun(options: {
  slots: ExpectedOutput[];
  inputs: InputFile[];
  /** The subfunction's options, parsed by the recipe's schema here. */
  rawOptions?: unknown;
  outputDir: string;
  signal: AbortSignal;
}): RecipeRun<ConvertOptions> {
  // The webhook's ids are GUIDs (its schema refuses anything else).
  const taskProcessId = randomUUID();
  const taskId = randomUUID();
  return {
    detail: processDetailSchema.parse({
      taskProcessId,
      taskId,
      clientId: 'client-1',
      taskProcessExpectedOutputs: options.slots,
    }),
    requests: options.slots.map((slot) => ({ slot, count: 1, replaces: [] })),
    inputs: options.inputs,
    inputUrls: [],
    colorReferenceUrls: [],
    context: {
      event: webhookPayloadSchema.parse({
        Action: 'ReadyToWork',
        TaskId: taskId,
        TaskProcessId: taskProcessId,
        SubfunctionId: 54,
        StepId: '25',
      }),
    },
    options: convertOptionsSchema.parse(options.rawOptions ?? {}),
    outputDir: options.outputDir,
    memory: { get: () => undefined, set: async () => {} },
    client: undefined,
    finalAttempt: false,
    paidWork: async () => {},
    signal: options.signal,
    logger: pino({ level: 'silent' }),
  };
}
