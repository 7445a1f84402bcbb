/**
 * Step 3 of the guide: resolve input assets (and, when the recipe needs them, color reference
 * files) to pre-signed S3 URLs and stream them to files under the cycle's work directory; and the
 * kept outputs a `from` route starts from on a rework, through the same bulk-get-assets (ASSUMED
 * to serve output assets too: CF_KEPT_OUTPUT_DOWNLOAD, docs/creative-force-contract.md). The
 * file helpers here also serve step 4 (marking and styling files), so every download of the cycle
 * is named, bounded and verified the same way.
 */
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileUrl, ProcessDetail } from '../../creative-force/schemas.ts';
import { ConnectorError } from '../../errors.ts';
import { downloadToFile } from '../../media/index.ts';
import type { InputFile, LocalFile, Recipe } from '../../providers/recipe.ts';
import type { TaskInputs } from '../checkpoint.ts';
import type { CycleContext, GatewayReader } from '../cycle-context.ts';

/** What a download needs of the cycle: the gateway's reads, the work directory, the limits and the signals. */
export type FileTransfer = Pick<CycleContext, 'workDir' | 'limits' | 'signal' | 'transferSignal'> & { client: GatewayReader };

export interface DownloadInputsInput extends FileTransfer {
  detail: ProcessDetail;
  /** How the recipe takes its inputs: downloaded files, or Creative Force's pre-signed URLs. */
  as: NonNullable<Recipe['inputsAs']>;
  /** Whether the recipe declared it needs the color references too. */
  colorReferences: boolean;
  /** The kept outputs the routes start from (keptStillIds), downloaded whatever `as` says. */
  keptStills: readonly string[];
}

/**
 * Step 3: the task's input assets (and, when asked, its color reference files), downloaded, or
 * resolved to fresh pre-signed URLs for a recipe that fetches its inputs itself.
 */
export async function downloadInputs(input: DownloadInputsInput): Promise<TaskInputs> {
  const { detail } = input;
  if (input.as === 'urls') {
    const urls = await resolveInputUrls(input, detail, input.colorReferences);
    return { files: [], colorReferences: [], keptStills: await downloadKeptStills(input, detail), urls };
  }
  const files = await downloadInputAssets(input, detail);
  const colorReferences = input.colorReferences ? await downloadColorReferences(input, detail) : [];
  return { files, colorReferences, keptStills: await downloadKeptStills(input, detail), urls: null };
}

/** What one download needs: a pre-signed URL and what Creative Force announced about the file. */
interface RemoteFile {
  fileName: string;
  fileUrl: string;
  fileLength: number | null;
  /** Null for assets: bulk-get-assets announces no MD5. */
  md5: string | null;
}

/** A file name safe on any file system, unique by its index. */
function localName(index: number, fileName: string): string {
  return `${String(index).padStart(3, '0')}-${fileName.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-120)}`;
}

/** Streams one file to `dir`, refusing it beyond the asset size cap and checking size and MD5. */
async function downloadOne(ctx: FileTransfer, dir: string, index: number, file: RemoteFile): Promise<LocalFile> {
  const path = join(dir, localName(index, file.fileName));
  const result = await downloadToFile({
    url: file.fileUrl,
    destPath: path,
    maxBytes: ctx.limits.maxAssetBytes,
    expectedBytes: file.fileLength,
    expectedMd5: file.md5,
    signal: ctx.transferSignal(),
  });
  return { path, fileName: file.fileName, bytes: result.bytes };
}

/** True when every checkpointed file is still on this host's disk with its size. */
export async function filesPresent(files: readonly LocalFile[]): Promise<boolean> {
  for (const f of files) {
    const s = await stat(f.path).catch(() => null);
    if (!s || s.size !== f.bytes) return false;
  }
  return true;
}

/** Downloads every input asset of the task process to `workDir/in/`, in the detail's order. */
async function downloadInputAssets(ctx: FileTransfer, detail: ProcessDetail): Promise<InputFile[]> {
  if (detail.inputAssets.length === 0) {
    throw new ConnectorError('TASK_INPUT_MISSING', 'the task process has no input asset to work from');
  }
  return downloadAssets(ctx, detail.inputAssets, 'in', 'input asset');
}

/**
 * Downloads the kept outputs `input.keptStills` names to `workDir/kept/`, each at the position of
 * its drop box. An output asset is fetched as an input asset is: that bulk-get-assets serves it
 * is the ASSUMPTION CF_KEPT_OUTPUT_DOWNLOAD switches off (the routes then ask for none).
 */
async function downloadKeptStills(input: DownloadInputsInput, detail: ProcessDetail): Promise<InputFile[]> {
  const assets = input.keptStills.map((assetId) => {
    const output = detail.outputAssets.find((o) => o.assetId === assetId);
    const slot = detail.taskProcessExpectedOutputs.find((s) => s.mappingKeyId === output?.mappingKeyId);
    return { assetId, positionName: slot?.positionName ?? null, positionTagId: null };
  });
  return downloadAssets(input, assets, 'kept', 'kept output');
}

