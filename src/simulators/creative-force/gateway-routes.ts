/**
 * The gateway endpoints (docs/creative-force-contract.md, "Gateway endpoints") at the configured
 * paths, relative to `/v1`. Each handler gets the parsed request and answers a {@link Reply};
 * authentication, rate limiting and fault injection happen before, in server.ts.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import {
  bulkGetFilesLimit,
  type GatewayPaths,
  type IdListBody,
  outputPhysicalFileTypeId,
  type SharedCallCaps,
  type StatusBodyFields,
  type WireForms,
} from '../../creative-force/contract.ts';
import type { SubmitOutputBody } from '../../creative-force/schemas.ts';
import type { Reply } from '../harness/http-io.ts';
import { contentTypeOf } from './content-types.ts';
import { invalidData, notFound, parseJsonBody, problemDetails, problemDetailsFromIssues } from './gateway-bodies.ts';
import { type FakeS3, uploadEncryptionHeaders, uploadObjectKey } from './s3.ts';
import type { SimState, SimTask } from './state.ts';
import { judgeSubmission } from './submit-output.ts';

/** A gateway request after routing. */
export interface GatewayRequest {
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: Buffer;
  now: number;
}

/** What handlers need from the simulator. */
export interface RouteContext {
  state: SimState;
  s3: FakeS3;
  /** The origin of the pre-signed S3 URLs handed out (the simulator's, or its `publicOrigin`). */
  baseUrl: string;
  /** The field names Update Process Status expects. */
  statusBodyFields: StatusBodyFields;
  /** The other ASSUMED wire forms this instance speaks. */
  wireForms: WireForms;
  /** The most ids / files bulk-get-assets and the pre-signed URL call take (see CfSimulatorOptions.sharedCallCaps). */
  caps: SharedCallCaps;
}

/** One endpoint: a path template of {@link GatewayPaths} compiled to a regular expression. */
export interface GatewayRoute {
  name: keyof GatewayPaths;
  method: string;
  pattern: RegExp;
  paramNames: string[];
  handle: (ctx: RouteContext, req: GatewayRequest) => Reply;
}

type Handler = GatewayRoute['handle'];

const idList = z.array(z.string());
const listBindingError = { $: ['The JSON value could not be converted to System.Collections.Generic.List`1[System.Guid].'] };

/**
 * The ids of a request in the form this instance expects (ASSUMED: a bare array by default): any
 * other form is refused as model binding would, e.g. an object where an array is expected.
 */
function readIdList(value: unknown, form: IdListBody): string[] | null {
  if (form === 'array') {
    const ids = idList.safeParse(value);
    return ids.success ? ids.data : null;
  }
  const ids = z
    .object({ [form.slice('field:'.length)]: idList })
    .strict()
    .safeParse(value);
  return ids.success ? (Object.values(ids.data)[0] as string[]) : null;
}

/**
 * An answer in the field names this instance uses: each of our names in `aliases` is sent under
 * Creative Force's name instead (at any depth). For the answers whose field names are ASSUMED.
 */
export function renameAnswerFields(value: unknown, aliases: Readonly<Record<string, string>>): unknown {
  if (Array.isArray(value)) return value.map((v) => renameAnswerFields(v, aliases));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, child]) => [aliases[key] ?? key, renameAnswerFields(child, aliases)]),
  );
}

function json(req: GatewayRequest): { ok: true; value: unknown } | { ok: false; reply: Reply } {
  return parseJsonBody(req.headers['content-type'], req.body);
}

function withTask(ctx: RouteContext, req: GatewayRequest, then: (task: SimTask) => Reply): Reply {
  const id = req.params.taskProcessId ?? '';
  const task = ctx.state.tasks.get(id);
  return task ? then(task) : notFound(`task process ${id}`);
}

const processDetail: Handler = (ctx, req) => withTask(ctx, req, (task) => ({ status: 200, body: ctx.state.processDetail(task) }));

const bulkGetAssets: Handler = (ctx, req) => {
  const body = json(req);
  if (!body.ok) return body.reply;
  const ids = readIdList(body.value, ctx.wireForms.idListBodies.bulkGetAssets);
  if (!ids) return problemDetails(listBindingError);
  // The guide documents no limit here: strict, at the cap this instance was given (default 100).
  if (ids.length > ctx.caps.bulkGetAssetIds) {
    return invalidData(`at most ${ctx.caps.bulkGetAssetIds} assetIds per request, got ${ids.length}`);
  }
  // Unknown ids are left out of the answer, as bulk lookups do. The guide documents this call for
  // the ids of inputAssets only; output assets (seeded, or accepted by Submit Output) are served
  // too: that is the ASSUMPTION CF_KEPT_OUTPUT_DOWNLOAD rests on (a video redone from its kept
  // still), and the simulator is where it is under test.
  const found = ids.flatMap((id) => {
    const asset = ctx.state.assets.get(id);
    return asset ? [ctx.state.describeAsset(asset, ctx.baseUrl, req.now)] : [];
  });
  return { status: 200, body: found };
};

