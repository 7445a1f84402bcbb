/**
 * The batch endpoints (the OpenAPI spec): `POST /batch/execute`, `GET /batches`,
 * `GET /batch/{batchId}/status`, `POST /batch/{batchId}/cancel`, `GET /batch/{batchId}/executions`.
 * Authentication, the rate limit and `api-version` are handled before, in server.ts. A batch is
 * visible only to the (org, user) that created it; anyone else gets the documented 404.
 */
import type { Reply } from '../harness/http-io.ts';
import type { FireflyBatchStatus, FireflyExecutionStatus } from './batch.ts';
import { invalidRequest, notFound } from './errors.ts';
import { checkRuns, type InputUrlPolicy, parseExecuteRequest } from './execute-request.ts';
import type { FireflyState } from './state.ts';
import type { FireflyCredential } from './types.ts';
import type { RunWorker } from './work.ts';

/** What the handlers need from the simulator. */
export interface RouteContext {
  state: FireflyState;
  worker: RunWorker;
  policy: InputUrlPolicy;
  /** `http://host:port`: the base of the answered links. */
  baseUrl: string;
}

/** An authenticated API request. */
export interface ApiRequest {
  url: URL;
  /** `batchId` of `/batch/{batchId}/…`. */
  batchId: string;
  body: Buffer;
  caller: FireflyCredential;
  now: number;
}

/** One endpoint: its method and path pattern (`{batchId}` is the only parameter). */
export interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  handle: (ctx: RouteContext, req: ApiRequest) => Reply;
}

const batchStatuses: readonly FireflyBatchStatus[] = ['pending', 'running', 'completed', 'failed', 'cancelled'];
const executionStatuses: readonly FireflyExecutionStatus[] = ['pending', 'running', 'success', 'failed'];

export const routes: readonly Route[] = [
  { method: 'POST', pattern: /^\/batch\/execute$/, handle: execute },
  { method: 'GET', pattern: /^\/batches$/, handle: listBatches },
  { method: 'GET', pattern: /^\/batch\/([^/]+)\/status$/, handle: batchStatus },
  { method: 'POST', pattern: /^\/batch\/([^/]+)\/cancel$/, handle: cancelBatch },
  { method: 'GET', pattern: /^\/batch\/([^/]+)\/executions$/, handle: listExecutions },
];

/** `POST /batch/execute` → 202 with the batch, after the body, workflow, node and URL checks. */
function execute(ctx: RouteContext, req: ApiRequest): Reply {
  const parsed = parseExecuteRequest(req.body);
  if (!parsed.ok) return parsed.reply;
  const workflow = ctx.state.workflow(parsed.value.workflowId);
  if (!workflow) return notFound();
  const problem = checkRuns(parsed.value, workflow, ctx.policy);
  if (problem) return problem;
  const batch = ctx.state.createBatch(parsed.value, workflow, req.caller, req.now);
  ctx.worker.schedule(batch);
  return { status: 202, body: batch.acceptedJson(req.now, ctx.baseUrl) };
}

/** `GET /batches`: the caller's batches, newest first, filtered and paginated. */
function listBatches(ctx: RouteContext, req: ApiRequest): Reply {
  const query = req.url.searchParams;
  const status = query.get('status');
  if (status !== null && !batchStatuses.includes(status as FireflyBatchStatus)) {
    return invalidRequest(`status must be one of ${batchStatuses.join(', ')}`);
  }
  const workflowId = query.get('workflowId');
  const createdAfter = dateParam(query, 'createdAfter');
  if (typeof createdAfter === 'object') return createdAfter;
  const createdBefore = dateParam(query, 'createdBefore');
  if (typeof createdBefore === 'object') return createdBefore;
  const limit = intParam(query, 'limit', 1, 100, 50);
  if (typeof limit === 'object') return limit;
  const offset = intParam(query, 'offset', 0, Number.MAX_SAFE_INTEGER, 0);
  if (typeof offset === 'object') return offset;
  const wantedWorkflow = workflowId?.toLowerCase().replace(/^run-workflow_/, '');
  const matching = [...ctx.state.batches.values()]
    .filter((batch) => batch.init.orgId === req.caller.orgId && batch.init.userId === req.caller.userId)
    .filter((batch) => status === null || batch.status(req.now) === status)
    .filter((batch) => wantedWorkflow === undefined || batch.init.workflow.workflowId === wantedWorkflow)
    .filter((batch) => createdAfter === undefined || batch.init.createdAt > createdAfter)
    .filter((batch) => createdBefore === undefined || batch.init.createdAt < createdBefore)
    .reverse();
  const page = matching.slice(offset, offset + limit);
  const filters: Record<string, string> = {};
  for (const name of ['status', 'workflowId', 'createdAfter', 'createdBefore']) {
    const value = query.get(name);
    if (value !== null) filters[name] = value;
  }
  return {
    status: 200,
    body: {
      orgId: req.caller.orgId,
      batches: page.map((batch) => batch.listItemJson(req.now)),
      pagination: { limit, offset, count: page.length, hasMore: offset + page.length < matching.length },
      filters,
    },
  };
}

