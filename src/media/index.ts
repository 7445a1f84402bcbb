/** Moving and converting files: pre-signed S3 transfers and sharp image conversion. */
export { type DownloadOptions, type DownloadResult, downloadToFile, urlForMessages } from './download.ts';
export {
  type ConvertedImage,
  type ConvertImageOptions,
  contentTypeFor,
  convertImage,
  extensionFor,
  type ImageFormat,
  type ImageProbe,
  imageFormats,
  maxInputPixels,
  probeImage,
} from './image.ts';
export { type UploadOptions, uploadFile } from './upload.ts';
