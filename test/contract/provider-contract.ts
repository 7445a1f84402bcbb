/**
 * The contract every provider adapter (recipe + client + simulator) runs: success, slow progress,
 * permanent error, transient error, malformed response, deadline exceeded, resume after a crash
 * without a second paid generation, and a paid start whose answer is lost adopted instead of paid
 * again. Each provider adds one file that calls `providerContract` with its harness; the
 * assertions are the same for all.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processDetailSchema, webhookPayloadSchema } from '../../src/creative-force/schemas.ts';
import { ConnectorError } from '../../src/errors.ts';
import type { Recipe, RecipeRun } from '../../src/providers/index.ts';
import type { PaidWork } from '../../src/providers/recipe.ts';
import { sampleImage } from '../../src/simulators/index.ts';

/** One provider's simulator and client, with the faults the contract needs. */
export interface ProviderHarness {
  /** The client the recipe runs with (`run.client`), on the simulator. */
  client: unknown;
  /** For a recipe that takes its input as a URL: a pre-signed-style URL of the input image. */
  inputUrl?(image: Buffer): Promise<string>;
  paidGenerations(): number;
  /** How many progress polls the simulator answered so far. */
  progressPolls(): number;
  /** Makes generations take about this long from now on. */
  setDuration(ms: number): void;
  /** The next request fails permanently, as the provider does for unusable input. */
  failPermanently(): void;
  /** The next progress poll fails with a 5xx. */
  failTransiently(): void;
  /** The next progress poll answers 200 with a body of the wrong shape. */
  answerMalformed(): void;
  /** The provider accepts (and charges) the next paid start, but its answer is lost: the connection drops. */
  loseStartAnswer(): void;
  /** The next paid start fails with a 5xx before the provider acts on it. */
  failStartTransiently(): void;
  close(): Promise<void>;
}

export interface ProviderAdapter {
  name: string;
  recipe: Recipe;
  /** Recipe options; `pollIntervalMs` and `deadlineMs` are overridden by the cases that need them. */
  options: Record<string, unknown>;
  /** The code a permanent failure must carry. */
  permanentCode: string;
  start(): Promise<ProviderHarness>;
}