/** `GET /batch/{batchId}/status` (with `?format=preview`, also the outputs). */
function batchStatus(ctx: RouteContext, req: ApiRequest): Reply {
  const batch = ctx.state.batchOf(req.batchId, req.caller);
  if (!batch) return notFound();
  const preview = req.url.searchParams.get('format') === 'preview';
  return { status: 200, body: batch.statusJson(req.now, ctx.baseUrl, preview) };
}

/**
 * `POST /batch/{batchId}/cancel`: pending or running batches only. A terminal batch gets 400 (the
 * only client error the spec lists for this call; the message is the simulator's).
 */
function cancelBatch(ctx: RouteContext, req: ApiRequest): Reply {
  const batch = ctx.state.batchOf(req.batchId, req.caller);
  if (!batch) return notFound();
  const current = batch.status(req.now);
  const previous = batch.cancel(req.now);
  if (previous === undefined) return invalidRequest(`Batch ${batch.id} is ${current} and cannot be cancelled`);
  ctx.state.markCancelled(batch.id);
  return {
    status: 200,
    body: {
      batchId: batch.id,
      status: 'cancelled',
      message: 'Batch cancelled: no new assets will be started; assets in progress may complete',
      previousStatus: previous,
      assets: batch.counts(req.now),
    },
  };
}

/** `GET /batch/{batchId}/executions?status=&limit=&offset=`. `total` counts every asset of the batch, as documented. */
function listExecutions(ctx: RouteContext, req: ApiRequest): Reply {
  const batch = ctx.state.batchOf(req.batchId, req.caller);
  if (!batch) return notFound();
  const query = req.url.searchParams;
  const status = query.get('status');
  if (status !== null && !executionStatuses.includes(status as FireflyExecutionStatus)) {
    return invalidRequest(`status must be one of ${executionStatuses.join(', ')}`);
  }
  const limit = intParam(query, 'limit', 1, 500, 100);
  if (typeof limit === 'object') return limit;
  const offset = intParam(query, 'offset', 0, Number.MAX_SAFE_INTEGER, 0);
  if (typeof offset === 'object') return offset;
  const matching = batch.runs.filter((run) => status === null || run.status(req.now) === status);
  const page = matching.slice(offset, offset + limit);
  return {
    status: 200,
    body: {
      batchId: batch.id,
      total: batch.runs.length,
      executions: page.map((run) => batch.executionJson(run, req.now)),
      pagination: { limit, offset, count: page.length, hasMore: offset + page.length < matching.length },
    },
  };
}

/** An integer query parameter within [min, max], its default when absent, or the 400. */
function intParam(query: URLSearchParams, name: string, min: number, max: number, fallback: number): number | Reply {
  const raw = query.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    return invalidRequest(
      max === Number.MAX_SAFE_INTEGER
        ? `${name} must be an integer >= ${min}`
        : `${name} must be an integer from ${min} to ${max}`,
    );
  }
  return value;
}

/** An ISO 8601 date query parameter as epoch ms, `undefined` when absent, or the 400. */
function dateParam(query: URLSearchParams, name: string): number | undefined | Reply {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? invalidRequest(`${name} must be an ISO 8601 date-time`) : at;
}

/** The batch of a route match. */
export function batchIdOf(match: RegExpExecArray): string {
  const raw = match[1] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
