/**
 * What `cf-ai-connector preview` does (preview-command.ts defines its arguments): steps 2 to 5 of
 * a cycle for one real task, with the live configuration, and no step after them.
 *
 * Read-only by construction: the only Creative Force object it holds is a GatewayReader
 * (readOnlyGateway), which has no presign, Submit Output or Update Process Status method, and step
 * 5 gets no gateway at all. It shares the service's Redis for what keeps the studio safe: the rate
 * limiter (its calls count against Creative Force's limit like any cycle's) and token cache, and
 * the providers' start claims (a live cycle's lost start never adopts a preview's generation). It
 * enqueues nothing, holds no deduplication key and writes no task history: its paid work is in its
 * report, not in the studio console.
 */
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import pino from 'pino';
import { loadConnectionsFile } from '../config/connections.ts';
import { loadEnvConfig, requiredConnectionsFile } from '../config/env.ts';
import {
  AssetAttribute,
  type AssetAttributeId,
  gatewayClientOf,
  gatewayLimiter,
  gatewayTokenStore,
  type WebhookPayload,
} from '../creative-force/index.ts';
import { isRework, planWork, type SubmissionPlan } from '../cycle/build-submission.ts';
import { readOnlyGateway } from '../cycle/cycle-context.ts';
import { keptStillIds, resolveRoutes, routedRequests, routeInputsAs, routeNeeds, routePaidCalls } from '../cycle/routes.ts';
import { nothingToRedo } from '../cycle/run-cycle.ts';
import type { FileTransfer } from '../cycle/steps/download-inputs.ts';
import { downloadInputs } from '../cycle/steps/download-inputs.ts';
import { getAdditionalContext } from '../cycle/steps/get-additional-context.ts';
import { processAssets } from '../cycle/steps/process-assets.ts';
import { createLogger } from '../observability/logger.ts';
import { createProviderClients, createRecipeRegistry, type PaidWork } from '../providers/index.ts';
import { type CommandIo, commandLineError, pickConnections, UsageError } from './command.ts';
import { commandRedis, reachRedis } from './command-redis.ts';

export interface PreviewRequest {
  connectionId: string;
  subfunctionId: string;
  taskProcessId: string;
  outDir: string;
  /** The user agreed to the paid provider calls. */
  yes: boolean;
}

/** One file the cycle would upload and submit. */
export interface PreviewFile {
  /** Where preview wrote it, relative to the report. */
  file: string;
  /** `new` (ProcessNewAsset), or `redone` (RedoAsset of the rejected `replaces`). */
  as: 'new' | 'redone';
  replaces: string | null;
  attribute: AttributeName;
}

/** What one drop box would get. */
export interface PreviewSlot {
  mappingKeyId: string;
  positionName: string | null;
  recipe: string;
  /** Earlier outputs re-submitted as they are (KeepOldAsset). */
  kept: { assetId: string; attribute: AttributeName }[];
  files: PreviewFile[];
}

/** report.json. */
export interface PreviewReport {
  connectionId: string;
  subfunctionId: string;
  taskProcessId: string;
  recipe: string;
  rework: boolean;
  /** When the cycle would do nothing, why. */
  skipped: string | null;
  /** The recipe's count of paid provider calls, announced before it ran. */
  paidCalls: number;
  /** The paid work it started (or adopted). */
  paidWork: PaidWork[];
  slots: PreviewSlot[];
  /** Produced files left out: their drop box was full. */
  dropped: SubmissionPlan['dropped'];
  /** Produced files the result check refused. */
  refused: { mappingKeyId: string; fileName: string; rule: string; reason: string }[];
}

type AttributeName = 'normal' | 'inclip' | 'resource' | 'alternate';

const attributeNames: Record<AssetAttributeId, AttributeName> = {
  [AssetAttribute.Normal]: 'normal',
  [AssetAttribute.Inclip]: 'inclip',
  [AssetAttribute.Resource]: 'resource',
  [AssetAttribute.Alternative]: 'alternate',
};

/**
 * Previews the task; resolves with the exit code (0 written, 1 failed).
 *
 * @throws UsageError for an unknown connection or subfunction, an --out directory that is not
 *   empty, or paid calls without `yes`.
 */
