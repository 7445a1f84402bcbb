/**
 * The work behind each run, as the service does it: when a run starts, GET each of its image input
 * URLs (the simulator really fetches them, so an unreachable or expired URL fails that run), then
 * render one output PNG per output node of the workflow from the first image. A run with text
 * inputs only gets labelled sample images. Runs of a batch cancelled before they start are never
 * fetched.
 */
import type { Logger } from 'pino';
import { sampleImage } from '../creative-force/sample-images.ts';
import type { Batch, Run, RunOutcome } from './batch.ts';
import { type OutputStore, renderOutput } from './outputs.ts';

/** Longest input the simulator downloads (the real limit is not documented). */
const maxInputBytes = 100 * 1024 * 1024;
/** How long one input download may take. */
const fetchTimeoutMs = 30_000;

/** Starts runs on time and does their work; {@link close} stops it all. */
export class RunWorker {
  readonly #outputs: OutputStore;
  readonly #logger: Logger;
  readonly #closing = new AbortController();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Every input URL fetched, in order. */
  readonly fetched: string[] = [];

  constructor(outputs: OutputStore, logger: Logger) {
    this.#outputs = outputs;
    this.#logger = logger;
  }

  /** Schedules the work of every run of a new batch at its start time. */
  schedule(batch: Batch): void {
    const outputNodeIds = batch.init.workflow.outputNodeIds ?? ['node_output'];
    for (const run of batch.runs) {
      const timer = setTimeout(
        () => {
          this.#timers.delete(timer);
          if (run.skipped || this.#closing.signal.aborted) return;
          this.#process(run, outputNodeIds).then(
            (outcome) => run.settle(outcome),
            (err: unknown) => {
              this.#logger.error({ err, executionId: run.executionId }, 'firefly simulator run failed unexpectedly');
              run.settle({ settledAt: Date.now(), error: 'Internal error while executing the workflow' });
            },
          );
        },
        Math.max(0, run.init.startsAt - Date.now()),
      );
      timer.unref();
      this.#timers.add(timer);
    }
  }

  /** Cancels pending starts and aborts downloads in flight. */
  close(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#closing.abort();
  }

  async #process(run: Run, outputNodeIds: readonly string[]): Promise<RunOutcome> {
    let source: Buffer | undefined;
    for (const url of run.init.imageUrls) {
      this.fetched.push(url);
      const got = await this.#download(url);
      if (typeof got === 'string') {
        return { settledAt: Date.now(), error: `Could not retrieve input asset ${withoutQuery(url)}: ${got}` };
      }
      source ??= got;
    }
    const outputs: NonNullable<RunOutcome['outputs']> = [];
    for (const [k, nodeId] of outputNodeIds.entries()) {
      // The first output is labelled `run <index>`, the others also name their node.
      const label = k === 0 ? `run ${run.init.index}` : `run ${run.init.index} ${nodeId}`;
      const name = k === 0 ? `result-${run.init.index}.png` : `result-${run.init.index}-${k + 1}.png`;
      let png: Buffer;
      try {
        png = source ? await renderOutput(source, label) : await sampleImage({ width: 512, height: 512, format: 'png', label });
      } catch {
        return { settledAt: Date.now(), error: 'Input asset is not a supported image' };
      }
      outputs.push({ nodeId, url: this.#outputs.add(name, png), name });
    }
    return { settledAt: Date.now(), outputs };
  }

  /** The body of a GET of `url`, or why it could not be had. */
  async #download(url: string): Promise<Buffer | string> {
    try {
      const response = await fetch(url, {
        signal: AbortSignal.any([this.#closing.signal, AbortSignal.timeout(fetchTimeoutMs)]),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return `HTTP ${response.status}`;
      }
      const declared = Number(response.headers.get('content-length') ?? '0');
      if (declared > maxInputBytes) {
        await response.body?.cancel();
        return `larger than ${maxInputBytes} bytes`;
      }
      const data = Buffer.from(await response.arrayBuffer());
      return data.length > maxInputBytes ? `larger than ${maxInputBytes} bytes` : data;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }
}

function withoutQuery(url: string): string {
  const queryAt = url.indexOf('?');
  return queryAt < 0 ? url : url.slice(0, queryAt);
}
