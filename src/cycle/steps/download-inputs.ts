/**
 * Step 3 of the guide: resolve input assets (and, when the recipe needs them, color reference
 * files) to pre-signed S3 URLs and stream them to files under the cycle's work directory.
 */
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProcessDetail } from '../../creative-force/schemas.ts';
import { ConnectorError } from '../../errors.ts';
import { downloadToFile } from '../../media/index.ts';
import type { InputFile, LocalFile } from '../../providers/recipe.ts';
import type { CycleContext } from '../cycle-context.ts';

/** A file name safe on any file system, unique by its index. */
function localName(index: number, fileName: string): string {
  return `${String(index).padStart(3, '0')}-${fileName.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-120)}`;
}

/** True when every checkpointed file is still on this host's disk with its size. */
export async function filesPresent(files: readonly LocalFile[]): Promise<boolean> {
  for (const f of files) {
    const s = await stat(f.path).catch(() => null);
    if (!s || s.size !== f.bytes) return false;
  }
  return true;
}

export async function downloadInputs(ctx: CycleContext, detail: ProcessDetail): Promise<InputFile[]> {
  if (detail.inputAssets.length === 0) {
    throw new ConnectorError('TASK_INPUT_MISSING', 'the task process has no input asset to work from');
  }
  const urls = await ctx.client.bulkGetAssets(
    detail.inputAssets.map((a) => a.assetId),
    ctx.signal,
  );
  const byId = new Map(urls.map((u) => [u.assetId, u]));
  const dir = join(ctx.workDir, 'in');
  await mkdir(dir, { recursive: true });
  const files: InputFile[] = [];
  for (const [index, asset] of detail.inputAssets.entries()) {
    const url = byId.get(asset.assetId);
    if (!url) throw new ConnectorError('CF_BAD_RESPONSE', `bulk-get-assets returned no URL for input asset ${asset.assetId}`);
    const path = join(dir, localName(index, url.fileName));
    const result = await downloadToFile({
      url: url.fileUrl,
      destPath: path,
      maxBytes: ctx.limits.maxAssetBytes,
      expectedBytes: url.fileLength,
      expectedMd5: null,
      signal: ctx.transferSignal(),
    });
    files.push({
      path,
      fileName: url.fileName,
      bytes: result.bytes,
      assetId: asset.assetId,
      positionName: asset.positionName,
      positionTagId: asset.positionTagId,
    });
  }
  return files;
}

/** Color reference files, batched by the client (100 ids per call), checked against their MD5. */
export async function downloadColorReferences(ctx: CycleContext, detail: ProcessDetail): Promise<LocalFile[]> {
  if (detail.colorReferenceFiles.length === 0) return [];
  const urls = await ctx.client.bulkGetFiles(detail.colorReferenceFiles, ctx.signal);
  const dir = join(ctx.workDir, 'color-references');
  await mkdir(dir, { recursive: true });
  const files: LocalFile[] = [];
  for (const [index, file] of urls.entries()) {
    const path = join(dir, localName(index, file.fileName));
    const result = await downloadToFile({
      url: file.fileUrl,
      destPath: path,
      maxBytes: ctx.limits.maxAssetBytes,
      expectedBytes: file.fileLength,
      expectedMd5: file.md5,
      signal: ctx.transferSignal(),
    });
    files.push({ path, fileName: file.fileName, bytes: result.bytes });
  }
  return files;
}
