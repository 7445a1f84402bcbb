/**
 * File extension to content type, as the simulator's pre-signed upload call decides it. Only the
 * formats below are accepted for outputs; anything else lands in `errorFiles`.
 */
const byExtension: Readonly<Record<string, string>> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  mp4: 'video/mp4',
};

/** The content type of an output file name, or `undefined` when its extension is not accepted. */
export function contentTypeOf(fileName: string): string | undefined {
  const dot = fileName.lastIndexOf('.');
  if (dot <= 0 || dot === fileName.length - 1) return undefined;
  return byExtension[fileName.slice(dot + 1).toLowerCase()];
}

/** True when a content type is acceptable for a slot's `assetContentTypeId` (1 photo, 2 video, 4 both). */
export function contentTypeFitsSlot(contentType: string, assetContentTypeId: number): boolean {
  const isImage = contentType.startsWith('image/');
  const isVideo = contentType.startsWith('video/');
  if (assetContentTypeId === 1) return isImage;
  if (assetContentTypeId === 2) return isVideo;
  return isImage || isVideo;
}
