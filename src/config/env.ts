/**
 * The only reader of process.env. Parsed once at start by a zod schema; a bad value stops the
 * process with a message naming the variable.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  assumedPathEnv,
  defaultFailedStatus,
  defaultGatewayPaths,
  defaultIdListBodies,
  defaultKeepOldAssetReference,
  defaultKeptOutputDownload,
  defaultSharedCallCaps,
  defaultStatusBodyFields,
  fieldAliasesEnv,
  type GatewayPaths,
  type IdListBody,
  idListBodyEnv,
  type KeptOutputDownload,
  keepOldAssetReferenceEnv,
  keepOldAssetReferences,
  keptOutputDownloadEnv,
  keptOutputDownloads,
  type SharedCallCaps,
  type StatusBodyFields,
  statusBodyFieldEnv,
  type WireForms,
} from '../creative-force/contract.ts';
import { ConnectorError } from '../errors.ts';
import type { TracingSettings } from '../observability/start-tracing.ts';
import {
  type ProviderConfigs,
  type ProviderResultSettings,
  providerConfigs,
  providerVariableNames,
  providerVariables,
} from '../providers/index.ts';
import { defaultReportAttempts } from '../queue/cycle-queue.ts';
import { httpUrlSetting, intSetting, optionalSetting, pathSetting } from './env-settings.ts';

/** The name of a field of a JSON body sent to Creative Force. */
const fieldName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a field name: letters, digits or _');

/** How a list of ids is sent: `array`, or `field:<name>` for an object holding it. */
const idListBody = z
  .string()
  .regex(/^(array|field:[A-Za-z_][A-Za-z0-9_]{0,63})$/, 'must be "array" or "field:<name>"')
  .transform((v) => v as IdListBody);

/** A JSON object mapping our field names to Creative Force's, e.g. {"positionName":"position"}. */
const fieldAliases = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object, e.g. {"positionName":"position"}' });
      return z.NEVER;
    }
  })
  .pipe(z.record(fieldName, fieldName, { error: 'must map field names to field names' }));

/**
 * The receiver's public origin, as Creative Force calls it (https, with the path prefix a reverse
 * proxy adds, if any); no query, fragment or user. Kept without a trailing slash.
 */
const publicUrl = z
  .url({ protocol: /^https$/, error: 'must be an https URL: Creative Force calls webhooks over HTTPS only' })
  .refine((text) => {
    const url = URL.parse(text); // null: the URL check above has said so
    return !url || (!text.includes('?') && !text.includes('#') && url.username === '' && url.password === '');
  }, 'must be the public origin of the receiver, e.g. https://connector.example.com (no query, fragment or user)')
  .transform((text) => {
    const url = new URL(text);
    return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
  });

