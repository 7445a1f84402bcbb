/**
 * The fault matrix's test bed: the Creative Force simulator (gateway, token endpoint and its S3)
 * behind a fault proxy, optionally the AdCreative.ai simulator behind another, real `serve` and
 * `work` processes, real Redis (the shared one under a prefix of its own, or a redis-server of the
 * rig's own that can be restarted), and the test playing Creative Force: it seeds tasks, delivers
 * their webhooks (again, as Creative Force does, until one is answered 2xx), plays the reviewer,
 * and hands the simulators' records to the checker once the system is idle.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { cycleQueueName } from '../../src/queue/cycle-job.ts';
import { maxInWindow } from '../../src/simulators/creative-force/rate-limit.ts';
import { AdCreativeSimulator, type CreativeForceSimulator } from '../../src/simulators/index.ts';
import { photoInput } from '../helpers/photo-input.ts';
import { producerRedis, redisUrl } from '../helpers/redis.ts';
import { type Stack, startStack } from '../helpers/stack.ts';
import { type Evidence, judge, type TaskEvidence, type Verdict } from './checker.ts';
import { FaultProxy } from './fault-proxy.ts';
import { Fleet, type ServiceProcess } from './fleet.ts';
import { RedisServer } from './redis-server.ts';

/** What a seeded task is: a `convert` cycle, an AdCreative.ai `photoshoot` (paid), or a convert of an `unreadable` input (it must fail and be reported). */
export type TaskKind = 'convert' | 'photoshoot' | 'unreadable';

/** The subfunction whose recipe is the AdCreative.ai photoshoot (54 is `convert`). */
const photoshootSubfunction = 55;

export interface RigOptions {
  name: string;
  /** A redis-server of the rig's own (AOF, restartable: `rig.redis`); default the shared Redis under a prefix. */
  ownRedis?: boolean;
  /** Adds the AdCreative.ai simulator (behind `rig.adcProxy`) for `photoshoot` tasks. */
  adcreative?: { taskDurationMs?: number };
  /** Environment of every service process, over the rig's defaults. */
  env?: Record<string, string>;
}

interface TaskPlan {
  taskProcessId: string;
  kind: TaskKind;
  productCode: string;
  mappingKeyIds: string[];
  cycles: number;
  paidExpected: number;
  accepted: number;
  /** Every delivery attempt's answer: its status, 0 when there was none (receiver down). */
  answers: number[];
}

export class FaultRig {
  readonly stack: Stack;
  readonly sim: CreativeForceSimulator;
  /** Between the service and Creative Force: token endpoint, gateway and S3. */
  readonly cfProxy: FaultProxy;
  readonly adc: AdCreativeSimulator | undefined;
  /** Between the service and AdCreative.ai. */
  readonly adcProxy: FaultProxy | undefined;
  /** The rig's own Redis, when `ownRedis`. */
  readonly redis: RedisServer | undefined;
  readonly fleet: Fleet;
  /** The cycle queue, read for idleness. */
  readonly queue: Queue;
  receiver: ServiceProcess | undefined;
  readonly #queueRedis: Redis;
  readonly #tasks = new Map<string, TaskPlan>();
  readonly #inputs = new Map<string, ReturnType<typeof photoInput>>();
  /** When the service processes sent each token and gateway request (sent-requests.ts). */
  readonly #gatewaySends: number[] = [];
  #deliveries = 0;

