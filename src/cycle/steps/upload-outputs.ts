/**
 * Step 7 of the guide: pre-signed URLs for every file still to upload (one batch, or one per cap
 * of files: CF_PRESIGN_MAX_FILES), then one S3 PUT per file with its batch's headers. Each tempAssetId is saved as soon as its PUT succeeds, so a retry re-uploads only the
 * files that did not make it (and asks for fresh URLs for them, as pre-signed URLs expire).
 */
import type { ProcessDetail } from '../../creative-force/schemas.ts';
import { ConnectorError } from '../../errors.ts';
import { uploadFile } from '../../media/index.ts';
import { plannedAssets, type SubmissionPlan } from '../build-submission.ts';
import type { CycleContext } from '../cycle-context.ts';

export interface UploadOutputsInput extends Pick<CycleContext, 'client' | 'signal' | 'transferSignal'> {
  detail: ProcessDetail;
  plan: SubmissionPlan;
  /** uploadKey → tempAssetId of the files an earlier attempt uploaded. */
  progress: Readonly<Record<string, string>> | undefined;
  /** Saves the uploads so far; called after each PUT. */
  saveProgress(uploads: Record<string, string>): Promise<void>;
}

/** @returns uploadKey → tempAssetId of every planned file. */
export async function uploadOutputs(input: UploadOutputsInput): Promise<Record<string, string>> {
  const { client, detail, plan } = input;
  const uploads = input.progress ?? {};
  const pending = plannedAssets(plan).filter((a) => !uploads[a.uploadKey]);
  if (pending.length === 0) return { ...uploads };
  const batches = await client.getPresignedUploadUrls(
    detail.clientId,
    pending.map((a) => ({ fileName: a.file.fileName, localId: a.uploadKey, fileLength: a.file.bytes })),
    input.signal,
  );
  const errorFiles = batches.flatMap((b) => b.errorFiles);
  if (errorFiles.length > 0) {
    const list = errorFiles.map((f) => `${f.fileName ?? f.localId} (${f.errorCode ?? 'no code'})`).join(', ');
    throw new ConnectorError('UPLOAD_REFUSED', `Creative Force refused upload URLs for ${list}`, {
      details: { errorFiles },
    });
  }
  const byLocalId = new Map(batches.flatMap((b) => b.files.map((f) => [f.localId, { ...f, headers: b.headers }] as const)));
  const done = { ...uploads };
  for (const asset of pending) {
    const target = byLocalId.get(asset.uploadKey);
    if (!target) throw new ConnectorError('CF_BAD_RESPONSE', `no pre-signed URL returned for ${asset.file.fileName}`);
    await uploadFile({
      url: target.presignedUrl,
      filePath: asset.file.path,
      contentType: target.contentType,
      headers: target.headers,
      signal: input.transferSignal(),
    });
    done[asset.uploadKey] = target.tempAssetId;
    await input.saveProgress({ ...done });
  }
  return done;
}
