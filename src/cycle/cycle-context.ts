/** What every step of a cycle works with. Built by the worker for one job attempt. */
import type { Logger } from 'pino';
import type { KeptOutputDownload, OutfitProduct, StylingAsset } from '../creative-force/index.ts';
import type {
  Annotation,
  AssetUrl,
  FileUrl,
  PresignResponse,
  ProcessDetail,
  SubmitOutputBody,
  SubmitResponse,
  WebhookPayload,
} from '../creative-force/schemas.ts';
import type { ProviderClients } from '../providers/index.ts';
import type { PaidWork } from '../providers/recipe.ts';
import type { StageRecord } from './routes.ts';

/**
 * The Creative Force calls that only read (steps 2 to 4). bulk-get-assets, bulk-get-files and
 * styling-assets are POSTs, but change nothing.
 */
export interface GatewayReader {
  getProcessDetail(taskProcessId: string, signal?: AbortSignal): Promise<ProcessDetail>;
  bulkGetAssets(assetIds: string[], signal?: AbortSignal): Promise<AssetUrl[]>;
  bulkGetFiles(fileIds: string[], signal?: AbortSignal): Promise<FileUrl[]>;
  getProduct(productId: string, signal?: AbortSignal): Promise<Record<string, unknown>>;
  getJob(jobId: string, signal?: AbortSignal): Promise<Record<string, unknown>>;
  getAnnotations(taskId: string, signal?: AbortSignal): Promise<Annotation[]>;
  getOutfitProducts(outfitId: string, signal?: AbortSignal): Promise<OutfitProduct[]>;
  getStylingAssets(productIds: string[], signal?: AbortSignal): Promise<StylingAsset[]>;
}

/**
 * A view of `client` with its read calls only: the object has no write method at all (not even
 * behind a cast), so whatever holds it cannot presign, submit or report to Creative Force.
 */
export function readOnlyGateway(client: GatewayReader): GatewayReader {
  return {
    getProcessDetail: (taskProcessId, signal) => client.getProcessDetail(taskProcessId, signal),
    bulkGetAssets: (assetIds, signal) => client.bulkGetAssets(assetIds, signal),
    bulkGetFiles: (fileIds, signal) => client.bulkGetFiles(fileIds, signal),
    getProduct: (productId, signal) => client.getProduct(productId, signal),
    getJob: (jobId, signal) => client.getJob(jobId, signal),
    getAnnotations: (taskId, signal) => client.getAnnotations(taskId, signal),
    getOutfitProducts: (outfitId, signal) => client.getOutfitProducts(outfitId, signal),
    getStylingAssets: (productIds, signal) => client.getStylingAssets(productIds, signal),
  };
}

/** The Creative Force calls the cycle makes (implemented by the gateway client): the reads, and the writes of steps 6 to 8. */
export interface GatewayClient extends GatewayReader {
  updateProcessStatus(taskProcessId: string, message: string, signal?: AbortSignal): Promise<void>;
  /** One answer per batch of files (each batch with its own S3 headers). */
  getPresignedUploadUrls(
    clientId: string,
    files: { fileName: string; localId: string; fileLength: number }[],
    signal?: AbortSignal,
  ): Promise<PresignResponse[]>;
  submitOutput(taskProcessId: string, body: SubmitOutputBody, signal?: AbortSignal): Promise<SubmitResponse>;
}

export interface CycleContext {
  event: WebhookPayload;
  client: GatewayClient;
  /** The AI provider clients of the task's connection. */
  providers: ProviderClients;
  /** This cycle's own directory; removed when the cycle ends, whatever the outcome. */
  workDir: string;
  limits: { maxAssetBytes: number; transferTimeoutMs: number };
  /** Whether a drop box made from a kept still may fetch it (CF_KEPT_OUTPUT_DOWNLOAD, ASSUMED). */
  keptOutputDownload: KeptOutputDownload;
  /** True on the job's last attempt. */
  finalAttempt: boolean;
  /** Aborted when the worker shuts down. */
  signal: AbortSignal;
  /** A deadline for one file transfer, also aborted on shutdown. */
  transferSignal(): AbortSignal;
  /** Bound to connectionId, taskProcessId and jobId; the cycle rebinds it with each `step`. */
  logger: Logger;
  /** Tells the task history of paid provider work (never fails the cycle). */
  paidWork(work: PaidWork): Promise<void>;
  /** Tells the task history of a pipeline stage finished or resumed (never fails the cycle). */
  stageDone?(stage: StageRecord): Promise<void>;
}
