/** convertImage / probeImage on real images generated with sharp. */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/errors.ts';
import { contentTypeFor, convertImage, extensionFor, imageFormats, maxInputPixels, probeImage } from '../../src/media/image.ts';

let dir: string;
/** 1200x800 noisy JPEG with EXIF (Copyright "ACME Studio"). */
let photoJpeg: string;
/** 300x200 TIFF stored sideways, EXIF orientation 6: displayed 200x300. */
let rotatedTiff: string;
/** 600x400 PNG, left half opaque red, right half fully transparent. */
let alphaPng: string;
/** 640x480 16-bit RGB PNG. */
let sixteenBitPng: string;
/** 400x300 CMYK JPEG. */
let cmykJpeg: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'image-test-'));
  photoJpeg = join(dir, 'photo.jpg');
  await sharp({
    create: { width: 1200, height: 800, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 30 } },
  })
    .jpeg({ quality: 90 })
    .withExif({ IFD0: { Copyright: 'ACME Studio', Make: 'TestCam' } })
    .toFile(photoJpeg);

  rotatedTiff = join(dir, 'rotated.tif');
  await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 0, g: 128, b: 255 } } })
    .withMetadata({ orientation: 6 })
    .tiff()
    .toFile(rotatedTiff);

  alphaPng = join(dir, 'alpha.png');
  const red = await sharp({ create: { width: 300, height: 400, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 1 } } })
    .png()
    .toBuffer();
  await sharp({ create: { width: 600, height: 400, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
    .composite([{ input: red, left: 0, top: 0 }])
    .png()
    .toFile(alphaPng);

  sixteenBitPng = join(dir, 'deep.png');
  await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 10, g: 200, b: 90 } } })
    .toColourspace('rgb16')
    .png()
    .toFile(sixteenBitPng);

  cmykJpeg = join(dir, 'print.jpg');
  await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 200, g: 40, b: 20 } } })
    .toColourspace('cmyk')
    .jpeg()
    .toFile(cmykJpeg);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Rounded mean colour of the 100x100 square at (left, 100); `stats()` itself ignores `extract`. */
async function regionMean(path: string, left: number): Promise<number[]> {
  const region = await sharp(path).extract({ left, top: 100, width: 100, height: 100 }).png().toBuffer();
  return (await sharp(region).stats()).channels.slice(0, 3).map((c) => Math.round(c.mean));
}

