/**
 * The result gate on real files: images made with sharp, video containers built box by box, and
 * the garbage a buggy or compromised provider could hand back.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOutput, gateOutputs, type OutputChecks, outputChecksSchema } from '../../src/cycle/gate-outputs.ts';
import type { ProducedFile } from '../../src/providers/recipe.ts';
import { sampleImage } from '../../src/simulators/index.ts';
import { renderVideo } from '../../src/simulators/sartiq/video.ts';

let dir: string;
let n = 0;
const defaults: OutputChecks = outputChecksSchema.parse(undefined);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cfc-gate-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function file(bytes: Buffer, contentType: string, kind: ProducedFile['kind'] = 'photo'): Promise<ProducedFile> {
  n += 1;
  const fileName = `out-${n}.${contentType.split('/')[1]}`;
  const path = join(dir, fileName);
  await writeFile(path, bytes);
  return { path, fileName, bytes: bytes.length, contentType, kind };
}

const photo = (format: 'jpeg' | 'png' | 'webp' | 'tiff' = 'jpeg', width = 400, height = 300) =>
  sampleImage({ width, height, format, label: 'Front' });

function box(type: string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + payload.length);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, payload]);
}

describe('checkOutput', () => {
  it('passes a real image whose bytes match its declared type', async () => {
    expect(await checkOutput(await file(await photo('jpeg'), 'image/jpeg'), defaults)).toBeNull();
    expect(await checkOutput(await file(await photo('png'), 'image/png'), defaults)).toBeNull();
    expect(await checkOutput(await file(await photo('webp'), 'image/webp'), defaults)).toBeNull();
  });

  it('refuses text bytes named .jpg, an empty file and a truncated JPEG', async () => {
    const text = await file(Buffer.from('<html>internal admin page</html>'), 'image/jpeg');
    expect(await checkOutput(text, defaults)).toMatchObject({ rule: 'unreadable' });
    expect(await checkOutput(await file(Buffer.alloc(0), 'image/jpeg'), defaults)).toMatchObject({ rule: 'empty' });
    const jpeg = await sharp({
      create: { width: 800, height: 600, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
    })
      .jpeg()
      .toBuffer();
    const truncated = await file(jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'image/jpeg');
    expect(await checkOutput(truncated, defaults)).toMatchObject({ rule: 'unreadable' });
  });

  it('refuses bytes of another format than the declared content type', async () => {
    const png = await file(await photo('png'), 'image/jpeg');
    expect(await checkOutput(png, defaults)).toEqual({
      rule: 'type-mismatch',
      reason: 'declared image/jpeg, but the bytes are png',
    });
  });

  it('refuses a degenerate image, and applies the minimum width and height of the subfunction', async () => {
    const sliver = await file(
      await sharp({ create: { width: 600, height: 8, channels: 3, background: '#123456' } })
        .png()
        .toBuffer(),
      'image/png',
    );
    expect(await checkOutput(sliver, { ...defaults, refuseBlank: false })).toMatchObject({ rule: 'too-small' });
    const small = await file(await photo('jpeg', 400, 300), 'image/jpeg');
    expect(await checkOutput(small, { ...defaults, minWidth: 800 })).toEqual({
      rule: 'min-width',
      reason: '400x300 pixels: narrower than 800',
    });
    expect(await checkOutput(small, { ...defaults, minHeight: 301 })).toMatchObject({ rule: 'min-height' });
    expect(await checkOutput(small, { ...defaults, minWidth: 400, minHeight: 300 })).toBeNull();
  });

  it('applies the allowed formats of the subfunction', async () => {
    const webp = await file(await photo('webp'), 'image/webp');
    expect(await checkOutput(webp, { ...defaults, formats: ['jpeg', 'png'] })).toMatchObject({ rule: 'format' });
    expect(await checkOutput(webp, { ...defaults, formats: ['webp'] })).toBeNull();
  });

  it('refuses a blank frame (one colour, or fully transparent) unless the subfunction allows it', async () => {
    const grey = await file(
      await sharp({ create: { width: 500, height: 500, channels: 3, background: '#808080' } })
        .jpeg()
        .toBuffer(),
      'image/jpeg',
    );
    expect(await checkOutput(grey, defaults)).toMatchObject({ rule: 'blank' });
    expect(await checkOutput(grey, { ...defaults, refuseBlank: false })).toBeNull();
    const clear = await sharp({
      create: { width: 300, height: 300, channels: 4, background: { r: 200, g: 10, b: 10, alpha: 0 } },
    })
      .png()
      .toBuffer();
    expect(await checkOutput(await file(clear, 'image/png'), defaults)).toMatchObject({ rule: 'blank' });
    // A product on transparency is not blank.
    const cutOut = await sharp({ create: { width: 300, height: 300, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .composite([{ input: await photo('png', 100, 100), top: 100, left: 100 }])
      .png()
      .toBuffer();
    expect(await checkOutput(await file(cutOut, 'image/png'), defaults)).toBeNull();
  });

  it('reads a capture larger than its statistics sample in full: passes a photo, refuses a flat frame and a cut-off file', async () => {
    // 3000x2000 is 24 times the pixels the "blank" statistics are taken on (a scaled copy).
    const capture = await file(await photo('tiff', 3000, 2000), 'image/tiff');
    expect(await checkOutput(capture, defaults)).toBeNull();
    const flat = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#f4f4f4' } })
      .tiff({ compression: 'none' })
      .toBuffer();
    expect(await checkOutput(await file(flat, 'image/tiff'), defaults)).toMatchObject({ rule: 'blank' });
    const jpeg = await sharp({
      create: {
        width: 3000,
        height: 2000,
        channels: 3,
        background: '#000000',
        noise: { type: 'gaussian', mean: 128, sigma: 40 },
      },
    })
      .jpeg()
      .toBuffer();
    // Only the last tenth is missing: the scaled copy is made from every row, so it is noticed.
    const cut = await file(jpeg.subarray(0, Math.floor(jpeg.length * 0.9)), 'image/jpeg');
    expect(await checkOutput(cut, defaults)).toMatchObject({ rule: 'unreadable' });
  });

  it('passes an MP4 with a track, and refuses what only looks like one', async () => {
    expect(await checkOutput(await file(renderVideo('a turn'), 'video/mp4', 'video'), defaults)).toBeNull();
    const ftyp = box('ftyp', Buffer.from('isom\0\0\x02\0isomiso2mp41', 'latin1'));
    const noTrack = Buffer.concat([ftyp, box('moov', box('mvhd', Buffer.alloc(100))), box('mdat', Buffer.from('x'))]);
    expect(await checkOutput(await file(noTrack, 'video/mp4', 'video'), defaults)).toEqual({
      rule: 'unreadable',
      reason: 'not a playable video (no track)',
    });
    const overrun = Buffer.concat([ftyp, Buffer.from([0, 0, 0x10, 0]), Buffer.from('moov', 'latin1')]);
    expect(await checkOutput(await file(overrun, 'video/mp4', 'video'), defaults)).toMatchObject({ rule: 'unreadable' });
    const text = await file(Buffer.from('not a video at all, just text'), 'video/mp4', 'video');
    expect(await checkOutput(text, defaults)).toMatchObject({ rule: 'unreadable' });
    const jpegAsVideo = await file(await photo('jpeg'), 'video/mp4', 'video');
    expect(await checkOutput(jpegAsVideo, defaults)).toMatchObject({ rule: 'unreadable' });
  });

  it('reads a WebM by its EBML header, and matches its declared type', async () => {
    // EBML header: DocType (0x4282) "webm".
    const ebml = Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84, ...Buffer.from('webm')]);
    const webm = Buffer.concat([ebml, Buffer.alloc(64)]);
    expect(await checkOutput(await file(webm, 'video/webm', 'video'), defaults)).toBeNull();
    expect(await checkOutput(await file(webm, 'video/mp4', 'video'), defaults)).toMatchObject({ rule: 'type-mismatch' });
  });
});

describe('gateOutputs', () => {
  it('keeps what passes per slot, in order, and lists what it refused', async () => {
    const good = await file(await photo('jpeg'), 'image/jpeg');
    const bad = await file(Buffer.from('{"error":"quota"}'), 'image/png');
    const second = await file(await photo('png'), 'image/png');
    const { passed, refused } = await gateOutputs(
      new Map([
        ['A', [bad, good]],
        ['B', [second]],
      ]),
      defaults,
      pino({ level: 'silent' }),
    );
    expect(passed.get('A')).toEqual([good]);
    expect(passed.get('B')).toEqual([second]);
    expect(refused).toEqual([
      { mappingKeyId: 'A', fileName: bad.fileName, rule: 'unreadable', reason: expect.stringContaining('not a readable image') },
    ]);
  });
});
