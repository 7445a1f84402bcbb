/**
 * zod schemas of what Adobe IMS and the Firefly Workflow Builder API send us, and the domain types
 * derived from them (the Workflow Builder API's OpenAPI spec). The API's JSON is camelCase already.
 *
 * Parsing is lenient where the sources are thin: unknown fields are dropped, counts default to 0,
 * status values are compared case-insensitively (an unknown value means "not finished yet"), and
 * the untyped `outputs[]` of an execution is searched for presigned URLs in every shape seen so far
 * (see collectFireflyOutputs). What the connector cannot work without (a batch id, a batch status,
 * an execution's id and asset index, the executions array) is required.
 */
import { z } from 'zod';
import { idLike, numberLike, optionalDateTime, optionalText } from '../lenient-schemas.ts';

/** A count that may be missing (0). */
const count = numberLike
  .pipe(z.number().int().nonnegative())
  .nullish()
  .transform((v) => v ?? 0);
/** A flag that may arrive as a boolean or as `"true"` / `"false"`. */
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).nullish();

// ---------------------------------------------------------------------------------------------
// IMS

/** The token lifetime Adobe documents (`expires_in: 86399`), used when an IMS answer has none. */
export const fireflyDefaultTokenLifetimeS = 86_399;

/** `POST https://ims-na1.adobelogin.com/ims/token/v3`: `{ access_token, token_type: "bearer", expires_in }` (seconds). */
export const imsTokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: optionalText,
  expires_in: numberLike.pipe(z.number().positive()).nullish(),
});

// ---------------------------------------------------------------------------------------------
// Batch runtime

/** Batch statuses that end a batch (any case). `canceled` is the preview API's spelling, accepted as well. */
const terminalBatchStatuses = new Set(['completed', 'failed', 'cancelled', 'canceled']);

/** Whether a batch status ends the batch: completed, failed or cancelled (any case); unknown values do not. */
export function fireflyBatchTerminal(status: string): boolean {
  return terminalBatchStatuses.has(status.trim().toLowerCase());
}

/** A link of a batch answer: `{ href }` as documented, or a bare string. */
const linkSchema = z
  .union([z.string(), z.object({ href: optionalText })])
  .nullish()
  .catch(null)
  .transform((v) => (typeof v === 'string' ? v.trim() || null : (v?.href ?? null)));

/** The links of a batch answer (hrefs relative to the server, e.g. `/batch/{id}/status?format=preview`). */
export interface FireflyBatchLinks {
  result: string | null;
  status: string | null;
  cancel: string | null;
  executions: string | null;
}

const linksSchema = z
  .object({ result: linkSchema, status: linkSchema, cancel: linkSchema, executions: linkSchema })
  .nullish()
  .catch(null)
  .transform(
    (v): FireflyBatchLinks => ({
      result: v?.result ?? null,
      status: v?.status ?? null,
      cancel: v?.cancel ?? null,
      executions: v?.executions ?? null,
    }),
  );

/** A started batch. */
export interface FireflyBatchStarted {
  /** E.g. `batch-run-workflow_<uuid>-20260403-750642eb`: what status, executions and cancel take. */
  batchId: string;
  links: FireflyBatchLinks;
}

/** `POST /batch/execute` (202). Only `batchId` is required. */
export const executeResponseSchema = z
  .object({ batchId: z.string().trim().min(1), links: linksSchema })
  .transform((body): FireflyBatchStarted => ({ batchId: body.batchId, links: body.links }));

/** Asset counts of a batch. */
export interface FireflyAssetCounts {
  total: number;
  pending: number;
  processing: number;
  completed: number;
  failed: number;
}

const assetsSchema = z
  .object({ total: count, pending: count, processing: count, completed: count, failed: count })
  .nullish()
  .transform((v): FireflyAssetCounts => v ?? { total: 0, pending: 0, processing: 0, completed: 0, failed: 0 });

