/**
 * Makes an input image acceptable to a provider that takes only some formats up to a size
 * (AdCreative: JPG or PNG of at most 12 MB). A file that already fits is used as it is; anything
 * else is re-encoded (PNG when it has transparency and PNG is accepted, else JPEG) and scaled
 * down, keeping its aspect ratio, until it fits.
 */
import { stat } from 'node:fs/promises';
import { join, parse } from 'node:path';
import sharp from 'sharp';
import { ConnectorError } from '../errors.ts';
import { contentTypeFor, convertImage, extensionFor, probeImage } from './image.ts';

export interface PreparedImage {
  path: string;
  fileName: string;
  contentType: 'image/jpeg' | 'image/png';
  bytes: number;
  /** False when the original file was used as it is. */
  converted: boolean;
}

export interface PrepareOptions {
  accept: readonly ('jpeg' | 'png')[];
  maxBytes: number;
  /** Where converted files go. */
  outputDir: string;
}

/** Scale attempts before giving up: each aims under the limit from the size the last one reached. */
const maxAttempts = 6;

export async function prepareImage(input: { path: string; fileName: string }, options: PrepareOptions): Promise<PreparedImage> {
  const probe = await probeImage(input.path);
  const { size } = await stat(input.path);
  const format = probe.format === 'jpeg' || probe.format === 'png' ? probe.format : null;
  if (format && options.accept.includes(format) && size <= options.maxBytes) {
    return {
      path: input.path,
      fileName: input.fileName,
      contentType: contentTypeFor(format) as PreparedImage['contentType'],
      bytes: size,
      converted: false,
    };
  }

  const { hasAlpha } = await sharp(input.path).metadata();
  const target = hasAlpha && options.accept.includes('png') ? 'png' : options.accept.includes('jpeg') ? 'jpeg' : 'png';
  const fileName = `${parse(input.fileName).name}${extensionFor(target)}`;
  const outputPath = join(options.outputDir, `prepared-${fileName}`);
  let width = probe.width;
  let height = probe.height;
  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    const written = await convertImage({
      inputPath: input.path,
      outputPath,
      format: target,
      quality: 90,
      maxWidth: width,
      maxHeight: height,
    });
    if (written.bytes <= options.maxBytes) {
      return {
        path: outputPath,
        fileName,
        contentType: contentTypeFor(target) as PreparedImage['contentType'],
        bytes: written.bytes,
        converted: true,
      };
    }
    // Bytes grow roughly with the pixel count: shrink both sides by the square root, with margin.
    const scale = Math.sqrt(options.maxBytes / written.bytes) * 0.9;
    width = Math.max(1, Math.floor(written.width * scale));
    height = Math.max(1, Math.floor(written.height * scale));
  }
  throw new ConnectorError(
    'ASSET_TOO_LARGE',
    `${input.fileName} could not be brought under ${options.maxBytes} bytes as ${target}`,
    {
      details: { fileName: input.fileName, maxBytes: options.maxBytes },
    },
  );
}
