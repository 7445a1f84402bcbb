import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareImage } from '../../src/media/prepare-input.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cfc-prepare-'));
});

/** Random noise compresses badly, so file sizes stay large, like a detailed studio photo. */
async function noise(width: number, height: number, channels: 3 | 4 = 3): Promise<Sharp> {
  const pixels = Buffer.alloc(width * height * channels);
  for (let i = 0; i < pixels.length; i += 1) pixels[i] = (i * 2654435761) >>> 24;
  return sharp(pixels, { raw: { width, height, channels } });
}

describe('prepareImage', () => {
  it('uses a JPEG under the limit as it is', async () => {
    const path = join(dir, 'small.jpg');
    await (await noise(200, 100)).jpeg().toFile(path);
    const prepared = await prepareImage(
      { path, fileName: 'small.jpg' },
      { accept: ['jpeg', 'png'], maxBytes: 12 * 1024 * 1024, outputDir: dir },
    );
    expect(prepared).toMatchObject({ path, converted: false, contentType: 'image/jpeg' });
  });

  it('turns a 20 MB TIFF into a JPEG of at most 12 MB with the same aspect ratio', async () => {
    const path = join(dir, 'big.tif');
    await (await noise(3000, 2400)).tiff({ compression: 'none' }).toFile(path);
    expect((await stat(path)).size).toBeGreaterThan(20 * 1024 * 1024);
    const maxBytes = 12 * 1024 * 1024;
    const prepared = await prepareImage({ path, fileName: 'big.tif' }, { accept: ['jpeg', 'png'], maxBytes, outputDir: dir });
    expect(prepared.converted).toBe(true);
    expect(prepared.fileName).toBe('big.jpg');
    expect(prepared.bytes).toBeLessThanOrEqual(maxBytes);
    const meta = await sharp(prepared.path).metadata();
    expect(meta.format).toBe('jpeg');
    expect(Math.abs((meta.width ?? 0) / (meta.height ?? 1) - 3000 / 2400)).toBeLessThan(0.01);
  });

  it('scales a JPEG over the limit down until it fits, and keeps transparency as PNG', async () => {
    const path = join(dir, 'over.jpg');
    await (await noise(1600, 1200)).jpeg({ quality: 100 }).toFile(path);
    const maxBytes = Math.floor((await stat(path)).size / 3);
    const prepared = await prepareImage({ path, fileName: 'over.jpg' }, { accept: ['jpeg', 'png'], maxBytes, outputDir: dir });
    expect(prepared.bytes).toBeLessThanOrEqual(maxBytes);
    expect((await sharp(prepared.path).metadata()).width).toBeLessThan(1600);

    const webp = join(dir, 'alpha.webp');
    await (await noise(100, 100, 4)).webp().toFile(webp);
    const png = await prepareImage(
      { path: webp, fileName: 'alpha.webp' },
      { accept: ['jpeg', 'png'], maxBytes: 12 * 1024 * 1024, outputDir: dir },
    );
    expect(png.contentType).toBe('image/png');
    expect((await sharp(png.path).metadata()).hasAlpha).toBe(true);
  });

  it('refuses a file that is not an image', async () => {
    const path = join(dir, 'text.jpg');
    await writeFile(path, 'not an image');
    await expect(
      prepareImage({ path, fileName: 'text.jpg' }, { accept: ['jpeg'], maxBytes: 1000, outputDir: dir }),
    ).rejects.toMatchObject({
      code: 'ASSET_UNREADABLE',
    });
  });
});