/** Lossy encoders move a flat colour by a step or two. */
function expectColour(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => {
    expect(Math.abs(value - (expected[i] ?? Number.NaN))).toBeLessThanOrEqual(3);
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
}

describe('fixtures', () => {
  it('are what the tests assume', async () => {
    expect(await sharp(rotatedTiff).metadata()).toMatchObject({ format: 'tiff', width: 300, height: 200, orientation: 6 });
    expect(await sharp(sixteenBitPng).metadata()).toMatchObject({ space: 'rgb16', depth: 'ushort' });
    expect(await sharp(cmykJpeg).metadata()).toMatchObject({ space: 'cmyk', channels: 4 });
    expect((await sharp(photoJpeg).metadata()).exif?.toString('latin1')).toContain('ACME Studio');
  });
});

describe('format helpers', () => {
  it('map each format to its MIME type and extension', () => {
    expect(imageFormats.map((f) => [contentTypeFor(f), extensionFor(f)])).toEqual([
      ['image/jpeg', '.jpg'],
      ['image/png', '.png'],
      ['image/webp', '.webp'],
      ['image/tiff', '.tif'],
    ]);
  });
});

describe('convertImage', () => {
  it.each(imageFormats)('writes %s within the bounding box, in sRGB, without metadata', async (format) => {
    const outputPath = join(dir, `bounded${extensionFor(format)}`);
    const result = await convertImage({ inputPath: photoJpeg, outputPath, format, maxWidth: 500, maxHeight: 500 });
    // 1200x800 fitted inside 500x500 keeps the 3:2 ratio.
    expect(result).toEqual({ width: 500, height: 333, bytes: (await stat(outputPath)).size, format });
    const meta = await sharp(outputPath).metadata();
    expect(meta).toMatchObject({ format, width: 500, height: 333, space: 'srgb', depth: 'uchar', hasProfile: false });
    expect(meta.exif).toBeUndefined();
  });

  it('bounds by height alone and never enlarges', async () => {
    const byHeight = await convertImage({ inputPath: photoJpeg, outputPath: join(dir, 'h.jpg'), format: 'jpeg', maxHeight: 200 });
    expect([byHeight.width, byHeight.height]).toEqual([300, 200]);
    const notEnlarged = await convertImage({
      inputPath: photoJpeg,
      outputPath: join(dir, 'big.webp'),
      format: 'webp',
      maxWidth: 5000,
      maxHeight: 5000,
    });
    expect([notEnlarged.width, notEnlarged.height]).toEqual([1200, 800]);
  });

  it('applies quality to JPEG', async () => {
    const low = await convertImage({ inputPath: photoJpeg, outputPath: join(dir, 'q20.jpg'), format: 'jpeg', quality: 20 });
    const high = await convertImage({ inputPath: photoJpeg, outputPath: join(dir, 'q95.jpg'), format: 'jpeg', quality: 95 });
    expect(low.bytes * 2).toBeLessThan(high.bytes);
  });

  it('rotates by the EXIF orientation and drops the tag', async () => {
    const outputPath = join(dir, 'upright.png');
    const result = await convertImage({ inputPath: rotatedTiff, outputPath, format: 'png' });
    expect([result.width, result.height]).toEqual([200, 300]);
    const meta = await sharp(outputPath).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([200, 300, undefined]);
  });

  it('keeps EXIF and attaches an sRGB profile when stripMetadata is false', async () => {
    const outputPath = join(dir, 'kept.jpg');
    await convertImage({ inputPath: photoJpeg, outputPath, format: 'jpeg', maxWidth: 300, stripMetadata: false });
    const meta = await sharp(outputPath).metadata();
    expect(meta.exif?.toString('latin1')).toContain('ACME Studio');
    expect(meta.hasProfile).toBe(true);
    // The profile description is UTF-16: drop the zero bytes to read it.
    expect(meta.icc?.toString('latin1').replaceAll('\0', '')).toContain('sRGB');
    expect(meta.space).toBe('srgb');
  });

  it('resets the orientation tag of kept metadata, since the pixels are already upright', async () => {
    const outputPath = join(dir, 'kept-rotated.jpg');
    await convertImage({ inputPath: rotatedTiff, outputPath, format: 'jpeg', stripMetadata: false });
    const meta = await sharp(outputPath).metadata();
    expect([meta.width, meta.height]).toEqual([200, 300]);
    expect(meta.orientation ?? 1).toBe(1);
  });

  it('converts 16-bit input to 8-bit sRGB', async () => {
    const outputPath = join(dir, 'deep-out.png');
    await convertImage({ inputPath: sixteenBitPng, outputPath, format: 'png' });
    expect(await sharp(outputPath).metadata()).toMatchObject({ space: 'srgb', depth: 'uchar', channels: 3 });
  });

  it('converts CMYK input to sRGB with its colours', async () => {
    const outputPath = join(dir, 'print-out.jpg');
    await convertImage({ inputPath: cmykJpeg, outputPath, format: 'jpeg' });
    expect(await sharp(outputPath).metadata()).toMatchObject({ space: 'srgb', channels: 3 });
    const [r, g, b] = (await sharp(outputPath).stats()).channels.map((c) => c.mean);
    // Still clearly red after the round trip through CMYK.
    expect(r).toBeGreaterThan(150);
    expect(g).toBeLessThan(90);
    expect(b).toBeLessThan(90);
  });

  it('flattens transparency onto white for JPEG and keeps it for PNG', async () => {
    const jpegPath = join(dir, 'flat.jpg');
    await convertImage({ inputPath: alphaPng, outputPath: jpegPath, format: 'jpeg' });
    expect(await sharp(jpegPath).metadata()).toMatchObject({ channels: 3, hasAlpha: false });
    expectColour(await regionMean(jpegPath, 0), [255, 0, 0]);
    expectColour(await regionMean(jpegPath, 400), [255, 255, 255]);

    const pngPath = join(dir, 'still-transparent.png');
    await convertImage({ inputPath: alphaPng, outputPath: pngPath, format: 'png' });
    expect(await sharp(pngPath).metadata()).toMatchObject({ channels: 4, hasAlpha: true });
  });

  it('flattens onto the requested background', async () => {
    const outputPath = join(dir, 'black-bg.webp');
    await convertImage({ inputPath: alphaPng, outputPath, format: 'webp', background: '#000000', quality: 100 });
    expect(await sharp(outputPath).metadata()).toMatchObject({ channels: 3, hasAlpha: false });
    expectColour(await regionMean(outputPath, 0), [255, 0, 0]);
    expectColour(await regionMean(outputPath, 400), [0, 0, 0]);
  });

  it('refuses bytes that are no image as ASSET_UNREADABLE naming the file, leaving no output', async () => {
    const inputPath = join(dir, 'IMG_0042.jpg');
    await writeFile(inputPath, 'this is not a JPEG at all');
    const outputPath = join(dir, 'never.jpg');
    const err = await rejection(convertImage({ inputPath, outputPath, format: 'jpeg' }));
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).toMatchObject({ code: 'ASSET_UNREADABLE', retryable: false, details: { fileName: 'IMG_0042.jpg' } });
    expect((err as Error).message).toMatch(/^IMG_0042\.jpg is not a readable image: /);
    expect(await readdir(dir)).not.toContain('never.jpg');
  });

  it('refuses a truncated JPEG (valid header, missing pixel data) as ASSET_UNREADABLE', async () => {
    const bytes = await readFile(photoJpeg);
    const inputPath = join(dir, 'truncated.jpg');
    await writeFile(inputPath, bytes.subarray(0, Math.floor(bytes.length / 2)));
    // The header alone still reads: only decoding finds the damage.
    expect((await probeImage(inputPath)).width).toBe(1200);
    const outputPath = join(dir, 'from-truncated.png');
    const err = await rejection(convertImage({ inputPath, outputPath, format: 'png' }));
    expect(err).toMatchObject({ code: 'ASSET_UNREADABLE', details: { fileName: 'truncated.jpg' } });
    expect(await readdir(dir)).not.toContain('from-truncated.png');
  });

  it('lets an output failure through as it is: it is no fault of the asset', async () => {
    const err = await rejection(
      convertImage({ inputPath: photoJpeg, outputPath: join(dir, 'missing-dir', 'x.jpg'), format: 'jpeg' }),
    );
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ConnectorError);
  });
});

