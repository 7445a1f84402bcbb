/**
 * The images the simulator "generates", made with sharp from the uploaded bytes: a cut-out with
 * an alpha channel, product scenes, a 2x upscale, a sharpened copy; and their Download encodings.
 */
import sharp from 'sharp';
import { jpegToPdf } from './pdf.ts';

/** The format sharp detects in the bytes (`jpeg`, `png`, `tiff`, ...), or `null` for none. */
export async function detectImageFormat(data: Buffer): Promise<string | null> {
  try {
    return (await sharp(data).metadata()).format ?? null;
  } catch {
    return null;
  }
}

/** The "background-removed" product: the image, upright, with an elliptical alpha mask (PNG). */
export async function removeBackground(data: Buffer): Promise<Buffer> {
  const { data: upright, info } = await sharp(data).rotate().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const mask = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<ellipse cx="${width / 2}" cy="${height / 2}" rx="${width * 0.42}" ry="${height * 0.42}" fill="#fff"/></svg>`;
  return sharp(upright)
    .ensureAlpha()
    .composite([{ input: Buffer.from(mask), blend: 'dest-in' }])
    .png()
    .toBuffer();
}

/** A product scene: a vertical gradient of `color` with the cut-out product centered on it (PNG). */
export async function renderScene(cutoutPng: Buffer, scene: { width: number; height: number; color: string }): Promise<Buffer> {
  const { width, height, color } = scene;
  const backdrop = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${color}"/>
<stop offset="1" stop-color="${color}" stop-opacity="0.55"/></linearGradient></defs>
<rect width="${width}" height="${height}" fill="#202020"/><rect width="${width}" height="${height}" fill="url(#g)"/></svg>`;
  const product = await sharp(cutoutPng)
    .resize({ width: Math.round(width * 0.6), height: Math.round(height * 0.8), fit: 'inside' })
    .png()
    .toBuffer();
  return sharp(Buffer.from(backdrop))
    .composite([{ input: product, gravity: 'center' }])
    .png()
    .toBuffer();
}

/** The image at twice its width and height (PNG). */
export async function upscale(data: Buffer): Promise<Buffer> {
  const { data: upright, info } = await sharp(data).rotate().toBuffer({ resolveWithObject: true });
  return sharp(upright)
    .resize({ width: info.width * 2, height: info.height * 2, kernel: 'lanczos3' })
    .png()
    .toBuffer();
}

/** The image at its size, sharpened and slightly brightened (PNG). */
export function enhanceFaces(data: Buffer): Promise<Buffer> {
  return sharp(data).rotate().sharpen().modulate({ brightness: 1.04 }).png().toBuffer();
}

/** A small preview of a preset's scene color (WebP). */
export function presetPreview(color: string): Promise<Buffer> {
  return sharp({ create: { width: 256, height: 256, channels: 3, background: color } })
    .webp()
    .toBuffer();
}

/** Download `format` values: 0 PNG, 1 JPEG, 2 PDF 1.6. */
export const downloadFormats = [0, 1, 2] as const;

/** Longest side of a low-resolution (thumbnail) download. */
const thumbnailSize = 400;

/**
 * The documented Download encodings of a rendered PNG: high resolution PNG as is, JPEG converted
 * from it; low resolution = a JPEG thumbnail, converted to PNG on request; PDF embeds either.
 */
export async function encodeDownload(
  masterPng: Buffer,
  options: { format: (typeof downloadFormats)[number]; lowResolution: boolean },
): Promise<{ body: Buffer; contentType: string; extension: string }> {
  if (options.format === 0 && !options.lowResolution) return { body: masterPng, contentType: 'image/png', extension: 'png' };
  const base = options.lowResolution
    ? sharp(masterPng).resize({ width: thumbnailSize, height: thumbnailSize, fit: 'inside' })
    : sharp(masterPng);
  const { data: jpeg, info } = await base
    .flatten({ background: '#ffffff' })
    .jpeg({ quality: 88 })
    .toBuffer({ resolveWithObject: true });
  switch (options.format) {
    case 0:
      return { body: await sharp(jpeg).png().toBuffer(), contentType: 'image/png', extension: 'png' };
    case 1:
      return { body: jpeg, contentType: 'image/jpeg', extension: 'jpg' };
    case 2:
      return { body: jpegToPdf(jpeg, info.width, info.height), contentType: 'application/pdf', extension: 'pdf' };
  }
}