/** Resolves `assets` with bulk-get-assets and downloads them to `workDir/<dirName>/`, in order. */
async function downloadAssets(
  ctx: FileTransfer,
  assets: readonly Pick<InputFile, 'assetId' | 'positionName' | 'positionTagId'>[],
  dirName: string,
  what: string,
): Promise<InputFile[]> {
  if (assets.length === 0) return [];
  const urls = await ctx.client.bulkGetAssets(
    assets.map((a) => a.assetId),
    ctx.signal,
  );
  const byId = new Map(urls.map((u) => [u.assetId, u]));
  const dir = join(ctx.workDir, dirName);
  await mkdir(dir, { recursive: true });
  const files: InputFile[] = [];
  for (const [index, asset] of assets.entries()) {
    const url = byId.get(asset.assetId);
    if (!url) throw new ConnectorError('CF_BAD_RESPONSE', `bulk-get-assets returned no URL for ${what} ${asset.assetId}`);
    const file = await downloadOne(ctx, dir, index, { ...url, md5: null });
    files.push({ ...file, assetId: asset.assetId, positionName: asset.positionName, positionTagId: asset.positionTagId });
  }
  return files;
}

/**
 * Resolves file ids (color references, markings, styling files) to pre-signed URLs with
 * bulk-get-files: one logical call, which the client splits into batches of 100 ids (KNOWN limit).
 * Duplicate ids are asked for once. No call is made for an empty list.
 *
 * @returns one URL per distinct id, in the order the ids first appear.
 * @throws ConnectorError CF_BAD_RESPONSE when Creative Force leaves a requested file out.
 */
export async function resolveFiles(ctx: FileTransfer, fileIds: readonly string[]): Promise<FileUrl[]> {
  const distinct = [...new Set(fileIds)];
  if (distinct.length === 0) return [];
  const urls = await ctx.client.bulkGetFiles(distinct, ctx.signal);
  const byId = new Map(urls.map((u) => [u.fileId, u]));
  return distinct.map((fileId) => {
    const url = byId.get(fileId);
    if (!url) throw new ConnectorError('CF_BAD_RESPONSE', `bulk-get-files returned no URL for file ${fileId}`);
    return url;
  });
}

/**
 * Downloads resolved files to `workDir/<dirName>/` one after the other, each under a unique, safe
 * local name, capped by `limits.maxAssetBytes`, checked against the announced size and MD5, and
 * bounded by a fresh transfer deadline. The directory is created only when there is a file.
 *
 * @returns the local files, index for index with `files`.
 */
export async function downloadFiles(ctx: FileTransfer, files: readonly FileUrl[], dirName: string): Promise<LocalFile[]> {
  if (files.length === 0) return [];
  const dir = join(ctx.workDir, dirName);
  await mkdir(dir, { recursive: true });
  const local: LocalFile[] = [];
  for (const [index, file] of files.entries()) local.push(await downloadOne(ctx, dir, index, file));
  return local;
}

/** Color reference files of the process detail, downloaded to `workDir/color-references/`. */
export async function downloadColorReferences(ctx: FileTransfer, detail: ProcessDetail): Promise<LocalFile[]> {
  return downloadFiles(ctx, await resolveFiles(ctx, detail.colorReferenceFiles), 'color-references');
}

/**
 * For a service that fetches its inputs itself: resolves the input assets (and the color
 * references, when asked) to Creative Force's pre-signed GET URLs without downloading anything.
 */
async function resolveInputUrls(
  ctx: FileTransfer,
  detail: ProcessDetail,
  withColorReferences: boolean,
): Promise<NonNullable<TaskInputs['urls']>> {
  if (detail.inputAssets.length === 0) {
    throw new ConnectorError('TASK_INPUT_MISSING', 'the task process has no input asset to work from');
  }
  const urls = await ctx.client.bulkGetAssets(
    detail.inputAssets.map((a) => a.assetId),
    ctx.signal,
  );
  const byId = new Map(urls.map((u) => [u.assetId, u]));
  const inputUrls = detail.inputAssets.map((asset) => {
    const url = byId.get(asset.assetId);
    if (!url) throw new ConnectorError('CF_BAD_RESPONSE', `bulk-get-assets returned no URL for input asset ${asset.assetId}`);
    return {
      assetId: asset.assetId,
      fileName: url.fileName,
      positionName: asset.positionName,
      positionTagId: asset.positionTagId,
      url: url.fileUrl,
    };
  });
  const colorReferenceUrls =
    withColorReferences && detail.colorReferenceFiles.length > 0
      ? (await ctx.client.bulkGetFiles(detail.colorReferenceFiles, ctx.signal)).map((f) => ({
          fileId: f.fileId,
          fileName: f.fileName,
          url: f.fileUrl,
        }))
      : [];
  return { inputUrls, colorReferenceUrls };
}