describe('probeImage', () => {
  it('reports displayed dimensions and the decoder', async () => {
    expect(await probeImage(rotatedTiff)).toEqual({ width: 200, height: 300, format: 'tiff' });
    expect(await probeImage(photoJpeg)).toEqual({ width: 1200, height: 800, format: 'jpeg' });
  });

  it('refuses a file that is not an image', async () => {
    const path = join(dir, 'notes.txt');
    await writeFile(path, 'hello');
    expect(await rejection(probeImage(path))).toMatchObject({ code: 'ASSET_UNREADABLE', details: { fileName: 'notes.txt' } });
  });

  it('refuses a decompression bomb from its header, before decoding', async () => {
    // A 20000x20000 PNG header (400 megapixels) followed by a tiny deflate stream.
    const chunk = (type: string, data: Buffer) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(data.length);
      const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body));
      return Buffer.concat([length, body, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(20_000, 0);
    ihdr.writeUInt32BE(20_000, 4);
    ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
    const path = join(dir, 'bomb.png');
    await writeFile(
      path,
      Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        chunk('IHDR', ihdr),
        chunk('IDAT', deflateSync(Buffer.alloc(1000))),
        chunk('IEND', Buffer.alloc(0)),
      ]),
    );
    expect(20_000 * 20_000).toBeGreaterThan(maxInputPixels);
    const err = await rejection(probeImage(path));
    expect(err).toMatchObject({ code: 'ASSET_TOO_LARGE', retryable: false, details: { width: 20_000, height: 20_000 } });
    expect(await rejection(convertImage({ inputPath: path, outputPath: join(dir, 'bomb.jpg'), format: 'jpeg' }))).toMatchObject({
      code: 'ASSET_TOO_LARGE',
    });
  });
});