  private constructor(parts: {
    stack: Stack;
    cfProxy: FaultProxy;
    adc: AdCreativeSimulator | undefined;
    adcProxy: FaultProxy | undefined;
    redis: RedisServer | undefined;
    url: string;
  }) {
    this.stack = parts.stack;
    this.sim = parts.stack.sim;
    this.cfProxy = parts.cfProxy;
    this.adc = parts.adc;
    this.adcProxy = parts.adcProxy;
    this.redis = parts.redis;
    this.fleet = new Fleet(parts.stack, ['--import', resolve('test/faults/sent-requests.ts')]);
    this.fleet.onLine((_, line) => {
      if (line.msg !== 'request sent' || line.origin !== this.cfProxy.baseUrl || line.at === undefined) return;
      if (line.path?.startsWith('/v1/') || line.path === '/connect/token') this.#gatewaySends.push(line.at);
    });
    this.#queueRedis = producerRedis(parts.url);
    this.queue = new Queue(cycleQueueName, { connection: this.#queueRedis, prefix: parts.stack.prefix });
    this.queue.on('error', () => {}); // while the rig's own Redis restarts
  }

  static async start(options: RigOptions): Promise<FaultRig> {
    const redis = options.ownRedis ? await RedisServer.start() : undefined;
    const url = redis?.url ?? redisUrl;
    const cfProxy = await FaultProxy.start();
    let adc: AdCreativeSimulator | undefined;
    let adcProxy: FaultProxy | undefined;
    let adcreative: Parameters<typeof startStack>[1] = {};
    if (options.adcreative) {
      adc = await AdCreativeSimulator.start({ taskDurationMs: options.adcreative.taskDurationMs ?? 300 });
      adcProxy = await FaultProxy.start(adc.baseUrl);
      const credentials = {
        applicationId: randomUUID(),
        jwtPrivateKey: randomBytes(32).toString('hex'),
        apiKey: randomBytes(16).toString('hex'),
        apiSecret: randomBytes(16).toString('hex'),
      };
      adc.addApplication({ ...credentials, credits: 100_000 });
      adcreative = {
        adcreative: { baseUrl: adcProxy.baseUrl, credentials: { ...credentials, userId: randomUUID() } },
        subfunctions: {
          [String(photoshootSubfunction)]: {
            recipe: 'adcreative-photoshoot',
            // The product code in the prompt tells which task a paid start was for.
            options: { prompts: ['{productCode} in a bright studio'], useRecommendations: false, pollIntervalMs: 100 },
          },
        },
      };
    }
    const stack = await startStack(options.name, {
      ...adcreative,
      simulator: { publicOrigin: cfProxy.baseUrl },
      env: {
        REDIS_URL: url,
        LOG_LEVEL: 'info',
        CF_API_BASE_URL: `${cfProxy.baseUrl}/v1`,
        CF_TOKEN_URL: `${cfProxy.baseUrl}/connect/token`,
        // Hung requests end soon, so a test's faults play out in seconds.
        CF_REQUEST_TIMEOUT_MS: '3000',
        TRANSFER_TIMEOUT_MS: '5000',
        ADCREATIVE_REQUEST_TIMEOUT_MS: '5000',
        WORKER_CONCURRENCY: '2',
        ...options.env,
      },
    });
    cfProxy.forwardTo(stack.sim.baseUrl);
    return new FaultRig({ stack, cfProxy, adc, adcProxy, redis, url });
  }

  /** Starts the receiver (`serve`); webhooks go to it. */
  async startReceiver(): Promise<ServiceProcess> {
    this.receiver = await this.fleet.start('serve');
    return this.receiver;
  }

  /** Starts `count` worker processes. */
  startWorkers(count: number, env: Record<string, string> = {}): Promise<ServiceProcess[]> {
    return Promise.all(Array.from({ length: count }, () => this.fleet.start('work', env)));
  }

  /** Seeds a task: one slot (`Front`), or two (`A` Front and `B` Back, so a rework keeps one). */
  async addTask(kind: TaskKind, slots: 1 | 2 = 1): Promise<string> {
    const productCode = `FT-${randomUUID().slice(0, 8)}`;
    const positions = slots === 1 ? ['Front'] : ['Front', 'Back'];
    const mappingKeyIds = slots === 1 ? ['1_Front'] : ['A', 'B'];
    const inputs =
      kind === 'unreadable'
        ? [{ positionName: 'Front', fileName: 'front.jpg', body: Buffer.from('these bytes are not an image') }]
        : await Promise.all(positions.map((p) => this.#input(p)));
    const task = this.sim.addTask({
      productCode,
      ...(kind === 'photoshoot' ? { subfunctionId: photoshootSubfunction } : {}),
      inputs,
      slots: mappingKeyIds.map((mappingKeyId, i) => ({ mappingKeyId, positionName: positions[i] ?? null })),
    });
    const failing = kind === 'unreadable';
    this.#tasks.set(task.taskProcessId, {
      taskProcessId: task.taskProcessId,
      kind,
      productCode,
      mappingKeyIds,
      cycles: failing ? 0 : 1,
      paidExpected: kind === 'photoshoot' ? slots : 0,
      accepted: 0,
      answers: [],
    });
    return task.taskProcessId;
  }

  /** Seeds `count` tasks of a kind. */
  async addTasks(count: number, kind: TaskKind, slots: 1 | 2 = 1): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) ids.push(await this.addTask(kind, slots));
    return ids;
  }

