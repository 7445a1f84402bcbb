/**
 * A whole stack for component tests: the Creative Force simulator, a studio connection, and the
 * service (in this process, or worker processes spawned from src/cli.ts like production).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { loadConnectionsFile } from '../../src/config/connections.ts';
import { loadEnvConfig } from '../../src/config/env.ts';
import type { Tracing } from '../../src/observability/tracing.ts';
import { createRecipeRegistry, type Recipe } from '../../src/providers/index.ts';
import { buildService, type Service, type ServiceMode } from '../../src/service.ts';
import { type CfSimulatorOptions, CreativeForceSimulator } from '../../src/simulators/index.ts';
import { dropPrefix, redisUrl, testPrefix } from './redis.ts';

export interface SpawnOptions {
  env?: Record<string, string>;
  nodeArgs?: string[];
  capture?: boolean;
}

export interface Stack {
  sim: CreativeForceSimulator;
  secret: string;
  env: Record<string, string>;
  prefix: string;
  webhookUrl(port: number): string;
  /** Starts the service in this process (with `tracing`, traced). */
  startService(mode: ServiceMode, options?: { tracing?: Tracing }): Promise<{ service: Service; port: number }>;
  /**
   * Spawns `cf-ai-connector <command>` (`work` or `serve`) as a separate process. `capture` pipes
   * its stdout and stderr (and opens an IPC channel) instead of sharing the test's; `nodeArgs` go
   * before the script.
   */
  spawnProcess(command: 'work' | 'serve', options?: SpawnOptions): ChildProcess;
  /** Spawns `cf-ai-connector work`, see `spawnProcess`. */
  spawnWorker(options?: SpawnOptions): ChildProcess;
  /**
   * Resolves when no cycle is queued, delayed or running. A reviewer cannot reject an output in
   * the milliseconds between Creative Force recording a submission and the cycle finishing; tests
   * wait for this before they play the reviewer.
   */
  idle(service: Service): Promise<void>;
  /**
   * Resolves when `check` holds, polling; rejects after `timeoutMs` with `what` (a function is
   * asked then, so that it can describe the state it found).
   */
  waitFor(what: string | (() => string), check: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A provider section: the credentials, and the result hosts (the simulators' loopback host by default). */
function withResultHosts(provider: { credentials: Record<string, string>; resultHosts?: string[] | null }) {
  const { resultHosts = ['127.0.0.1'] } = provider;
  return resultHosts === null ? provider.credentials : { ...provider.credentials, resultHosts };
}

export async function startStack(
  name: string,
  options: {
    /** The recipe of subfunction 54 (default `convert`) and its options. */
    recipe?: string;
    subfunctionOptions?: Record<string, unknown>;
    /** Subfunction 54 as the connections file gives it (e.g. a `pipeline` or `route`), instead of `recipe` and its options. */
    subfunction?: Record<string, unknown>;
    /** More subfunctions of the connection, by id. */
    subfunctions?: Record<string, { recipe: string; options: Record<string, unknown> }>;
    /** Recipes of the in-process service (default: the built-in ones). */
    recipes?: Recipe[];
    /** An AdCreative.ai (simulator) account for the connection. */
    adcreative?: { baseUrl: string; credentials: Record<string, string> };
    /**
     * A Sartiq (simulator) account for the connection; its results are allowed from the
     * simulator's host (`resultHosts`, default `['127.0.0.1']`; `null` leaves the setting out,
     * for the provider's defaults), with PROVIDER_RESULT_ALLOW_LOOPBACK.
     */
    sartiq?: { baseUrl: string; credentials: { email: string; password: string }; resultHosts?: string[] | null };
    /** An Adobe Firefly (simulator) credential for the connection; results as for `sartiq`. */
    firefly?: { baseUrl: string; tokenUrl: string; credentials: Record<string, string>; resultHosts?: string[] | null };
    env?: Record<string, string>;
    /** Options of the Creative Force simulator (e.g. the ASSUMED wire forms it speaks). */
    simulator?: CfSimulatorOptions;
    /** More fields of the `acme` connection (e.g. `adminTokens`). */
    connection?: Record<string, unknown>;
    /** More connections of the file, as written there. */
    otherConnections?: Record<string, unknown>[];
  } = {},
): Promise<Stack> {
  const sim = await CreativeForceSimulator.start(options.simulator);
  const app = { clientId: `${name}-client`, clientSecret: randomBytes(12).toString('hex') };
  sim.addApp(app);
  const secret = randomBytes(32).toString('base64');
  const prefix = testPrefix(name);
  const dir = await mkdtemp(join(tmpdir(), `cfc-${name}-`));
  const connectionsFile = join(dir, 'connections.yaml');
  await writeFile(
    connectionsFile,
    JSON.stringify({
      connections: [
        {
          id: 'acme',
          name: 'Acme Studio',
          creativeForce: { clientId: '${T_CF_ID}', clientSecret: '${T_CF_SECRET}', webhookSecrets: ['${T_CF_HOOK}'] },
          ...(options.adcreative ? { adcreative: options.adcreative.credentials } : {}),
          ...(options.sartiq ? { sartiq: withResultHosts(options.sartiq) } : {}),
          ...(options.firefly ? { firefly: withResultHosts(options.firefly) } : {}),
          subfunctions: {
            '54': options.subfunction ?? {
              recipe: options.recipe ?? 'convert',
              options: options.subfunctionOptions ?? { format: 'jpeg', quality: 80, maxWidth: 400 },
            },
            ...options.subfunctions,
          },
          ...options.connection,
        },
        ...(options.otherConnections ?? []),
      ],
    }),
  );
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    CONNECTIONS_FILE: connectionsFile,
    CF_API_BASE_URL: sim.apiBaseUrl,
    CF_TOKEN_URL: sim.tokenUrl,
    QUEUE_PREFIX: prefix,
    WORK_DIR: join(dir, 'work'),
    CYCLE_BACKOFF_MS: '200',
    WORKER_LOCK_DURATION_MS: '2000',
    SHUTDOWN_TIMEOUT_MS: '2000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...(options.adcreative ? { ADCREATIVE_API_BASE_URL: options.adcreative.baseUrl } : {}),
    ...(options.sartiq ? { SARTIQ_API_BASE_URL: options.sartiq.baseUrl } : {}),
    ...(options.firefly
      ? { FIREFLY_API_BASE_URL: options.firefly.baseUrl, FIREFLY_IMS_TOKEN_URL: options.firefly.tokenUrl }
      : {}),
    // The simulators serve results on 127.0.0.1: the test switch (off in production).
    ...(options.sartiq || options.firefly ? { PROVIDER_RESULT_ALLOW_LOOPBACK: 'true' } : {}),
    T_CF_ID: app.clientId,
    T_CF_SECRET: app.clientSecret,
    T_CF_HOOK: secret,
    ...options.env,
  };
  const services: Service[] = [];
  const children: ChildProcess[] = [];
  const spawnProcess: Stack['spawnProcess'] = (command, { env: extraEnv = {}, nodeArgs = [], capture = false } = {}) => {
    const child = spawn(process.execPath, [...nodeArgs, resolve('src/cli.ts'), command], {
      env: { ...process.env, ...env, PORT: '0', ...extraEnv },
      stdio: capture ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit'],
    });
    children.push(child);
    return child;
  };

  return {
    sim,
    secret,
    env,
    prefix,
    webhookUrl: (port) => `http://127.0.0.1:${port}/webhooks/creative-force/acme`,
    async startService(mode, { tracing } = {}) {
      const config = loadEnvConfig(env);
      const recipes = createRecipeRegistry(options.recipes);
      const connections = await loadConnectionsFile(connectionsFile, recipes, env);
      const service = await buildService({
        config,
        connections,
        recipes,
        mode,
        logger: pino({ level: env.LOG_LEVEL ?? 'silent' }),
        ...(tracing ? { tracing } : {}),
      });
      services.push(service);
      return { service, port: await service.start() };
    },
    spawnProcess,
    spawnWorker: (spawnOptions) => spawnProcess('work', spawnOptions),
    async idle(service) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const counts = await service.queue.queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
        if (Object.values(counts).every((n) => n === 0)) return;
        if (Date.now() > deadline) throw new Error(`timed out waiting for idle queues: ${JSON.stringify(counts)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async waitFor(what, check, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
      for (const service of services) await service.stop();
      await sim.close();
      await dropPrefix(prefix, env.REDIS_URL);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
