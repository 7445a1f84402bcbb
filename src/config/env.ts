/**
 * The only reader of process.env. Parsed once at start by a zod schema; a bad value stops the
 * process with a message naming the variable.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { assumedPathEnv, defaultFailedStatus, defaultGatewayPaths, type GatewayPaths } from '../creative-force/contract.ts';
import { ConnectorError } from '../errors.ts';
import { type AdCreativeConfig, defaultAdCreativeBaseUrl, defaultAdCreativePaths } from '../providers/adcreative/config.ts';
import {
  defaultFireflyBaseUrl,
  defaultFireflyImsTokenUrl,
  defaultFireflyRequestTimeoutMs,
  defaultFireflyScope,
  type FireflyConfig,
} from '../providers/firefly/config.ts';
import { defaultSartiqBaseUrl, type SartiqConfig } from '../providers/sartiq/config.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const gatewayPath = z.string().regex(/^\//, 'must start with /');

const envSchema = z.object({
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(0, 65535).default(8080),
  CONNECTIONS_FILE: z.string().min(1).optional(),
  CF_API_BASE_URL: z.url({ protocol: /^https?$/ }).default('https://gateway.creativeforce.io/v1'),
  CF_TOKEN_URL: z.url({ protocol: /^https?$/ }).default('https://accounts.creativeforce.io/connect/token'),
  CF_RATE_LIMIT_RPS: int(1, 20).default(18),
  CF_REQUEST_TIMEOUT_MS: int(100, 600_000).default(30_000),
  CF_FAILED_STATUS: z.string().min(1).default(defaultFailedStatus),
  [assumedPathEnv.processDetail]: gatewayPath.default(defaultGatewayPaths.processDetail),
  [assumedPathEnv.updateStatus]: gatewayPath.default(defaultGatewayPaths.updateStatus),
  [assumedPathEnv.submitOutput]: gatewayPath.default(defaultGatewayPaths.submitOutput),
  [assumedPathEnv.annotations]: gatewayPath.default(defaultGatewayPaths.annotations),
  [assumedPathEnv.stylingAssets]: gatewayPath.default(defaultGatewayPaths.stylingAssets),
  ADCREATIVE_API_BASE_URL: z.url({ protocol: /^https?$/ }).default(defaultAdCreativeBaseUrl),
  ADCREATIVE_REQUEST_TIMEOUT_MS: int(1_000, 600_000).default(120_000),
  ADCREATIVE_PATH_REFRESH_JWT: gatewayPath.default(defaultAdCreativePaths.refreshJwt),
  ADCREATIVE_PATH_BACKGROUND_REMOVE_DOWNLOAD: gatewayPath.default(defaultAdCreativePaths.backgroundRemove.download),
  ADCREATIVE_PATH_UPSCALE_PROGRESS: gatewayPath.default(defaultAdCreativePaths.upscale.checkUserProgress),
  ADCREATIVE_PATH_UPSCALE_DOWNLOAD: gatewayPath.default(defaultAdCreativePaths.upscale.download),
  ADCREATIVE_PATH_FACE_ENHANCE_DOWNLOAD: gatewayPath.default(defaultAdCreativePaths.faceEnhance.download),
  ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM: z
    .string()
    .regex(/^\w+$/)
    .default(defaultAdCreativePaths.backgroundRemove.processIdParam),
  SARTIQ_API_BASE_URL: z.url({ protocol: /^https?$/ }).default(defaultSartiqBaseUrl),
  SARTIQ_REQUEST_TIMEOUT_MS: int(1_000, 600_000).default(120_000),
  FIREFLY_API_BASE_URL: z.url({ protocol: /^https?$/ }).default(defaultFireflyBaseUrl),
  FIREFLY_IMS_TOKEN_URL: z.url({ protocol: /^https?$/ }).default(defaultFireflyImsTokenUrl),
  FIREFLY_REQUEST_TIMEOUT_MS: int(1_000, 600_000).default(defaultFireflyRequestTimeoutMs),
  WORKER_CONCURRENCY: int(1, 256).default(4),
  WORKER_LOCK_DURATION_MS: int(1_000, 600_000).default(30_000),
  WORKER_MAX_STALLED_COUNT: int(0, 100).default(2),
  CYCLE_ATTEMPTS: int(1, 50).default(6),
  CYCLE_BACKOFF_MS: int(10, 3_600_000).default(5_000),
  TRANSFER_TIMEOUT_MS: int(1_000, 3_600_000).default(300_000),
  WORK_DIR: z.string().min(1).default(join(tmpdir(), 'cf-ai-connector')),
  MAX_ASSET_BYTES: int(1, Number.MAX_SAFE_INTEGER).default(512 * 1024 * 1024),
  QUEUE_PREFIX: z.string().min(1).default('{cfc}'),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(25_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface AppConfig {
  redisUrl: string;
  host: string;
  port: number;
  connectionsFile: string | undefined;
  cf: {
    apiBaseUrl: string;
    tokenUrl: string;
    rateLimitRps: number;
    requestTimeoutMs: number;
    failedStatus: string;
    paths: GatewayPaths;
  };
  adcreative: AdCreativeConfig;
  sartiq: SartiqConfig;
  firefly: FireflyConfig;
  worker: { concurrency: number; lockDurationMs: number; maxStalledCount: number; attempts: number; backoffMs: number };
  transferTimeoutMs: number;
  workDir: string;
  maxAssetBytes: number;
  queuePrefix: string;
  shutdownTimeoutMs: number;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
}

/** Parses the environment; throws CONFIG_INVALID naming every bad variable. */
export function loadEnvConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConnectorError('CONFIG_INVALID', `invalid environment: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  return deepFreeze({
    redisUrl: e.REDIS_URL,
    host: e.HOST,
    port: e.PORT,
    connectionsFile: e.CONNECTIONS_FILE,
    cf: {
      apiBaseUrl: e.CF_API_BASE_URL.replace(/\/+$/, ''),
      tokenUrl: e.CF_TOKEN_URL,
      rateLimitRps: e.CF_RATE_LIMIT_RPS,
      requestTimeoutMs: e.CF_REQUEST_TIMEOUT_MS,
      failedStatus: e.CF_FAILED_STATUS,
      paths: {
        ...defaultGatewayPaths,
        processDetail: e.CF_PATH_PROCESS_DETAIL,
        updateStatus: e.CF_PATH_UPDATE_STATUS,
        submitOutput: e.CF_PATH_SUBMIT_OUTPUT,
        annotations: e.CF_PATH_ANNOTATIONS,
        stylingAssets: e.CF_PATH_STYLING_ASSETS,
      },
    },
    adcreative: {
      baseUrl: e.ADCREATIVE_API_BASE_URL.replace(/\/+$/, ''),
      requestTimeoutMs: e.ADCREATIVE_REQUEST_TIMEOUT_MS,
      paths: {
        ...defaultAdCreativePaths,
        refreshJwt: e.ADCREATIVE_PATH_REFRESH_JWT,
        backgroundRemove: {
          ...defaultAdCreativePaths.backgroundRemove,
          download: e.ADCREATIVE_PATH_BACKGROUND_REMOVE_DOWNLOAD,
          processIdParam: e.ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM,
        },
        upscale: {
          ...defaultAdCreativePaths.upscale,
          checkUserProgress: e.ADCREATIVE_PATH_UPSCALE_PROGRESS,
          download: e.ADCREATIVE_PATH_UPSCALE_DOWNLOAD,
          processIdParam: e.ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM,
        },
        faceEnhance: {
          ...defaultAdCreativePaths.faceEnhance,
          download: e.ADCREATIVE_PATH_FACE_ENHANCE_DOWNLOAD,
          processIdParam: e.ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM,
        },
      },
    },
    sartiq: { baseUrl: e.SARTIQ_API_BASE_URL.replace(/\/+$/, ''), requestTimeoutMs: e.SARTIQ_REQUEST_TIMEOUT_MS },
    firefly: {
      baseUrl: e.FIREFLY_API_BASE_URL.replace(/\/+$/, ''),
      imsTokenUrl: e.FIREFLY_IMS_TOKEN_URL,
      scope: defaultFireflyScope,
      requestTimeoutMs: e.FIREFLY_REQUEST_TIMEOUT_MS,
    },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      maxStalledCount: e.WORKER_MAX_STALLED_COUNT,
      attempts: e.CYCLE_ATTEMPTS,
      backoffMs: e.CYCLE_BACKOFF_MS,
    },
    transferTimeoutMs: e.TRANSFER_TIMEOUT_MS,
    workDir: e.WORK_DIR,
    maxAssetBytes: e.MAX_ASSET_BYTES,
    queuePrefix: e.QUEUE_PREFIX,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  });
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