  /**
   * Delivers the task's webhook as Creative Force does: again after a pause while the answer is
   * not 2xx (503 while Redis is down, no answer while the receiver is down), until 202.
   */
  async deliver(taskProcessId: string, deadlineMs = 120_000): Promise<{ status: number; body: unknown }> {
    const plan = this.#plan(taskProcessId);
    const deadline = Date.now() + deadlineMs;
    this.#deliveries += 1;
    try {
      for (;;) {
        const port = this.receiver?.alive() ? this.receiver.port : undefined;
        const answer =
          port === undefined
            ? undefined
            : await this.sim.sendWebhook(this.stack.webhookUrl(port), taskProcessId, this.stack.secret).catch(() => undefined);
        plan.answers.push(answer?.status ?? 0);
        if (answer && answer.status >= 200 && answer.status < 300) {
          if (answer.status === 202) plan.accepted += 1;
          return answer;
        }
        if (Date.now() > deadline) throw new Error(`webhook of ${taskProcessId} not accepted: last answer ${answer?.status}`);
        await sleep(300);
      }
    } finally {
      this.#deliveries -= 1;
    }
  }

  /** Delivers the webhooks of several tasks at once. */
  async deliverAll(taskProcessIds: readonly string[]): Promise<void> {
    await Promise.all(taskProcessIds.map((id) => this.deliver(id)));
  }