const bulkGetFiles: Handler = (ctx, req) => {
  const body = json(req);
  if (!body.ok) return body.reply;
  const ids = readIdList(body.value, ctx.wireForms.idListBodies.bulkGetFiles);
  if (!ids) return problemDetails(listBindingError);
  if (ids.length > bulkGetFilesLimit) {
    return invalidData(`at most ${bulkGetFilesLimit} fileIds per request, got ${ids.length}`);
  }
  const found = ids.flatMap((id) => {
    const file = ctx.state.files.get(id);
    return file ? [ctx.state.describeFile(file, ctx.baseUrl, req.now)] : [];
  });
  return { status: 200, body: found };
};

const product: Handler = (ctx, req) => {
  const record = ctx.state.products.get(req.params.productId ?? '');
  return record ? { status: 200, body: record } : notFound(`product ${req.params.productId}`);
};

const job: Handler = (ctx, req) => {
  const record = ctx.state.jobs.get(req.params.jobId ?? '');
  return record ? { status: 200, body: record } : notFound(`job ${req.params.jobId}`);
};

const annotations: Handler = (ctx, req) => ({ status: 200, body: ctx.state.annotations.get(req.params.taskId ?? '') ?? [] });

const outfitProducts: Handler = (ctx, req) => {
  const members = ctx.state.outfits.get(req.params.outfitId ?? '') ?? [];
  const body = members.map((m) => ({
    productId: m.productId,
    productCode: (ctx.state.products.get(m.productId)?.productCode as string | undefined) ?? null,
    roleId: m.roleId,
  }));
  return { status: 200, body };
};

const stylingAssets: Handler = (ctx, req) => {
  const body = json(req);
  if (!body.ok) return body.reply;
  const productIds = readIdList(body.value, ctx.wireForms.idListBodies.stylingAssets);
  if (!productIds) return problemDetails(listBindingError);
  return { status: 200, body: productIds.flatMap((id) => ctx.state.stylingAssets.get(id) ?? []) };
};

/**
 * The vendor guide says only "See the API documentation for request body details and status
 * values." (step 6), and that documentation is not public: the simulator strictly requires the
 * ASSUMED fields (or the names it was started with), a non-empty status and a message string,
 * and answers ProblemDetails otherwise.
 */
const updateStatus: Handler = (ctx, req) =>
  withTask(ctx, req, (task) => {
    const body = json(req);
    if (!body.ok) return body.reply;
    const value = (typeof body.value === 'object' && body.value !== null ? body.value : {}) as Record<string, unknown>;
    const fields = ctx.statusBodyFields;
    const status = value[fields.status];
    const message = value[fields.message];
    if (typeof status === 'string' && status.trim() !== '' && typeof message === 'string') {
      ctx.state.statusUpdates.push({ taskProcessId: task.taskProcessId, status, message, at: req.now });
      return { status: 200, body: {} };
    }
    // ASP.NET names a missing property as its C# model does: PascalCase.
    const required = (field: string) => {
      const name = `${field.charAt(0).toUpperCase()}${field.slice(1)}`;
      return { [name]: [`The ${name} field is required.`] };
    };
    return problemDetails({
      ...(typeof status !== 'string' || status.trim() === '' ? required(fields.status) : {}),
      ...(typeof message !== 'string' ? required(fields.message) : {}),
    });
  });

const presignRequest = z.object({
  clientId: z.string(),
  physicalFileTypeId: z.number().int(),
  files: z.array(z.object({ fileName: z.string(), localId: z.string(), fileLength: z.number().int() })),
});
/**
 * "Call this once per batch to mint pre-signed S3 PUT URLs for all output files in a single
 * request. Assign a localId to each file so you can map the returned tempAssetId values back to
 * your files." (guide, step 7a). How many files one request may carry is not documented: strict,
 * at the cap this instance was given (default 100); and since localIds are what files are told
 * apart by, a request naming one twice is refused.
 */