/** A batch of `GET /batches` (BatchListItem), as far as a lost start needs it. */
export interface FireflyListedBatch {
  batchId: string;
  /** As listed: `run-workflow_<uuid>` in the documented examples; null when not sent. */
  workflowId: string | null;
  /** `createdAt` as epoch ms; null when not sent or unreadable. */
  createdAt: number | null;
  assets: FireflyAssetCounts;
}

/** One page of `GET /batches` (ListBatchesResponse). */
export const batchListPageSchema = z.object({
  batches: z.array(
    z
      .object({ batchId: z.string().trim().min(1), workflowId: optionalText, createdAt: optionalDateTime, assets: assetsSchema })
      .transform((b): FireflyListedBatch => b),
  ),
  pagination: z.object({ hasMore: flag }).nullish(),
});

/** Batch statuses documented (others may appear; compare with fireflyBatchTerminal). */
export type FireflyBatchStatusValue = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

/** A batch as it stands. */
export interface FireflyBatchStatus {
  batchId: string;
  /** As sent (`pending`, `running`, `completed`, `failed`, `cancelled`, or anything else). */
  status: FireflyBatchStatusValue | string;
  assets: FireflyAssetCounts;
  /** The status is completed, failed or cancelled (any case). Unknown statuses are not terminal. */
  terminal: boolean;
}

/** `GET /batch/{batchId}/status`. `batchId` may be missing: the client fills in the one it asked about. */
export const statusResponseSchema = z.object({
  batchId: optionalText,
  status: z.string().trim().min(1),
  assets: assetsSchema,
});

/** `POST /batch/{batchId}/cancel`: `{ batchId, status: "cancelled", message, previousStatus, assets }`. */
export const cancelResponseSchema = z.object({
  batchId: optionalText,
  status: optionalText,
  message: optionalText,
  previousStatus: optionalText,
});

/** What a cancel answered. */
export interface FireflyCancelResult {
  batchId: string;
  /** `cancelled` as documented; null when the answer had no body. */
  status: string | null;
  previousStatus: string | null;
  message: string | null;
}

// ---------------------------------------------------------------------------------------------
// Executions

/** One file an execution produced. */
export interface FireflyExecutionOutput {
  /** The output node (`node_id` / `nodeId` of the entry or of an enclosing entry), when named. */
  nodeId: string | null;
  /** The presigned GET URL of the file; null for a named output node that carries no URL (e.g. failed). */
  url: string | null;
  /** `mimeType` of the entry or of an enclosing entry, when given. */
  mimeType: string | null;
}

/** Execution statuses documented (others may appear). */
export type FireflyExecutionStatusValue = 'pending' | 'running' | 'success' | 'failed';

/** The result of one run (one asset) of a batch. */
export interface FireflyExecution {
  executionId: string;
  /** The run's index in the `inputs` of executeBatch (`assetIndex`, else `inputAsset.index`). */
  assetIndex: number;
  /** As sent; `pending` when missing. */
  status: FireflyExecutionStatusValue | string;
  /** The execution's error as one line (a string, or the `message` of an error object), null when none. */
  error: string | null;
  /** Every presigned URL found in `outputs[]`, in document order, each URL once. */
  outputs: FireflyExecutionOutput[];
  /** `inputAsset.inputs` ("Input asset data", items untyped): the run's node inputs; null when not sent. */
  inputs: unknown[] | null;
}

/** Keys of output entries that hold metadata, not results (large; stripped by the public app that reads them). */
const skippedOutputKeys = new Set(['provenance', '__conflicts']);
const nodeIdKeys = ['node_id', 'nodeId', 'nodeID'];
const mimeTypeKeys = ['mimeType', 'mime_type', 'contentType', 'content_type'];