  /** The answers the task's webhook deliveries got, in order (0: none, the receiver was down). */
  answers(taskProcessId: string): number[] {
    return [...this.#plan(taskProcessId).answers];
  }

  /** The product code seeded for a task (unique: it tells which task a paid start was for). */
  productCode(taskProcessId: string): string {
    return this.#plan(taskProcessId).productCode;
  }

  /** Accepted Submit Outputs of a task so far. */
  submissions(taskProcessId: string): number {
    return this.sim.submissions(taskProcessId).length;
  }

  /**
   * Plays the reviewer: rejects the output of the task's first slot and delivers the rework
   * webhook; the task then needs one more cycle (and, for a photoshoot, one more paid start).
   */
  async rework(taskProcessId: string): Promise<{ status: number; body: unknown }> {
    const plan = this.#plan(taskProcessId);
    const rejected = this.sim.outputs(taskProcessId).find((o) => o.mappingKeyId === plan.mappingKeyIds[0]);
    if (!rejected) throw new Error(`task ${taskProcessId} has no output to reject`);
    this.sim.rejectOutputs(taskProcessId, [rejected.assetId]);
    plan.cycles += 1;
    if (plan.kind === 'photoshoot') plan.paidExpected += 1;
    return this.deliver(taskProcessId);
  }

  /**
   * Accepted Submit Outputs and failure reports of every task so far, read once (cheaper than
   * asking per task, for a soak polling hundreds).
   */
  settledCounts(): { submissions: Map<string, number>; reports: Map<string, number> } {
    const count = (records: { taskProcessId: string }[]) => {
      const counts = new Map<string, number>();
      for (const r of records) counts.set(r.taskProcessId, (counts.get(r.taskProcessId) ?? 0) + 1);
      return counts;
    };
    return { submissions: count(this.sim.submissions()), reports: count(this.sim.statusUpdates()) };
  }

  /** Resolves when `check` holds, polling every `intervalMs`; rejects after `timeoutMs` naming `what`. */
  async until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000, intervalMs = 50): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(intervalMs);
    }
  }

  /**
   * Resolves when the system is idle: no cycle or report queued, delayed or running, no webhook
   * being delivered, no request held by a proxy, three polls in a row. Rejects when no worker is
   * left to make progress, or after `timeoutMs`.
   */
  async idle(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let quiet = 0;
    let last = '';
    while (quiet < 3) {
      if (this.fleet.workers().length + this.fleet.starting === 0) throw new Error('no worker process is running');
      const counts = await this.queue
        .getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children')
        .catch(() => undefined);
      const held = this.cfProxy.inFlight() + (this.adcProxy?.inFlight() ?? 0);
      const busy = counts === undefined || Object.values(counts).some((n) => n > 0) || this.#deliveries > 0 || held > 0;
      last = JSON.stringify({ counts: counts ?? 'Redis unreachable', deliveries: this.#deliveries, held });
      quiet = busy ? 0 : quiet + 1;
      if (Date.now() > deadline) throw new Error(`the system did not become idle: ${last}`);
      await sleep(100);
    }
  }

  /** What the simulators recorded about the seeded tasks (`only` these, when given). */
  evidence(only?: readonly string[]): Evidence {
    const paidByProduct = new Map<string, number>();
    for (const generation of this.adc?.generations() ?? []) {
      const prompts = generation.form.PromptObjectsString ?? '';
      for (const plan of this.#tasks.values()) {
        if (prompts.includes(plan.productCode))
          paidByProduct.set(plan.productCode, (paidByProduct.get(plan.productCode) ?? 0) + 1);
      }
    }
    const plans = [...this.#tasks.values()].filter((plan) => only === undefined || only.includes(plan.taskProcessId));
    const tasks: TaskEvidence[] = plans.map((plan) => ({
      taskProcessId: plan.taskProcessId,
      kind: plan.kind,
      expect: plan.kind === 'unreadable' ? 'failed' : 'submitted',
      cycles: plan.cycles,
      paidExpected: plan.paidExpected,
      accepted: plan.accepted,
      submissions: this.sim.submissions(plan.taskProcessId).length,
      refused: this.sim.rejectedSubmissions(plan.taskProcessId).length,
      reports: this.sim.statusUpdates(plan.taskProcessId).length,
      reportMessage: this.sim.statusUpdates(plan.taskProcessId)[0]?.message,
      paid: paidByProduct.get(plan.productCode) ?? 0,
    }));
    return {
      tasks,
      windows: { creativeForce: this.sim.maxRequestsInWindow(1000), sent: maxInWindow(this.#gatewaySends, 1000) },
    };
  }

  /** Waits for idleness, then judges the seeded tasks (`only` these, when given). */
  async verdict(only?: readonly string[], timeoutMs?: number): Promise<Verdict> {
    await this.idle(timeoutMs);
    return judge(this.evidence(only));
  }

  async close(): Promise<void> {
    // The proxies first: the processes the stack kills may still be sending through them.
    await this.cfProxy.close();
    await this.adcProxy?.close();
    await this.stack.close();
    await this.adc?.close();
    await this.queue.close();
    this.#queueRedis.disconnect(); // a connection given to BullMQ is not closed by it
    await this.redis?.close();
  }

  #plan(taskProcessId: string): TaskPlan {
    const plan = this.#tasks.get(taskProcessId);
    if (!plan) throw new Error(`task ${taskProcessId} was not seeded by the rig`);
    return plan;
  }

  #input(positionName: string): ReturnType<typeof photoInput> {
    let input = this.#inputs.get(positionName);
    if (!input) {
      input = photoInput(positionName, 200, 200);
      this.#inputs.set(positionName, input);
    }
    return input;
  }
}