const presignedUpload: Handler = (ctx, req) => {
  const body = json(req);
  if (!body.ok) return body.reply;
  const parsed = presignRequest.safeParse(body.value);
  if (!parsed.success) return problemDetailsFromIssues(parsed.error.issues);
  const { clientId, physicalFileTypeId, files } = parsed.data;
  if (!ctx.state.workspaces.has(clientId)) return invalidData(`clientId ${clientId} is not a workspace of this studio`);
  if (physicalFileTypeId !== outputPhysicalFileTypeId)
    return invalidData(`physicalFileTypeId must be ${outputPhysicalFileTypeId}`);
  if (files.length === 0) return invalidData('files is empty');
  if (files.length > ctx.caps.presignFiles) {
    return invalidData(`at most ${ctx.caps.presignFiles} files per request, got ${files.length}`);
  }
  const localIds = files.map((f) => f.localId);
  if (new Set(localIds).size !== localIds.length) return invalidData('every file needs a localId of its own');
  const issued: Record<string, unknown>[] = [];
  const errorFiles: Record<string, unknown>[] = [];
  for (const file of files) {
    const contentType = contentTypeOf(file.fileName);
    if (!contentType) {
      errorFiles.push({ localId: file.localId, fileName: file.fileName, errorCode: 'InvalidFileExtension' });
      continue;
    }
    if (file.fileLength <= 0) {
      errorFiles.push({ localId: file.localId, fileName: file.fileName, errorCode: 'InvalidFileLength' });
      continue;
    }
    const tempAssetId = randomUUID();
    const objectKey = uploadObjectKey(tempAssetId, file.fileName);
    const temp = {
      tempAssetId,
      tempFileId: randomUUID(),
      localId: file.localId,
      fileName: file.fileName,
      contentType,
      declaredLength: file.fileLength,
      clientId,
      objectKey,
      uploaded: false,
      usedBy: null,
    };
    ctx.state.tempAssets.set(tempAssetId, temp);
    ctx.state.tempAssetByObjectKey.set(objectKey, tempAssetId);
    issued.push({
      localId: file.localId,
      contentType,
      tempFileId: temp.tempFileId,
      tempAssetId,
      presignedUrl: ctx.s3.presignPut(ctx.baseUrl, objectKey, req.now),
    });
  }
  ctx.state.presignCalls.push({
    clientId,
    localIds,
    tempAssetIds: issued.map((f) => String(f.tempAssetId)),
    at: req.now,
  });
  return {
    status: 200,
    body: { headers: uploadEncryptionHeaders.map((h) => ({ ...h })), files: issued, errorFiles },
  };
};

const submitOutput: Handler = (ctx, req) =>
  withTask(ctx, req, (task) => {
    const body = json(req);
    const at = Date.now();
    if (!body.ok) {
      ctx.state.rejectedSubmissions.push({
        taskProcessId: task.taskProcessId,
        at,
        status: body.reply.status,
        body: null as unknown as SubmitOutputBody,
        rawBody: req.body.toString('utf8'),
        response: body.reply.body,
        error: { code: 'ProblemDetails', message: 'body is not JSON' },
      });
      return body.reply;
    }
    const verdict = judgeSubmission(ctx.state, task, body.value, ctx.wireForms.keepOldAssetReference);
    if (!verdict.ok) {
      ctx.state.rejectedSubmissions.push({
        taskProcessId: task.taskProcessId,
        at,
        status: verdict.reply.status,
        body: body.value as SubmitOutputBody,
        rawBody: req.body.toString('utf8'),
        response: verdict.reply.body,
        error: verdict.error,
      });
      return verdict.reply;
    }
    const response = verdict.apply();
    ctx.state.submissions.push({
      taskProcessId: task.taskProcessId,
      at,
      status: 200,
      body: body.value as SubmitOutputBody,
      rawBody: req.body.toString('utf8'),
      response,
      error: null,
    });
    return { status: 200, body: response };
  });

const handlers: Record<keyof GatewayPaths, { method: string; handle: Handler }> = {
  processDetail: { method: 'GET', handle: processDetail },
  updateStatus: { method: 'PUT', handle: updateStatus },
  submitOutput: { method: 'POST', handle: submitOutput },
  annotations: { method: 'GET', handle: annotations },
  stylingAssets: { method: 'POST', handle: stylingAssets },
  bulkGetAssets: { method: 'POST', handle: bulkGetAssets },
  bulkGetFiles: { method: 'POST', handle: bulkGetFiles },
  product: { method: 'GET', handle: product },
  job: { method: 'GET', handle: job },
  outfitProducts: { method: 'GET', handle: outfitProducts },
  presignedUpload: { method: 'POST', handle: presignedUpload },
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compiles the gateway paths into routes. */
export function buildRoutes(paths: GatewayPaths): GatewayRoute[] {
  return (Object.keys(handlers) as (keyof GatewayPaths)[]).map((name) => {
    const template = paths[name];
    const paramNames: string[] = [];
    const source = template
      .split(/(\{\w+\})/)
      .map((part) => {
        const param = /^\{(\w+)\}$/.exec(part);
        if (!param) return escapeRegExp(part);
        paramNames.push(param[1] as string);
        return '([^/]+)';
      })
      .join('');
    return { name, method: handlers[name].method, pattern: new RegExp(`^${source}$`), paramNames, handle: handlers[name].handle };
  });
}

/** The route of a path relative to `/v1`: matched, path known with another method, or unknown. */
export function matchRoute(
  routes: GatewayRoute[],
  method: string,
  path: string,
): { route: GatewayRoute; params: Record<string, string> } | 'method-not-allowed' | undefined {
  let pathKnown = false;
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    pathKnown = true;
    if (route.method !== method) continue;
    const params: Record<string, string> = {};
    for (const [i, name] of route.paramNames.entries()) {
      try {
        params[name] = decodeURIComponent(match[i + 1] ?? '');
      } catch {
        params[name] = match[i + 1] ?? '';
      }
    }
    return { route, params };
  }
  return pathKnown ? 'method-not-allowed' : undefined;
}