export async function previewTask(request: PreviewRequest, { env, out, err }: CommandIo): Promise<number> {
  const outDir = resolve(request.outDir);
  const entries = await readdir(outDir).catch(() => [] as string[]);
  if (entries.length > 0) throw new UsageError(`--out ${request.outDir} is not empty: name a new directory, or empty it`);

  let setup: Awaited<ReturnType<typeof loadSetup>>;
  try {
    setup = await loadSetup(request, env);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    err.write(`${commandLineError(e)}\n`);
    return 1;
  }
  const { config, connection, sub, routes } = setup;
  const redis = commandRedis(config.redisUrl, 'preview');
  const workDir = await mkdtemp(join(tmpdir(), 'cfc-preview-'));
  try {
    const unreachable = await reachRedis(redis);
    if (unreachable) {
      err.write(`cf-ai-connector: ${unreachable} (preview shares the service's Creative Force rate limit)\n`);
      return 1;
    }
    const logger = createLogger(config.logLevel, pino.destination({ dest: 2, sync: true })).child({
      connectionId: connection.id,
      taskProcessId: request.taskProcessId,
      preview: true,
    });
    const limiter = gatewayLimiter({ config, redis });
    const tokens = gatewayTokenStore({ config, redis, limiter, logger });
    const gateway = readOnlyGateway(gatewayClientOf(connection, { config, limiter, tokens, logger }));
    const signal = new AbortController().signal;
    const transfer: FileTransfer = {
      client: gateway,
      workDir,
      limits: { maxAssetBytes: config.maxAssetBytes, transferTimeoutMs: config.transferTimeoutMs },
      signal,
      transferSignal: () => AbortSignal.timeout(config.transferTimeoutMs),
    };
    const report: PreviewReport = {
      connectionId: connection.id,
      subfunctionId: request.subfunctionId,
      taskProcessId: request.taskProcessId,
      recipe: sub.recipe,
      rework: false,
      skipped: null,
      paidCalls: 0,
      paidWork: [],
      slots: [],
      dropped: [],
      refused: [],
    };
    out.write(
      `preview of task process ${request.taskProcessId}: connection ${connection.id}, subfunction ${request.subfunctionId} (recipe ${sub.recipe}); nothing is submitted\n`,
    );

    try {
      const detail = await gateway.getProcessDetail(request.taskProcessId, signal);
      const work = planWork(detail);
      report.rework = isRework(work);
      if (nothingToRedo(work)) {
        report.skipped = 'the task process already has its outputs and none is rejected: a cycle would do nothing';
        out.write(`${report.skipped}\n`);
        return await writeReport(outDir, report, out);
      }
      const requests = routedRequests(work, routes, logger, config.cf.keptOutputDownload);
      report.paidCalls = routePaidCalls(routes, requests);
      const redone = requests.reduce((n, r) => n + r.request.replaces.length, 0);
      out.write(
        `${report.rework ? `rework: ${redone} rejected asset(s) to redo` : 'first pass'}; ${requests.length} drop box(es) to produce; ${report.paidCalls} paid provider call(s)\n`,
      );
      if (report.paidCalls > 0 && !request.yes) {
        throw new UsageError(
          `this preview makes ${report.paidCalls} paid provider call(s) (${sub.recipe}): rerun with --yes to make them`,
        );
      }
      const needs = routeNeeds(routes, requests);
      const inputsAs = routeInputsAs(routes);
      const event = previewEvent(detail, request, connection.stepIds[0] ?? 0);
      const inputs =
        requests.length === 0
          ? { files: [], colorReferences: [], keptStills: [], urls: null }
          : await downloadInputs({
              ...transfer,
              detail,
              as: inputsAs,
              colorReferences: needs.colorReferences === true,
              keptStills: keptStillIds(requests),
            });
      const context =
        requests.length === 0 ? {} : await getAdditionalContext({ ...transfer, event, detail, needs, rework: report.rework });
      const memory = new Map<string, unknown>();
      const providers = createProviderClients({
        configs: config.providers,
        redis,
        keyPrefix: config.queuePrefix,
        logger,
        results: config.providerResults,
      })(connection.id, connection);
      const plan = await processAssets({
        event,
        providers,
        workDir,
        limits: transfer.limits,
        finalAttempt: true,
        signal,
        transferSignal: transfer.transferSignal,
        logger,
        paidWork: async (paid) => void report.paidWork.push(paid),
        routes,
        detail,
        requests,
        inputs,
        context: {
          event,
          ...context,
          ...(needs.colorReferences && inputsAs !== 'urls' ? { colorReferences: inputs.colorReferences } : {}),
        },
        memory: {
          get: <T>(key: string) => memory.get(key) as T | undefined,
          set: async (key, value) => void memory.set(key, value),
        },
        checks: sub.checks,
      });
      await describePlan(plan, detail.taskProcessExpectedOutputs, outDir, report);
      return await writeReport(outDir, report, out);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      err.write(`${commandLineError(e)}\n`);
      return 1;
    }
  } finally {
    redis.disconnect();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The environment, the whole connections file, and the connection, subfunction and recipe named. */
async function loadSetup(request: PreviewRequest, env: Record<string, string | undefined>) {
  const config = loadEnvConfig(env);
  const recipes = createRecipeRegistry();
  const connections = await loadConnectionsFile(requiredConnectionsFile(config), recipes, env);
  const [connection] = pickConnections(connections, request.connectionId);
  if (!connection) throw new UsageError(`no connection "${request.connectionId}"`);
  const sub = connection.subfunctions[request.subfunctionId];
  if (!sub) {
    const known = Object.keys(connection.subfunctions).join(', ') || 'none';
    throw new UsageError(`connection "${connection.id}" has no subfunction ${request.subfunctionId} (it has ${known})`);
  }
  return { config, connection, sub, routes: resolveRoutes(sub.routes, recipes, request.subfunctionId) };
}

/**
 * The event a recipe sees: built from the process detail, as preview has no webhook. The fields
 * only a webhook carries (ProductCode, JobCode, StyleGuideName and the names) are empty, so
 * templates that use them are filled with nothing.
 */
function previewEvent(
  detail: { taskId: string; clientId: string; jobId: string | null; productId: string | null },
  request: PreviewRequest,
  stepId: number,
): WebhookPayload {
  return {
    Action: 'Preview',
    TaskId: detail.taskId,
    TaskProcessId: request.taskProcessId,
    SubfunctionId: Number(request.subfunctionId),
    StepId: stepId,
    ClientId: detail.clientId,
    JobId: detail.jobId,
    ProductId: detail.productId,
  };
}

/** Copies each planned file to `outDir/<drop box>/` and fills the report's slots, dropped and refused files. */
async function describePlan(
  plan: SubmissionPlan,
  slots: readonly { mappingKeyId: string; positionName: string | null }[],
  outDir: string,
  report: PreviewReport,
): Promise<void> {
  for (const slot of plan.slots) {
    const folder = join(outDir, slot.mappingKeyId.replace(/[^A-Za-z0-9._-]+/g, '_'));
    const files: PreviewFile[] = [];
    for (const [index, asset] of slot.assets.entries()) {
      await mkdir(folder, { recursive: true });
      const target = join(folder, `${index + 1}-${asset.file.fileName}`);
      await copyFile(asset.file.path, target);
      files.push({
        file: relative(outDir, target),
        as: asset.replaces === null ? 'new' : 'redone',
        replaces: asset.replaces,
        attribute: attributeNames[asset.assetAttributeId],
      });
    }
    report.slots.push({
      mappingKeyId: slot.mappingKeyId,
      positionName: slots.find((s) => s.mappingKeyId === slot.mappingKeyId)?.positionName ?? null,
      recipe: slot.route ?? report.recipe,
      kept: slot.kept.map((k) => ({ assetId: k.assetId, attribute: attributeNames[k.assetAttributeId] })),
      files,
    });
  }
  report.dropped = plan.dropped;
  report.refused = plan.refused.map(({ mappingKeyId, fileName, rule, reason }) => ({ mappingKeyId, fileName, rule, reason }));
}

/** One line per drop box: what would be kept, and each file with what it would be. */
function slotLines(report: PreviewReport): string[] {
  return report.slots.map((slot) => {
    const kept = slot.kept.map((k) => `keep ${k.assetId}`);
    const files = slot.files.map((f) =>
      f.as === 'redone' ? `${f.file} redoes ${f.replaces} (${f.attribute})` : `${f.file} new (${f.attribute})`,
    );
    const parts = [...kept, ...files];
    return `drop box ${slot.mappingKeyId}${slot.positionName ? ` (${slot.positionName})` : ''}, ${slot.recipe}: ${parts.length > 0 ? parts.join('; ') : 'left empty'}`;
  });
}

/** report.md: the same facts as report.json, for a person. */
function markdown(report: PreviewReport): string {
  const paid = report.paidWork.map((w) => `- ${w.what} \`${w.id}\`${w.adopted ? ' (adopted, not paid again)' : ''}`);
  const refused = report.refused.map((r) => `- ${r.mappingKeyId}: ${r.fileName} refused (${r.rule}): ${r.reason}`);
  const dropped = report.dropped.map((d) => `- ${d.mappingKeyId}: ${d.fileName} left out (the drop box was full)`);
  return [
    `# Preview of task process ${report.taskProcessId}`,
    '',
    `Connection \`${report.connectionId}\`, subfunction ${report.subfunctionId}, recipe \`${report.recipe}\`, ${report.rework ? 'a rework' : 'a first pass'}. Nothing was submitted to Creative Force.`,
    '',
    ...(report.skipped ? [report.skipped, ''] : []),
    `Paid provider calls announced: ${report.paidCalls}.`,
    ...(paid.length > 0 ? ['', ...paid] : []),
    '',
    ...slotLines(report).map((line) => `- ${line}`),
    ...(refused.length > 0 ? ['', '## Refused by the result check', '', ...refused] : []),
    ...(dropped.length > 0 ? ['', '## Left out', '', ...dropped] : []),
    '',
  ].join('\n');
}

async function writeReport(outDir: string, report: PreviewReport, out: CommandIo['out']): Promise<number> {
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(outDir, 'report.md'), markdown(report));
  for (const line of slotLines(report)) out.write(`${line}\n`);
  for (const work of report.paidWork) out.write(`paid: ${work.what} ${work.id}${work.adopted ? ' (adopted)' : ''}\n`);
  out.write(`written: ${join(outDir, 'report.json')}, ${join(outDir, 'report.md')}\n`);
  return 0;
}