/** The service's own variables; each provider module adds its own (see providers/catalogue.ts). */
const envSchema = z.object({
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: intSetting(0, 65535).default(8080),
  CONNECTIONS_FILE: z.string().min(1).optional(),
  PUBLIC_URL: optionalSetting(publicUrl),
  CF_API_BASE_URL: httpUrlSetting.default('https://gateway.creativeforce.io/v1'),
  CF_TOKEN_URL: httpUrlSetting.default('https://accounts.creativeforce.io/connect/token'),
  CF_RATE_LIMIT_RPS: intSetting(1, 20).default(20),
  CF_RATE_LIMIT_ADAPTIVE: z.stringbool().default(true),
  CF_REQUEST_TIMEOUT_MS: intSetting(100, 600_000).default(30_000),
  CF_FAILED_STATUS: z.string().min(1).default(defaultFailedStatus),
  /** Several cycles of one connection (and workspace) waiting on the same call share one request. */
  CF_SHARED_CALLS: z.stringbool().default(true),
  CF_BULK_GET_ASSETS_MAX_IDS: intSetting(1, 1000).default(defaultSharedCallCaps.bulkGetAssetIds),
  CF_PRESIGN_MAX_FILES: intSetting(1, 1000).default(defaultSharedCallCaps.presignFiles),
  [statusBodyFieldEnv.status]: fieldName.default(defaultStatusBodyFields.status),
  [statusBodyFieldEnv.message]: fieldName.default(defaultStatusBodyFields.message),
  [idListBodyEnv.bulkGetAssets]: idListBody.default(defaultIdListBodies.bulkGetAssets),
  [idListBodyEnv.bulkGetFiles]: idListBody.default(defaultIdListBodies.bulkGetFiles),
  [idListBodyEnv.stylingAssets]: idListBody.default(defaultIdListBodies.stylingAssets),
  [fieldAliasesEnv]: fieldAliases.default({}),
  [keepOldAssetReferenceEnv]: z.enum(keepOldAssetReferences).default(defaultKeepOldAssetReference),
  [keptOutputDownloadEnv]: z.enum(keptOutputDownloads).default(defaultKeptOutputDownload),
  [assumedPathEnv.processDetail]: pathSetting.default(defaultGatewayPaths.processDetail),
  [assumedPathEnv.updateStatus]: pathSetting.default(defaultGatewayPaths.updateStatus),
  [assumedPathEnv.submitOutput]: pathSetting.default(defaultGatewayPaths.submitOutput),
  [assumedPathEnv.annotations]: pathSetting.default(defaultGatewayPaths.annotations),
  [assumedPathEnv.stylingAssets]: pathSetting.default(defaultGatewayPaths.stylingAssets),
  WORKER_CONCURRENCY: intSetting(1, 256).default(4),
  WORKER_LOCK_DURATION_MS: intSetting(1_000, 600_000).default(30_000),
  WORKER_MAX_STALLED_COUNT: intSetting(0, 100).default(2),
  CYCLE_ATTEMPTS: intSetting(1, 50).default(6),
  CYCLE_BACKOFF_MS: intSetting(10, 3_600_000).default(5_000),
  FAILURE_REPORT_ATTEMPTS: intSetting(1, 50).default(defaultReportAttempts),
  HISTORY_RETENTION_DAYS: intSetting(1, 3650).default(30),
  /** The ops token of the admin API, console and metrics (every connection); unset: only studio tokens. */
  ADMIN_TOKEN: optionalSetting(z.string().min(24, 'must be at least 24 characters (e.g. openssl rand -hex 24)')),
  USAGE_RETENTION_DAYS: intSetting(1, 3650).default(400),
  /** Serves /metrics WITHOUT a token on this port too (on METRICS_HOST); unset: only on PORT, behind ADMIN_TOKEN. */
  METRICS_PORT: optionalSetting(intSetting(0, 65535)),
  /** Where the token-free metrics port listens: loopback unless exposing it is chosen. */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Tracing is on when set: the OTLP/HTTP collector's base URL (traces go to <it>/v1/traces). */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalSetting(httpUrlSetting),
  OTEL_SERVICE_NAME: z.string().min(1).default('cf-ai-connector'),
  TRANSFER_TIMEOUT_MS: intSetting(1_000, 3_600_000).default(300_000),
  WORK_DIR: z.string().min(1).default(join(tmpdir(), 'cf-ai-connector')),
  MAX_ASSET_BYTES: intSetting(1, Number.MAX_SAFE_INTEGER).default(512 * 1024 * 1024),
  PROVIDER_RESULT_MAX_BYTES: intSetting(1, Number.MAX_SAFE_INTEGER).default(256 * 1024 * 1024),
  /** For tests and the demo only: the simulators serve results on 127.0.0.1. */
  PROVIDER_RESULT_ALLOW_LOOPBACK: z.stringbool().default(false),
  QUEUE_PREFIX: z.string().min(1).default('{cfc}'),
  SHUTDOWN_TIMEOUT_MS: intSetting(0, 600_000).default(25_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** The rules that involve several variables. */
const checkedEnvSchema = envSchema
  .refine((e) => e.CF_STATUS_FIELD !== e.CF_MESSAGE_FIELD, {
    path: [statusBodyFieldEnv.message],
    message: `must differ from ${statusBodyFieldEnv.status}`,
  })
  .refine((e) => e.METRICS_PORT === undefined || e.METRICS_PORT === 0 || e.METRICS_PORT !== e.PORT, {
    path: ['METRICS_PORT'],
    message: 'must differ from PORT (the metrics port serves without a token)',
  });

const providersEnvSchema = z.object(providerVariables);

/** Every environment variable the configuration reads: the service's and every provider's. */
export const environmentVariableNames: readonly string[] = [...Object.keys(envSchema.shape), ...providerVariableNames];

const declaredTwice = environmentVariableNames.filter((name, i) => environmentVariableNames.indexOf(name) !== i);
if (declaredTwice.length > 0) throw new Error(`environment variables declared twice: ${declaredTwice.join(', ')}`);

export interface AppConfig {
  redisUrl: string;
  host: string;
  port: number;
  connectionsFile: string | undefined;
  /** PUBLIC_URL: the receiver's public origin, without a trailing slash (webhook URLs start with it). */
  publicUrl: string | undefined;
  cf: {
    apiBaseUrl: string;
    tokenUrl: string;
    /** The ceiling of the shared limiter (req/s, all processes together). */
    rateLimitRps: number;
    /** Learn the rate below the ceiling from 429s (default), or grant at the ceiling always. */
    rateLimitAdaptive: boolean;
    requestTimeoutMs: number;
    failedStatus: string;
    /** Whether bulk-get-assets and pre-signed URL calls are shared between cycles (CF_SHARED_CALLS). */
    sharedCalls: boolean;
    /** The most ids / files one of those requests carries. */
    caps: SharedCallCaps;
    /** The field names of the Update Process Status body. */
    statusBodyFields: StatusBodyFields;
    /** The ASSUMED wire forms: id list bodies, field aliases, the KeepOldAsset reference. */
    wireForms: WireForms;
    /** ASSUMED: whether a kept output's file is fetched through bulk-get-assets (CF_KEPT_OUTPUT_DOWNLOAD). */
    keptOutputDownload: KeptOutputDownload;
    paths: GatewayPaths;
  };
  /** Each provider's configuration, by provider id. */
  providers: ProviderConfigs;
  /** How provider results are downloaded (the hosts are per connection). */
  providerResults: ProviderResultSettings;
  worker: {
    concurrency: number;
    lockDurationMs: number;
    maxStalledCount: number;
    attempts: number;
    backoffMs: number;
    /** Attempts of one failure report before it becomes a dead letter. */
    reportAttempts: number;
  };
  /** How long the task history keeps a cycle, and the per-day usage counters. */
  history: { retentionDays: number; usageRetentionDays: number };
  /** The ops token of the admin surface (studio tokens are in the connections file). */
  adminToken: string | undefined;
  /** The token-free metrics listener, when METRICS_PORT is set. */
  metricsListener: { host: string; port: number } | undefined;
  /** Where traces go; undefined: tracing is off. */
  tracing: TracingSettings | undefined;
  transferTimeoutMs: number;
  workDir: string;
  maxAssetBytes: number;
  queuePrefix: string;
  shutdownTimeoutMs: number;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
}

/** Parses the environment; throws CONFIG_INVALID naming every bad variable. */
export function loadEnvConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const parsed = checkedEnvSchema.safeParse(env);
  const providers = providersEnvSchema.safeParse(env);
  if (!parsed.success || !providers.success) {
    const issues = [...(parsed.error?.issues ?? []), ...(providers.error?.issues ?? [])];
    const problems = issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConnectorError('CONFIG_INVALID', `invalid environment: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  return deepFreeze({
    redisUrl: e.REDIS_URL,
    host: e.HOST,
    port: e.PORT,
    connectionsFile: e.CONNECTIONS_FILE,
    publicUrl: e.PUBLIC_URL,
    cf: {
      apiBaseUrl: e.CF_API_BASE_URL.replace(/\/+$/, ''),
      tokenUrl: e.CF_TOKEN_URL,
      rateLimitRps: e.CF_RATE_LIMIT_RPS,
      rateLimitAdaptive: e.CF_RATE_LIMIT_ADAPTIVE,
      requestTimeoutMs: e.CF_REQUEST_TIMEOUT_MS,
      failedStatus: e.CF_FAILED_STATUS,
      sharedCalls: e.CF_SHARED_CALLS,
      caps: { bulkGetAssetIds: e.CF_BULK_GET_ASSETS_MAX_IDS, presignFiles: e.CF_PRESIGN_MAX_FILES },
      statusBodyFields: { status: e.CF_STATUS_FIELD, message: e.CF_MESSAGE_FIELD },
      wireForms: {
        idListBodies: {
          bulkGetAssets: e.CF_BULK_GET_ASSETS_BODY,
          bulkGetFiles: e.CF_BULK_GET_FILES_BODY,
          stylingAssets: e.CF_STYLING_ASSETS_BODY,
        },
        fieldAliases: e.CF_FIELD_ALIASES,
        keepOldAssetReference: e.CF_KEEP_OLD_ASSET_REFERENCE,
      },
      keptOutputDownload: e.CF_KEPT_OUTPUT_DOWNLOAD,
      paths: {
        ...defaultGatewayPaths,
        processDetail: e.CF_PATH_PROCESS_DETAIL,
        updateStatus: e.CF_PATH_UPDATE_STATUS,
        submitOutput: e.CF_PATH_SUBMIT_OUTPUT,
        annotations: e.CF_PATH_ANNOTATIONS,
        stylingAssets: e.CF_PATH_STYLING_ASSETS,
      },
    },
    providers: providerConfigs(providers.data),
    providerResults: { maxBytes: e.PROVIDER_RESULT_MAX_BYTES, allowLoopback: e.PROVIDER_RESULT_ALLOW_LOOPBACK },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      maxStalledCount: e.WORKER_MAX_STALLED_COUNT,
      attempts: e.CYCLE_ATTEMPTS,
      backoffMs: e.CYCLE_BACKOFF_MS,
      reportAttempts: e.FAILURE_REPORT_ATTEMPTS,
    },
    history: { retentionDays: e.HISTORY_RETENTION_DAYS, usageRetentionDays: e.USAGE_RETENTION_DAYS },
    adminToken: e.ADMIN_TOKEN,
    metricsListener: e.METRICS_PORT === undefined ? undefined : { host: e.METRICS_HOST, port: e.METRICS_PORT },
    tracing: e.OTEL_EXPORTER_OTLP_ENDPOINT
      ? { endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: e.OTEL_SERVICE_NAME }
      : undefined,
    transferTimeoutMs: e.TRANSFER_TIMEOUT_MS,
    workDir: e.WORK_DIR,
    maxAssetBytes: e.MAX_ASSET_BYTES,
    queuePrefix: e.QUEUE_PREFIX,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  });
}

/** CONNECTIONS_FILE, which every command that reads the connections needs. */
export function requiredConnectionsFile(config: AppConfig): string {
  if (config.connectionsFile) return config.connectionsFile;
  throw new ConnectorError('CONFIG_INVALID', 'CONNECTIONS_FILE: required (path to the YAML or JSON connections file)');
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
