/**
 * The images the simulator "generates" (JPEG, made with sharp): on-model shots labelled with
 * their shot type, and edits of an input image (resize, crop, pad, upscale) with a label band.
 * Each carries its label in EXIF `ImageDescription`, so tests can tell results apart.
 */
import sharp, { type Sharp } from 'sharp';
import { sampleImage } from '../creative-force/sample-images.ts';

/** Size of an on-model image when the request gives none (not documented by Sartiq). */
export const defaultImageSize = { width: 768, height: 1024 } as const;

/** Longest side the simulator renders; larger requests are scaled down proportionally. */
const maxRenderSide = 4096;

/** Pixel size of an image. */
export interface Size {
  width: number;
  height: number;
}

/** What to draw: the size and the label (drawn on the image and written to EXIF). */
export interface RenderSpec extends Size {
  label: string;
}

/** How an input image is fitted to the output size: sharp's `cover` (crop), `contain` (pad) or `fill` (scale). */
export type Fit = 'cover' | 'contain' | 'fill';

/** The size of an encoded image, or `undefined` when sharp cannot read it. */
export async function imageSize(data: Buffer): Promise<Size | undefined> {
  try {
    const { autoOrient } = await sharp(data).metadata();
    return { width: autoOrient.width, height: autoOrient.height };
  } catch {
    return undefined;
  }
}

/** An on-model shot: a flat color with the label, and the product image (when given) at the bottom. */
export async function renderOnModel(spec: RenderSpec, product: Buffer | undefined): Promise<Buffer> {
  const size = renderSize(spec);
  const scene = await sampleImage({ ...size, format: 'png', label: spec.label });
  const inset = product ? await productInset(product, size) : undefined;
  const image = inset ? sharp(scene).composite([{ input: inset, gravity: 'south' }]) : sharp(scene);
  return encode(image, spec.label);
}

/**
 * An edit of `base` fitted to the spec's size, with a label band at the top; a labelled flat
 * image when `base` is missing or not an image.
 */
export async function renderFromBase(base: Buffer | undefined, spec: RenderSpec, fit: Fit): Promise<Buffer> {
  const size = renderSize(spec);
  let fitted: Buffer;
  try {
    if (!base) throw new Error('no base image');
    fitted = await sharp(base)
      .rotate()
      .resize({ ...size, fit, background: '#ffffff', kernel: 'lanczos3' })
      .flatten({ background: '#ffffff' })
      .png()
      .toBuffer();
  } catch {
    return encode(sharp(await sampleImage({ ...size, format: 'png', label: spec.label })), spec.label);
  }
  return encode(sharp(fitted).composite([{ input: labelBand(spec.label, size), gravity: 'north' }]), spec.label);
}

/** The spec's size scaled down proportionally to fit {@link maxRenderSide}. */
function renderSize({ width, height }: Size): Size {
  const scale = Math.min(1, maxRenderSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

async function productInset(product: Buffer, size: Size): Promise<Buffer | undefined> {
  try {
    return await sharp(product)
      .rotate()
      .resize({ width: Math.round(size.width * 0.45), height: Math.round(size.height * 0.35), fit: 'inside' })
      .png()
      .toBuffer();
  } catch {
    return undefined;
  }
}

function labelBand(label: string, size: Size): Buffer {
  const height = Math.max(1, Math.round(size.height * 0.08));
  const fontSize = Math.max(6, Math.floor(Math.min(height * 0.6, (size.width / Math.max(label.length, 1)) * 1.6)));
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${size.width}" height="${height}">
<rect width="100%" height="100%" fill="#000000" fill-opacity="0.55"/>
<text x="50%" y="50%" dominant-baseline="middle" text-anchor="middle" font-family="sans-serif" font-size="${fontSize}" fill="#ffffff">${escapeXml(label)}</text>
</svg>`);
}

function encode(image: Sharp, label: string): Promise<Buffer> {
  return image
    .withExif({ IFD0: { ImageDescription: label, Software: 'cf-ai-connector Sartiq simulator' } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
