/**
 * The service's Prometheus metrics (prom-client). Each service has a registry of its own, so the
 * several services a test builds in one process never meet in prom-client's global registry; the
 * process's own metrics (CPU, memory, event loop, GC) are collected once per process, since they
 * describe the process, whatever runs in it. Recording points call {@link ServiceMetrics}; what is
 * read from Redis (the queue, the dead letters, the limiter's rate) is read when Prometheus scrapes.
 *
 * Every label value comes from a bounded set: connection ids and recipes of the connections file,
 * step names, gateway operations, provider ids, error codes, HTTP statuses. Never a task id or a URL.
 */
import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { throttledErrorLog } from './throttled-error-log.ts';

const prefix = 'cf_ai_connector_';

/** How a cycle's attempt ended, as `cf_ai_connector_cycles_total` counts it. */
export type CycleOutcomeLabel = 'submitted' | 'skipped' | 'retrying' | 'failed' | 'handed_back' | 'lock_lost';

/** How one attempt of a failure report ended. */
export type FailureReportOutcome = 'delivered' | 'retrying' | 'dead_lettered';

/** What the recording points tell. Each call is cheap and never throws. */
export interface ServiceMetrics {
  /** A webhook was answered; `connection` is `(unknown)` for a URL naming no configured connection. */
  webhookAnswered(connection: string, status: number): void;
  /** An attempt of a cycle ended. */
  cycleEnded(labels: { connection: string; recipe: string; outcome: CycleOutcomeLabel }): void;
  /** A step that ran finished, after `seconds`. */
  stepFinished(step: string, seconds: number): void;
  /** A new cycle was taken by a worker `seconds` after its webhook queued it. */
  queueWaited(seconds: number): void;
  /** One HTTP exchange with Creative Force: its status, or `timeout`, `network` or `aborted`. */
  creativeForceRequest(operation: string, status: string): void;
  /** Time one request waited for the shared Creative Force rate limiter. */
  limiterWaited(seconds: number): void;
  /**
   * `count` Creative Force slots were given up, too late to use: `wake` the caller woke up late for
   * it, `send` it was late when about to send, `socket` its connection was ready too late.
   */
  limiterSlotsMissed(at: 'wake' | 'send' | 'socket', count: number): void;
  /** A bulk-get-assets or pre-signed URL request was sent for `requests` cycles' requests (1: not shared). */
  sharedCall(operation: string, requests: number): void;
  /** A call of a provider client ended: `ok`, or the error's code. */
  providerCall(provider: string, operation: string, outcome: string): void;
  /** A paid provider start was made (an adopted lost start is not paid again, and not counted). */
  paidGeneration(provider: string): void;
  /** An attempt of a failure report (Update Process Status) ended. */
  failureReport(connection: string, outcome: FailureReportOutcome): void;
}

/** What is read from Redis when Prometheus scrapes. */
export interface ScrapeSources {
  /** BullMQ's own Prometheus export of the cycle queue (`Queue.exportPrometheusMetrics`). */
  queue(): Promise<string>;
  /** How many failure reports are kept as dead letters now. */
  deadLetters(): Promise<number>;
  /** The Creative Force limiter's learned rate now (req/s, all processes together) and its ceiling. */
  limiterRate(): Promise<{ rateRps: number; limit: number }>;
}

/** Above the longest a healthy generation takes; a step that passes the last bucket shows in +Inf. */
const stepBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const queueWaitBuckets = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];
/** From a free slot (a few ms) to the pauses after a 429 (up to 60 s). */
const limiterBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Requests served by one shared call: 1 alone, up to the cap (100 by default). */
const sharedCallBuckets = [1, 2, 3, 5, 10, 20, 50, 100];

let processRegistry: Registry | undefined;

/** The process's default metrics, collected once per process (their collectors are process-wide). */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Resolves with `promise`, or rejects after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms).unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface PrometheusMetricsOptions {
  sources: ScrapeSources;
  logger: Logger;
  /** How long a scrape waits for Redis before it answers without the queue's series. Default 2000. */
  scrapeTimeoutMs?: number;
}