export function providerContract(adapter: ProviderAdapter): void {
  describe(`provider contract: ${adapter.name}`, () => {
    let harness: ProviderHarness;
    let dir: string;
    let memory: Map<string, unknown>;
    /** What the recipe told the task history of its paid work. */
    let paid: PaidWork[];
    /** The last run's requests and options, for the recipe's own count of its paid calls. */
    let last: Pick<RecipeRun<unknown>, 'requests' | 'options'> | undefined;

    beforeEach(async () => {
      harness = await adapter.start();
      dir = await mkdtemp(join(tmpdir(), 'cfc-contract-'));
      memory = new Map();
      paid = [];
    });
    afterEach(async () => {
      await harness.close();
      await rm(dir, { recursive: true, force: true });
    });

    async function runOnce(overrides: Record<string, unknown> = {}, signal: AbortSignal = AbortSignal.timeout(60_000)) {
      const inputPath = join(dir, 'front.jpg');
      const image = await sampleImage({ width: 400, height: 500, format: 'jpeg', label: 'Front' });
      await writeFile(inputPath, image);
      const url = harness.inputUrl ? await harness.inputUrl(image) : undefined;
      const outputDir = join(dir, `out-${randomUUID()}`);
      await mkdir(outputDir, { recursive: true });
      const detail = processDetailSchema.parse({
        taskProcessId: randomUUID(),
        taskId: randomUUID(),
        clientId: randomUUID(),
        inputAssets: [{ assetId: 'in-1', fileName: 'front.jpg', positionName: 'Front' }],
        taskProcessExpectedOutputs: [
          { mappingKeyId: '1_Front', positionName: 'Front', isRequired: true, minQuantity: 1, maxQuantity: 1 },
        ],
      });
      const [slot] = detail.taskProcessExpectedOutputs;
      if (!slot) throw new Error('no slot');
      const run: RecipeRun<unknown> = {
        detail,
        requests: [{ slot, count: 1, replaces: [] }],
        inputs: [
          { path: inputPath, fileName: 'front.jpg', bytes: 1, assetId: 'in-1', positionName: 'Front', positionTagId: null },
        ],
        inputUrls: url ? [{ assetId: 'in-1', fileName: 'front.jpg', positionName: 'Front', positionTagId: null, url }] : [],
        colorReferenceUrls: [],
        context: {
          event: webhookPayloadSchema.parse({
            Action: 'ReadyToWork',
            TaskId: detail.taskId,
            TaskProcessId: detail.taskProcessId,
            SubfunctionId: 54,
            StepId: 25,
            ProductCode: 'SKU-1',
          }),
        },
        options: adapter.recipe.optionsSchema.parse({ ...adapter.options, pollIntervalMs: 100, ...overrides }),
        outputDir,
        memory: {
          get: <T>(key: string) => memory.get(key) as T | undefined,
          set: async (key, value) => void memory.set(key, value),
        },
        client: harness.client,
        finalAttempt: false,
        paidWork: async (work) => void paid.push(work),
        signal,
        logger: pino({ level: 'silent' }),
      };
      last = run;
      return adapter.recipe.run(run);
    }

    async function failure(promise: Promise<unknown>): Promise<ConnectorError> {
      const err = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectorError);
      return err as ConnectorError;
    }

    it('succeeds: image files for the slot, one paid generation', async () => {
      const files = (await runOnce()).get('1_Front') ?? [];
      expect(files.length).toBeGreaterThanOrEqual(1);
      for (const f of files) expect(f).toMatchObject({ kind: 'photo', contentType: expect.stringMatching(/^image\//) });
      expect(harness.paidGenerations()).toBe(1);
      // The task history hears of the paid work, with the provider's id.
      expect(paid.length).toBeGreaterThanOrEqual(1);
      for (const work of paid) expect(work).toMatchObject({ id: expect.any(String), adopted: false });
      // The recipe's count before it runs (what `preview` announces) is the paid starts it made.
      expect(adapter.recipe.paidCalls(last?.requests ?? [], last?.options)).toBe(paid.length);
    });

    it('waits through slow progress with several polls', async () => {
      harness.setDuration(1_500);
      const files = (await runOnce()).get('1_Front') ?? [];
      expect(files.length).toBeGreaterThanOrEqual(1);
      expect(harness.progressPolls()).toBeGreaterThanOrEqual(3);
      expect(harness.paidGenerations()).toBe(1);
    });

    it('fails at once, not retryable, on a permanent error', async () => {
      harness.failPermanently();
      const err = await failure(runOnce());
      expect(err.code).toBe(adapter.permanentCode);
      expect(err.retryable).toBe(false);
    });

    it('fails retryable on a transient error, and the retry resumes the same generation', async () => {
      harness.setDuration(600);
      harness.failTransiently();
      const err = await failure(runOnce());
      expect(err.retryable).toBe(true);
      expect((await runOnce()).get('1_Front')?.length).toBeGreaterThanOrEqual(1);
      expect(harness.paidGenerations()).toBe(1);
    });

    it('fails not retryable on a malformed response', async () => {
      harness.setDuration(600);
      harness.answerMalformed();
      const err = await failure(runOnce());
      expect(err.code).toBe('PROVIDER_BAD_RESPONSE');
      expect(err.retryable).toBe(false);
    });

    it('gives up at its deadline (retryable), and the retry resumes without paying again', async () => {
      harness.setDuration(2_500);
      const err = await failure(runOnce({ deadlineMs: 1_000 }));
      expect(err.code).toBe('PROVIDER_TIMEOUT');
      expect(err.retryable).toBe(true);
      expect((await runOnce()).get('1_Front')?.length).toBeGreaterThanOrEqual(1);
      expect(harness.paidGenerations()).toBe(1);
    });

    it('a lost start answer is adopted, not paid again', async () => {
      harness.loseStartAnswer();
      const err = await failure(runOnce());
      expect(err.code).toBe('PROVIDER_NETWORK');
      expect(err.retryable).toBe(true);
      expect(harness.paidGenerations()).toBe(1);
      expect((await runOnce()).get('1_Front')?.length).toBeGreaterThanOrEqual(1);
      expect(harness.paidGenerations()).toBe(1);
      // The adopted start is told to the history as adopted (not paid again).
      expect(paid.some((work) => work.adopted)).toBe(true);
    });

    it('a start the provider never acted on is made again, once', async () => {
      harness.failStartTransiently();
      const err = await failure(runOnce());
      expect(err.retryable).toBe(true);
      expect(harness.paidGenerations()).toBe(0);
      expect((await runOnce()).get('1_Front')?.length).toBeGreaterThanOrEqual(1);
      expect(harness.paidGenerations()).toBe(1);
    });

    it('resumes after a crash mid-poll without a second paid generation', async () => {
      harness.setDuration(2_000);
      const crash = new AbortController();
      const running = runOnce({}, crash.signal);
      const deadline = Date.now() + 20_000;
      while (harness.progressPolls() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      crash.abort(new Error('worker killed'));
      await running.catch(() => {});
      expect(harness.paidGenerations()).toBe(1);
      expect((await runOnce()).get('1_Front')?.length).toBeGreaterThanOrEqual(1);
      expect(harness.paidGenerations()).toBe(1);
    });
  });
}
