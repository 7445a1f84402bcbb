/**
 * Small generated images for tests and the demo: a flat color with an optional centered label.
 */
import sharp from 'sharp';

/** What {@link sampleImage} draws. */
export interface SampleImageOptions {
  width: number;
  height: number;
  format: 'jpeg' | 'png' | 'tiff' | 'webp';
  /** Text drawn in the middle (skipped on images too small to hold it). */
  label?: string;
  /** Background color (any CSS color sharp understands); default derived from the label. */
  color?: string;
}

const palette = ['#3b6ea5', '#a53b6e', '#6ea53b', '#a5763b', '#3ba59a', '#763ba5'];

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function colorFor(label: string | undefined): string {
  if (!label) return palette[0] as string;
  let hash = 0;
  for (const ch of label) hash = (hash * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return palette[hash % palette.length] as string;
}

/** Renders a sample image with sharp and returns the encoded bytes. */
export async function sampleImage(options: SampleImageOptions): Promise<Buffer> {
  const { width, height, format, label } = options;
  const background = options.color ?? colorFor(label);
  let image = sharp({ create: { width, height, channels: 3, background } });
  if (label && width >= 32 && height >= 16) {
    const fontSize = Math.max(8, Math.floor(Math.min(height / 4, (width / Math.max(label.length, 1)) * 1.6)));
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<text x="50%" y="50%" dominant-baseline="middle" text-anchor="middle" font-family="sans-serif" font-size="${fontSize}" fill="#ffffff">${escapeXml(label)}</text>
</svg>`;
    image = image.composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
  }
  switch (format) {
    case 'jpeg':
      return image.jpeg({ quality: 85 }).toBuffer();
    case 'png':
      return image.png().toBuffer();
    case 'tiff':
      return image.tiff().toBuffer();
    case 'webp':
      return image.webp().toBuffer();
  }
}