/** The metrics of one service, and their text for `/metrics`. */
export class PrometheusMetrics implements ServiceMetrics {
  /** The Content-Type of {@link render}'s text (Prometheus text format 0.0.4). */
  readonly contentType: string;
  readonly #registry = new Registry();
  /** Filled from Redis at each scrape, and rendered only when Redis answered. */
  readonly #redisRegistry = new Registry();
  readonly #sources: ScrapeSources;
  readonly #scrapeFailed: (err: unknown) => void;
  readonly #scrapeTimeoutMs: number;
  readonly #webhooks: Counter<'connection' | 'status'>;
  readonly #cycles: Counter<'connection' | 'recipe' | 'outcome'>;
  readonly #steps: Histogram<'step'>;
  readonly #queueWait: Histogram;
  readonly #cfRequests: Counter<'operation' | 'status'>;
  readonly #limiterWait: Histogram;
  readonly #slotsMissed: Counter;
  readonly #sharedCalls: Histogram<'operation'>;
  readonly #providerCalls: Counter<'provider' | 'operation' | 'outcome'>;
  readonly #paid: Counter<'provider'>;
  readonly #reports: Counter<'connection' | 'outcome'>;
  readonly #deadLetters: Gauge;
  readonly #limiterRate: Gauge;
  readonly #limiterCeiling: Gauge;