function textOf(record: Record<string, unknown>, keys: readonly string[]): string | null {
  for (const key of keys) {
    const value = record[key];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every output of an execution's untyped `outputs` value. The shapes seen so far (in public
 * third-party code, not in Adobe's docs) are all accepted, at any depth:
 * `{ node_id, content: { presignedUrl } }` (content an object or an array), `{ presignedUrl,
 * mimeType, name }`, and `{ outputs: [ { node_id, status, content: { presignedUrl } } ] }`.
 *
 * Every string under a `presignedUrl` key (any case) is an output; its node id and MIME type are
 * those of the nearest entry that names one. An entry with its own `node_id` under which no URL
 * was found is listed with `url: null` (a node that produced nothing, e.g. failed). `provenance`
 * and `__conflicts` blocks are skipped; a URL found twice is listed once.
 */
export function collectFireflyOutputs(value: unknown): FireflyExecutionOutput[] {
  const found: FireflyExecutionOutput[] = [];
  const seen = new Set<string>();
  const walk = (node: unknown, nodeId: string | null, mimeType: string | null, depth: number): boolean => {
    if (depth > 32) return false;
    if (Array.isArray(node)) {
      let any = false;
      for (const item of node) any = walk(item, nodeId, mimeType, depth + 1) || any;
      return any;
    }
    if (!isRecord(node)) return false;
    const ownNodeId = textOf(node, nodeIdKeys);
    const here = { nodeId: ownNodeId ?? nodeId, mimeType: textOf(node, mimeTypeKeys) ?? mimeType };
    let any = false;
    for (const [key, child] of Object.entries(node)) {
      if (skippedOutputKeys.has(key)) continue;
      if (key.toLowerCase() === 'presignedurl') {
        if (typeof child === 'string' && child.trim() !== '') {
          any = true;
          const url = child.trim();
          if (!seen.has(url)) {
            seen.add(url);
            found.push({ nodeId: here.nodeId, url, mimeType: here.mimeType });
          }
        }
        continue;
      }
      if (typeof child === 'object' && child !== null) any = walk(child, here.nodeId, here.mimeType, depth + 1) || any;
    }
    if (!any && ownNodeId !== null) found.push({ nodeId: ownNodeId, url: null, mimeType: here.mimeType });
    // A named node without a URL counts as found, so an enclosing named entry is not listed again.
    return any || ownNodeId !== null;
  };
  walk(value, null, null, 0);
  return found;
}

/** An execution's `error`: a string, an error object (its message), or nothing. */
function errorText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value.trim() || null;
  if (isRecord(value)) {
    const text = textOf(value, ['message', 'error', 'description', 'detail', 'code']);
    if (text !== null) return text;
  }
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 500 ? `${json.slice(0, 500)}…` : json;
}

const assetIndexSchema = numberLike.pipe(z.number().int().nonnegative());

/** One BatchExecutionResult. */
export const executionSchema = z
  .object({
    executionId: idLike,
    assetIndex: assetIndexSchema.nullish(),
    inputAsset: z
      .object({ index: assetIndexSchema.nullish().catch(null), inputs: z.array(z.unknown()).nullish().catch(null) })
      .nullish()
      .catch(null),
    status: optionalText,
    error: z.unknown(),
    outputs: z.unknown(),
  })
  .transform((body, ctx): FireflyExecution => {
    const assetIndex = body.assetIndex ?? body.inputAsset?.index;
    if (assetIndex === undefined || assetIndex === null) {
      ctx.addIssue({ code: 'custom', message: 'neither assetIndex nor inputAsset.index is given', path: ['assetIndex'] });
      return z.NEVER;
    }
    return {
      executionId: body.executionId,
      assetIndex,
      status: body.status ?? 'pending',
      error: errorText(body.error),
      outputs: collectFireflyOutputs(body.outputs),
      inputs: body.inputAsset?.inputs ?? null,
    };
  });

/** One page of `GET /batch/{batchId}/executions`. */
export const executionsPageSchema = z.object({
  batchId: optionalText,
  total: numberLike.nullish(),
  executions: z.array(executionSchema),
  pagination: z
    .object({ limit: numberLike.nullish(), offset: numberLike.nullish(), count: numberLike.nullish(), hasMore: flag })
    .nullish(),
});
