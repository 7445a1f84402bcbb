/**
 * Image conversion with sharp (libvips), configured for one-shot processing of untrusted files.
 *
 * Settings applied when this module loads (they are process-wide in sharp):
 * - `sharp.cache(false)`: a worker converts each file once, so libvips' operation cache only holds
 *   memory (on glibc that memory is then never returned: allocator fragmentation).
 * - `sharp.concurrency(<= 2)`: threads per image. Several images may still run in parallel on the
 *   libuv thread pool; a small value keeps peak memory and CPU contention predictable.
 * - every input is opened with an explicit pixel limit (decompression bomb guard) and
 *   `failOn: 'error'`: truncated or corrupt pixel data is rejected, while the harmless warnings
 *   that real camera files often carry (e.g. extraneous bytes before a marker) are tolerated.
 */
import { rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import sharp, { type Metadata, type OutputInfo, type Sharp, type SharpOptions } from 'sharp';
import { ConnectorError } from '../errors.ts';

sharp.cache(false);
sharp.concurrency(Math.min(2, availableParallelism()));

/** The output formats this service writes. */
export const imageFormats = ['jpeg', 'png', 'webp', 'tiff'] as const;
export type ImageFormat = (typeof imageFormats)[number];

/**
 * The largest input accepted, in pixels (width x height): sharp's own default (0x3FFF², about
 * 268 megapixels), stated here so the guard is visible and cannot be lost by a sharp upgrade.
 */
export const maxInputPixels = 0x3fff * 0x3fff;

/** WebP cannot encode a side longer than this; WebP output is always bounded by it. */
const webpMaxSide = 16_383;

const defaultQuality = 90;

/** Opening options of every input: explicit bomb guard, strict enough to reject damaged data. */
const inputOptions: SharpOptions = { limitInputPixels: maxInputPixels, failOn: 'error' };

const contentTypes: Readonly<Record<ImageFormat, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  tiff: 'image/tiff',
};

const extensions: Readonly<Record<ImageFormat, string>> = { jpeg: '.jpg', png: '.png', webp: '.webp', tiff: '.tif' };

/** The MIME type of a format, e.g. `image/jpeg`. */
export function contentTypeFor(format: ImageFormat): string {
  return contentTypes[format];
}

/** The file extension of a format, with its dot: `.jpg`, `.png`, `.webp`, `.tif`. */
export function extensionFor(format: ImageFormat): string {
  return extensions[format];
}

/** What `probeImage` reads from a file header. */
export interface ImageProbe {
  /** Width as displayed, i.e. after the EXIF orientation is applied. */
  width: number;
  /** Height as displayed, i.e. after the EXIF orientation is applied. */
  height: number;
  /** The decoder sharp selected: `jpeg`, `png`, `tiff`, `webp`, `heif`, `gif`... */
  format: string;
}

/**
 * Reads the header of an image without decoding its pixels.
 *
 * @throws ConnectorError ASSET_UNREADABLE when the file is not an image sharp can decode,
 *   ASSET_TOO_LARGE when its dimensions exceed {@link maxInputPixels}. A missing file rejects with
 *   the plain ENOENT error: that is a fault of the caller, not of the asset.
 */
export async function probeImage(path: string): Promise<ImageProbe> {
  await stat(path);
  let metadata: Metadata;
  try {
    // Header only, no pixel is decoded: the limit is lifted here so that an oversized image is
    // reported with its dimensions below; the converting pipeline keeps the limit.
    metadata = await sharp(path, { ...inputOptions, limitInputPixels: false }).metadata();
  } catch (err) {
    throw unreadable(path, err);
  }
  const { width, height } = metadata.autoOrient;
  if (width * height > maxInputPixels) {
    throw new ConnectorError(
      'ASSET_TOO_LARGE',
      `${basename(path)} is ${width}x${height} pixels, more than the ${maxInputPixels} pixels accepted`,
      { details: { fileName: basename(path), width, height, maxInputPixels } },
    );
  }
  return { width, height, format: metadata.format };
}