  constructor(options: PrometheusMetricsOptions) {
    this.#sources = options.sources;
    this.#scrapeFailed = throttledErrorLog(
      options.logger,
      'metrics: the queue and dead letters are left out of the scrape (Redis did not answer)',
    );
    this.#scrapeTimeoutMs = options.scrapeTimeoutMs ?? 2_000;
    this.contentType = this.#registry.contentType;
    const registers = [this.#registry];
    this.#webhooks = new Counter({
      name: `${prefix}webhooks_total`,
      help: 'Webhooks answered, by connection and HTTP status of the answer.',
      labelNames: ['connection', 'status'],
      registers,
    });
    this.#cycles = new Counter({
      name: `${prefix}cycles_total`,
      help: 'Cycle attempts ended, by connection, recipe and outcome (submitted, skipped, retrying, failed, handed_back, lock_lost).',
      labelNames: ['connection', 'recipe', 'outcome'],
      registers,
    });
    this.#steps = new Histogram({
      name: `${prefix}cycle_step_duration_seconds`,
      help: 'Duration of the cycle steps that ran and finished, by step.',
      labelNames: ['step'],
      buckets: stepBuckets,
      registers,
    });
    this.#queueWait = new Histogram({
      name: `${prefix}queue_wait_seconds`,
      help: 'Time from a webhook queuing a cycle to a worker starting it (first attempts only).',
      buckets: queueWaitBuckets,
      registers,
    });
    this.#cfRequests = new Counter({
      name: `${prefix}creative_force_requests_total`,
      help: 'HTTP requests to Creative Force, by gateway operation and status (or timeout, network, aborted).',
      labelNames: ['operation', 'status'],
      registers,
    });
    this.#limiterWait = new Histogram({
      name: `${prefix}creative_force_limiter_wait_seconds`,
      help: 'Time a Creative Force request waited for the shared rate limiter.',
      buckets: limiterBuckets,
      registers,
    });
    this.#slotsMissed = new Counter({
      name: `${prefix}creative_force_limiter_slots_missed_total`,
      help: 'Creative Force slots given up because they could no longer be used in time, by where (wake, send, socket).',
      labelNames: ['at'],
      registers,
    });
    this.#sharedCalls = new Histogram({
      name: `${prefix}creative_force_shared_call_requests`,
      help: 'Cycle requests served by one bulk-get-assets or pre-signed URL request, by gateway operation (1: not shared).',
      labelNames: ['operation'],
      buckets: sharedCallBuckets,
      registers,
    });
    this.#providerCalls = new Counter({
      name: `${prefix}provider_calls_total`,
      help: 'Calls of the AI provider clients, by provider, operation and outcome (ok, or the error code).',
      labelNames: ['provider', 'operation', 'outcome'],
      registers,
    });
    this.#paid = new Counter({
      name: `${prefix}paid_generations_total`,
      help: 'Paid provider starts (a render process, a generation, a batch), by provider.',
      labelNames: ['provider'],
      registers,
    });
    this.#reports = new Counter({
      name: `${prefix}failure_reports_total`,
      help: 'Attempts of failure reports (Update Process Status), by connection and outcome (delivered, retrying, dead_lettered).',
      labelNames: ['connection', 'outcome'],
      registers,
    });
    this.#deadLetters = new Gauge({
      name: `${prefix}dead_letters`,
      help: 'Failure reports kept undelivered (dead letters) now, all processes together.',
      registers: [this.#redisRegistry],
    });
    this.#limiterRate = new Gauge({
      name: `${prefix}creative_force_limiter_rate_requests_per_second`,
      help: 'The rate the shared Creative Force limiter grants now, learned from 429s, all processes together.',
      registers: [this.#redisRegistry],
    });
    this.#limiterCeiling = new Gauge({
      name: `${prefix}creative_force_limiter_ceiling_requests_per_second`,
      help: 'The ceiling of the shared Creative Force limiter (CF_RATE_LIMIT_RPS).',
      registers: [this.#redisRegistry],
    });
  }

  webhookAnswered(connection: string, status: number): void {
    this.#webhooks.inc({ connection, status: String(status) });
  }

  cycleEnded(labels: { connection: string; recipe: string; outcome: CycleOutcomeLabel }): void {
    this.#cycles.inc(labels);
  }

  stepFinished(step: string, seconds: number): void {
    this.#steps.observe({ step }, seconds);
  }

  queueWaited(seconds: number): void {
    this.#queueWait.observe(Math.max(0, seconds));
  }

  creativeForceRequest(operation: string, status: string): void {
    this.#cfRequests.inc({ operation, status });
  }

  limiterWaited(seconds: number): void {
    this.#limiterWait.observe(seconds);
  }

  limiterSlotsMissed(at: 'wake' | 'send' | 'socket', count: number): void {
    if (count > 0) this.#slotsMissed.inc({ at }, count);
  }

  sharedCall(operation: string, requests: number): void {
    this.#sharedCalls.observe({ operation }, requests);
  }

  providerCall(provider: string, operation: string, outcome: string): void {
    this.#providerCalls.inc({ provider, operation, outcome });
  }

  paidGeneration(provider: string): void {
    this.#paid.inc({ provider });
  }

  failureReport(connection: string, outcome: FailureReportOutcome): void {
    this.#reports.inc({ connection, outcome });
  }

  /**
   * The text of `/metrics`: the process's metrics, the service's, and what Redis holds (BullMQ's
   * queue export, the dead letters). While Redis does not answer within the scrape timeout, the
   * Redis part is left out (and logged), so the rest is still scraped.
   */
  async render(): Promise<string> {
    const [processText, serviceText, redisText] = await Promise.all([
      processMetrics().metrics(),
      this.#registry.metrics(),
      this.#redisMetrics(),
    ]);
    return `${processText}${serviceText}${redisText}`;
  }

  async #redisMetrics(): Promise<string> {
    try {
      const [queue, deadLetters, limiter] = await within(
        Promise.all([this.#sources.queue(), this.#sources.deadLetters(), this.#sources.limiterRate()]),
        this.#scrapeTimeoutMs,
      );
      this.#deadLetters.set(deadLetters);
      this.#limiterRate.set(limiter.rateRps);
      this.#limiterCeiling.set(limiter.limit);
      return `${await this.#redisRegistry.metrics()}${queue.trimEnd()}\n`;
    } catch (err) {
      this.#scrapeFailed(err);
      return '';
    }
  }
}
