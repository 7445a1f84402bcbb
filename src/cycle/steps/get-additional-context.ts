/**
 * Step 4 of the guide: the optional context. Only what the recipe declared is fetched, so a
 * recipe that needs nothing costs no product, job, outfit or annotation calls.
 */
import type { Annotation, ProcessDetail, StylingAsset } from '../../creative-force/index.ts';
import type { ContextNeeds, LocalFile, OutfitContext, ReviewerNote } from '../../providers/recipe.ts';
import type { AdditionalContext } from '../checkpoint.ts';
import type { CycleContext } from '../cycle-context.ts';
import { downloadFiles, type FileTransfer, resolveFiles } from './download-inputs.ts';

export interface AdditionalContextInput extends FileTransfer, Pick<CycleContext, 'event'> {
  detail: ProcessDetail;
  /** What the recipe declared it needs. */
  needs: ContextNeeds;
  /** True when the process detail shows earlier outputs. */
  rework: boolean;
}

/** roleId 1 is the outfit's primary product; 2 and above are secondary styling products (KNOWN). */
const firstSecondaryRoleId = 2;

/**
 * Fetches the context the recipe declared in `needs`, and nothing else:
 * - `product` / `job`: the records of the detail's ids, falling back to the webhook event's.
 * - `outfit`, when the task has an outfit: its products, and the styling files of the secondary
 *   products downloaded to `workDir/styling/`.
 * - `annotations`, on a rework only (`rework`: the process detail shows earlier outputs):
 *   the reviewers' notes, their marking images downloaded to `workDir/markings/`. A first pass
 *   has no reviewer feedback, so it makes no annotation call.
 */
export async function getAdditionalContext(input: AdditionalContextInput): Promise<AdditionalContext> {
  const { detail, needs, rework, event, client, signal } = input;
  const context: AdditionalContext = {};
  const productId = detail.productId ?? event.ProductId;
  const jobId = detail.jobId ?? event.JobId;
  if (needs.product && productId) context.product = await client.getProduct(productId, signal);
  if (needs.job && jobId) context.job = await client.getJob(jobId, signal);
  if (needs.outfit && detail.outfitId) context.outfit = await getOutfit(input, detail.outfitId);
  if (needs.annotations && rework) context.annotations = await getReviewerNotes(input, detail.taskId);
  return context;
}

/** Every downloaded file the context refers to, so a resumed cycle can check they are still on disk. */
export function contextFiles(context: AdditionalContext): LocalFile[] {
  const markings = (context.annotations ?? []).flatMap((note) => (note.marking ? [note.marking] : []));
  return [...markings, ...(context.outfit?.stylingFiles ?? [])];
}

/**
 * The outfit's products and the styling files of its secondary products. Only secondary products
 * are sent to styling-assets: the primary product's imagery is already in the input assets.
 */
async function getOutfit(ctx: FileTransfer, outfitId: string): Promise<OutfitContext> {
  const members = await ctx.client.getOutfitProducts(outfitId, ctx.signal);
  const products = members.map(({ productId, roleId }) => ({ productId, roleId }));
  const secondaryIds = [...new Set(products.filter((p) => p.roleId >= firstSecondaryRoleId).map((p) => p.productId))];
  const styling = secondaryIds.length === 0 ? [] : await ctx.client.getStylingAssets(secondaryIds, ctx.signal);
  const files = await downloadByFileId(
    ctx,
    styling.map((s) => s.fileId),
    'styling',
  );
  return { outfitId, products, stylingFiles: styling.map((s) => stylingFile(s, files)) };
}

function stylingFile(asset: StylingAsset, files: ReadonlyMap<string, LocalFile>): OutfitContext['stylingFiles'][number] {
  const positionTagId = asset.positionTagId == null ? null : String(asset.positionTagId);
  return { ...downloaded(files, asset.fileId), productId: asset.productId, positionTagId };
}

/** The task's annotations (keyed by taskId), each with its marking image when it has one. */
async function getReviewerNotes(ctx: FileTransfer, taskId: string): Promise<ReviewerNote[]> {
  const annotations = await ctx.client.getAnnotations(taskId, ctx.signal);
  const markingIds = annotations.flatMap((a) => (a.markingFileId ? [a.markingFileId] : []));
  const markings = await downloadByFileId(ctx, markingIds, 'markings');
  return annotations.map((a) => reviewerNote(a, markings));
}

function reviewerNote(annotation: Annotation, markings: ReadonlyMap<string, LocalFile>): ReviewerNote {
  const { annotationId, assetId, comment, markingFileId } = annotation;
  return { annotationId, assetId, comment, marking: markingFileId ? downloaded(markings, markingFileId) : null };
}

/** Resolves the ids with one bulk-get-files (batched by the client) and downloads each file once. */
async function downloadByFileId(ctx: FileTransfer, fileIds: string[], dirName: string): Promise<Map<string, LocalFile>> {
  const urls = await resolveFiles(ctx, fileIds);
  const local = await downloadFiles(ctx, urls, dirName);
  return new Map(urls.map((url, index) => [url.fileId, local[index] as LocalFile]));
}

/** The local copy of a file id that downloadByFileId was given (it throws rather than skip one). */
function downloaded(files: ReadonlyMap<string, LocalFile>, fileId: string): LocalFile {
  const file = files.get(fileId);
  if (!file) throw new Error(`file ${fileId} was not downloaded`);
  return file;
}