export interface ConvertImageOptions {
  inputPath: string;
  outputPath: string;
  format: ImageFormat;
  /** 1-100, default 90. Used by JPEG and WebP; PNG and TIFF (LZW) are lossless and ignore it. */
  quality?: number;
  /** Bounding box: the image is scaled down to fit inside it, never enlarged. */
  maxWidth?: number;
  maxHeight?: number;
  /**
   * Default true: the output carries no EXIF, XMP, IPTC or ICC data. When false, EXIF, XMP and
   * IPTC are kept (orientation reset, since the pixels are already rotated) and an sRGB ICC
   * profile is attached, which matches the converted pixels.
   */
  stripMetadata?: boolean;
  /**
   * A CSS colour that transparent areas are flattened onto. JPEG has no alpha channel, so JPEG
   * output is always flattened, onto white unless this is set; other formats keep their alpha
   * channel unless this is set.
   */
  background?: string;
}

export interface ConvertedImage {
  width: number;
  height: number;
  /** Size of the written file. */
  bytes: number;
  format: ImageFormat;
}

/**
 * Converts one image file: orients it by its EXIF tag, scales it down to fit the bounding box,
 * converts it to 8-bit sRGB, and writes `outputPath` in `format`. Pixels stream through libvips
 * in tiles; neither the decoded nor the encoded image is held in JavaScript memory.
 *
 * @throws ConnectorError ASSET_UNREADABLE (not retryable) naming the input file when it is not a
 *   decodable image or its pixel data is damaged; ASSET_TOO_LARGE above {@link maxInputPixels}.
 *   A failure to write the output (disk full, missing directory) rejects with sharp's own error,
 *   since it is no fault of the asset. No partial output file is left behind.
 */
export async function convertImage(options: ConvertImageOptions): Promise<ConvertedImage> {
  const { inputPath, outputPath, format } = options;
  await probeImage(inputPath);

  let info: OutputInfo;
  try {
    info = await buildPipeline(options).toFile(outputPath);
  } catch (err) {
    await rm(outputPath, { force: true });
    throw isWriteFailure(err, outputPath) ? err : unreadable(inputPath, err);
  }
  return { width: info.width, height: info.height, bytes: info.size, format };
}

function buildPipeline(options: ConvertImageOptions): Sharp {
  const { format, background } = options;
  const quality = options.quality ?? defaultQuality;
  const sideLimit = format === 'webp' ? webpMaxSide : Number.POSITIVE_INFINITY;
  const width = Math.min(options.maxWidth ?? Number.POSITIVE_INFINITY, sideLimit);
  const height = Math.min(options.maxHeight ?? Number.POSITIVE_INFINITY, sideLimit);

  let image = sharp(options.inputPath, { ...inputOptions, autoOrient: true });
  if (Number.isFinite(width) || Number.isFinite(height)) {
    image = image.resize({
      width: Number.isFinite(width) ? width : undefined,
      height: Number.isFinite(height) ? height : undefined,
      fit: 'inside',
      withoutEnlargement: true,
    });
  }
  if (format === 'jpeg' || background !== undefined) image = image.flatten({ background: background ?? '#ffffff' });
  // 'srgb' is 8 bits per channel: 16-bit and CMYK inputs come out as web-ready 8-bit sRGB.
  image = image.toColourspace('srgb');
  if (options.stripMetadata === false) image = image.keepMetadata().withIccProfile('srgb');

  switch (format) {
    case 'jpeg':
      // 4:4:4 keeps colour edges crisp (product photography) at the high qualities studios use.
      // Optimised Huffman tables need every DCT coefficient of the image in memory at once: for a
      // 6000x4000 photo that is ~370 MiB peak instead of ~95 MiB, and twice the time, to save
      // ~5% of file size (bench/convert.ts). A worker's memory matters more.
      return image.jpeg({ quality, chromaSubsampling: quality >= 90 ? '4:4:4' : '4:2:0', optimiseCoding: false });
    case 'png':
      return image.png({ compressionLevel: 6 });
    case 'webp':
      return image.webp({ quality });
    case 'tiff':
      return image.tiff({ compression: 'lzw', predictor: 'horizontal' });
  }
}

/**
 * libvips reports an output failure first, as "<outputPath>: write error" or "<outputPath>: unable
 * to open for write". A decoding failure comes first with the decoder's own message, possibly
 * followed by "unable to write to target <outputPath>", so only the first line tells them apart.
 */
function isWriteFailure(err: unknown, outputPath: string): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return message.startsWith(`${outputPath}:`);
}

function unreadable(path: string, cause: unknown): ConnectorError {
  const fileName = basename(path);
  const reason = cause instanceof Error ? (cause.message.split('\n')[0] ?? '') : String(cause);
  return new ConnectorError('ASSET_UNREADABLE', `${fileName} is not a readable image: ${reason}`, {
    cause,
    details: { fileName },
  });
}
