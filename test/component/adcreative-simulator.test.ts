/**
 * The AdCreative.ai simulator over real HTTP: JWT issue, refresh and expiry, the header checks,
 * the whole Product Photoshoot (Recommendations → AdCreative → CheckUserProgress → Download), the
 * documented error bodies, injected failures, and the three image features. Images are checked
 * with sharp, independently of the simulator's own rendering code.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdCreativeSimulator, adCreativeSimulatorPaths, type ImageFeaturePaths } from '../../src/simulators/adcreative/index.ts';

const taskDurationMs = 1200;
const userId = randomUUID();
const app = newApplication();

function newApplication() {
  return {
    applicationId: randomUUID(),
    jwtPrivateKey: randomBytes(32).toString('hex'),
    apiKey: randomBytes(16).toString('hex'),
    apiSecret: randomBytes(32).toString('hex'),
  };
}
type App = ReturnType<typeof newApplication>;

interface Answer {
  status: number;
  headers: Headers;
  bytes: Buffer;
  text: string;
  json: unknown;
}

// Loose views of answers, to read fields in assertions.
type Json = Record<string, unknown>;
interface Progress extends Json {
  imageRenderProcessId: string;
  totalTaskCount: number;
  completedTaskCount: number;
  progress: number;
  requestRenderState: number;
  isSuccessful: boolean;
  errorMessage: string;
  taskUrls: { taskId: string; renderState: number; publicImageUrl: string | null }[];
}

let sim: AdCreativeSimulator;

beforeAll(async () => {
  sim = await AdCreativeSimulator.start({ taskDurationMs });
  sim.addApplication(app);
});

afterAll(async () => {
  await sim.close();
});

async function call(path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(sim.baseUrl + path, init);
  const bytes = Buffer.from(await response.arrayBuffer());
  const text = bytes.toString('utf8');
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, bytes, text, json };
}

async function generateToken(a: App = app): Promise<Json> {
  const answer = await call(adCreativeSimulatorPaths.generateJwtToken, {
    method: 'POST',
    headers: { 'content-type': 'application/json; x-api-version=1.0', accept: 'application/json' },
    body: JSON.stringify({ applicationId: a.applicationId, jwtPrivateKey: a.jwtPrivateKey }),
  });
  expect(answer.status).toBe(200);
  return answer.json as Json;
}

function headersFor(token: string, a: App = app): Record<string, string> {
  return { accept: 'application/json', authorization: `Bearer ${token}`, 'x-api-key': a.apiKey, 'x-api-secret': a.apiSecret };
}

async function authHeaders(a: App = app): Promise<Record<string, string>> {
  return headersFor((await generateToken(a)).accessToken as string, a);
}

function query(values: Record<string, string>): string {
  return `?${new URLSearchParams(values).toString()}`;
}

function form(fields: Record<string, string>, file?: { field: string; name: string; type: string; data: Buffer }): FormData {
  const body = new FormData();
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  if (file) body.append(file.field, new Blob([new Uint8Array(file.data)], { type: file.type }), file.name);
  return body;
}

/** A product photo: a red box on a light background. */
function productPhoto(format: 'jpeg' | 'png' | 'tiff', width = 800, height = 600): Promise<Buffer> {
  const box = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect x="${width / 3}" y="${height / 4}" width="${width / 3}" height="${height / 2}" fill="#c0392b"/></svg>`,
  );
  return sharp({ create: { width, height, channels: 3, background: '#eeeeee' } })
    .composite([{ input: box }])
    .toFormat(format)
    .toBuffer();
}

async function recommendations(headers: Record<string, string>, file: { name: string; type: string; data: Buffer }) {
  return call(adCreativeSimulatorPaths.productGeneration.recommendations, {
    method: 'POST',
    headers,
    body: form({ applicationId: app.applicationId, userId }, { field: 'productImage', ...file }),
  });
}

const sixPrompts = JSON.stringify([
  { tag: 'custom', prompt: 'on a sleek black and blue geometric pattern background', nativeLanguagePrompt: null },
  { preset: 'white_pink_yellow_gradient_background_monochrome', tag: 'preset' },
  { preset: 'mid_century_modern_office', tag: 'preset' },
  { preset: 'white_background', tag: 'preset' },
  { tag: 'custom', prompt: 'custom style prompt', nativeLanguagePrompt: null },
  { preset: 'thanksgiving_rustic_scene', tag: 'preset' },
]);

function startPhotoshoot(headers: Record<string, string>, fields: Record<string, string>, a: App = app) {
  return call(adCreativeSimulatorPaths.productGeneration.start, {
    method: 'POST',
    headers,
    body: form({
      applicationId: a.applicationId,
      userId,
      renderKind: '4',
      PromptObjectsString: sixPrompts,
      productName: 'red box',
      productDescription: 'A red box on a light background.',
      ...fields,
    }),
  });
}

async function assetId(headers: Record<string, string>): Promise<string> {
  const answer = await recommendations(headers, { name: 'red-box.jpg', type: 'image/jpeg', data: await productPhoto('jpeg') });
  expect(answer.status).toBe(200);
  return (answer.json as Json).backgroundRemovedImageAssetId as string;
}

async function progressOf(headers: Record<string, string>, path: string, processParam: string, processId: string) {
  const answer = await call(path + query({ userId, [processParam]: processId }), { headers });
  expect(answer.status).toBe(200);
  const items = answer.json as Progress[];
  expect(items).toHaveLength(1);
  return items[0] as Progress;
}

/** Polls until progress stops (completed or failed), noting each completedTaskCount seen; fails after 10 s. */
async function pollUntilSettled(
  headers: Record<string, string>,
  path: string,
  processParam: string,
  processId: string,
  seen = new Set<number>(),
) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const progress = await progressOf(headers, path, processParam, processId);
    seen.add(progress.completedTaskCount);
    if (progress.progress === 100 || progress.errorMessage !== '') return progress;
    if (Date.now() > deadline) throw new Error(`process ${processId} did not settle: ${JSON.stringify(progress)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function photoshootDownload(
  headers: Record<string, string>,
  processId: string,
  taskId: string,
  extra: Record<string, string> = {},
) {
  return call(
    adCreativeSimulatorPaths.productGeneration.download +
      query({ applicationId: app.applicationId, taskId, imageProductGeneratorProcessId: processId, ...extra }),
    { headers },
  );
}

function expectStandardError(answer: Answer, status: number): Record<string, string[]> {
  expect(answer.status).toBe(status);
  const body = answer.json as Json;
  expect(body).toMatchObject({
    type: 'https://tools.ietf.org/html/rfc7231#section-6.5.1',
    title: 'One or more errors occurred.',
    status,
    detail: null,
    instance: null,
    extensions: { traceId: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/) },
  });
  return body.errors as Record<string, string[]>;
}

function expectValidationError(answer: Answer): Record<string, string[]> {
  expect(answer.status).toBe(400);
  const body = answer.json as Json;
  expect(body).toMatchObject({
    type: 'https://tools.ietf.org/html/rfc9110#section-15.5.1',
    title: 'One or more validation errors occurred.',
    status: 400,
    traceId: expect.stringMatching(/^00-/),
  });
  return body.errors as Record<string, string[]>;
}

/** The background-removal error: the documented text prefix, then `{"errors":[...]}`. */
function backgroundRemovalErrors(answer: Answer): { title: string; code: string; detail?: string }[] {
  expect(answer.status).toBe(400);
  expect(answer.text.startsWith('Error while removing background:')).toBe(true);
  const body = JSON.parse(answer.text.slice(answer.text.indexOf('{'))) as { errors: { title: string; code: string }[] };
  return body.errors;
}

const unauthorizedMessage = 'Token is missing, invalid or ApplicationId is not found in the token.';

describe('authorization', () => {
  it('issues a JWT with absolute expiries, refresh token 7 days after the access token', async () => {
    const before = Date.now();
    const token = await generateToken();
    expect(token.$id).toBe('1');
    expect(token.applicationId).toBe(app.applicationId);
    expect(token.accessToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const accessExpiry = Date.parse(token.accessTokenExpiration as string);
    expect(accessExpiry).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(accessExpiry).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(Date.parse(token.refreshTokenExpiration as string) - accessExpiry).toBe(7 * 24 * 3600 * 1000);
  });

  it('refuses a wrong private key with the validation shape', async () => {
    const answer = await call(adCreativeSimulatorPaths.generateJwtToken, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ applicationId: app.applicationId, jwtPrivateKey: 'ab'.repeat(32) }),
    });
    expect(Object.keys(expectValidationError(answer))).toEqual(['jwtPrivateKey']);
  });

  it('answers 401 once tokens expire, and a refreshed token works again', async () => {
    const token = await generateToken();
    const presets = adCreativeSimulatorPaths.productGeneration.presetKeys + query({ applicationId: app.applicationId, userId });
    const headers = headersFor(token.accessToken as string);
    const ok = await call(presets, { headers });
    expect(ok.status).toBe(200);
    expect((ok.json as Json[]).map((p) => p.id)).toContain('mid_century_modern_office');

    sim.expireTokens();
    const expired = await call(presets, { headers });
    expect(expectStandardError(expired, 401)).toEqual({ 'business:': [unauthorizedMessage] });

    const refreshed = await call(adCreativeSimulatorPaths.refreshJwtToken, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...app, refreshToken: token.refreshToken }),
    });
    expect(refreshed.status).toBe(200);
    const fresh = refreshed.json as Json;
    expect(fresh.applicationId).toBe(app.applicationId);
    expect(fresh.accessToken).not.toBe(token.accessToken);
    expect((await call(presets, { headers: headersFor(fresh.accessToken as string) })).status).toBe(200);
  });

  it('needs the Bearer token, x-api-key and x-api-secret of the same application', async () => {
    const headers = await authHeaders();
    const presets = adCreativeSimulatorPaths.productGeneration.presetKeys + query({ applicationId: app.applicationId, userId });
    const { 'x-api-key': _key, ...withoutKey } = headers;
    const { authorization: _bearer, ...withoutBearer } = headers;
    for (const attempt of [withoutKey, withoutBearer, { ...headers, 'x-api-secret': 'wrong' }]) {
      const answer = await call(presets, { headers: attempt });
      expect(expectStandardError(answer, 401)).toEqual({ 'business:': [unauthorizedMessage] });
    }
    // The token's application is not the one the request names.
    const other = adCreativeSimulatorPaths.productGeneration.presetKeys + query({ applicationId: randomUUID(), userId });
    expect((await call(other, { headers })).status).toBe(401);
  });
});

describe('Product Photoshoot', () => {
  it('runs Recommendations → AdCreative (6 prompts) → CheckUserProgress → Download', async () => {
    const headers = await authHeaders();
    const paidBefore = sim.paidGenerations();
    const photo = await productPhoto('jpeg');
    const recommended = await recommendations(headers, { name: 'red-box.jpg', type: 'image/jpeg', data: photo });
    expect(recommended.status).toBe(200);
    const advice = recommended.json as Json;
    expect(advice.productInfo).toEqual({ productName: 'red box', productDescription: expect.any(String) });
    expect(advice.recommendedPrompts).toEqual(expect.arrayContaining([expect.any(String)]));
    expect(advice.recommendedPresetIds).toHaveLength(6);
    expect(sim.uploads().at(-1)).toEqual({
      path: adCreativeSimulatorPaths.productGeneration.recommendations,
      fileName: 'red-box.jpg',
      contentType: 'image/jpeg',
      bytes: photo.length,
      format: 'jpeg',
    });
    expect(sim.paidGenerations()).toBe(paidBefore);

    const started = await startPhotoshoot(headers, { productImageAssetId: advice.backgroundRemovedImageAssetId as string });
    expect(started.status).toBe(200);
    const start = started.json as Json & { tasks: Record<string, number> };
    expect(start).toMatchObject({
      messageType: 'ImageProductGenerationProgress',
      requestRenderState: 1,
      applicationId: app.applicationId,
      userId,
      totalTaskCount: 6,
      completedTaskCount: 0,
      progress: 0,
      renderType: 4,
      errorMessage: '',
    });
    expect(Object.values(start.tasks)).toEqual([1, 1, 1, 1, 1, 1]);
    const processId = start.imageRenderProcessId as string;
    expect(sim.paidGenerations()).toBe(paidBefore + 1);
    expect(sim.generations().at(-1)).toMatchObject({ kind: 'photoshoot', processId, form: { renderKind: '4' } });

    const paths = adCreativeSimulatorPaths.productGeneration;
    const early = await progressOf(headers, paths.progress, 'imageProductGeneratorProcessId', processId);
    expect(early.completedTaskCount).toBeLessThan(6);
    expect(early.progress).toBeLessThan(100);
    expect(early.taskUrls.filter((t) => t.renderState !== 5).every((t) => t.publicImageUrl === null)).toBe(true);
    const earlyTask = early.taskUrls.find((t) => t.renderState !== 5);
    expect(earlyTask).toBeDefined();
    expect((await photoshootDownload(headers, processId, earlyTask?.taskId ?? '')).status).toBe(404);

    const done = await pollUntilSettled(headers, paths.progress, 'imageProductGeneratorProcessId', processId);
    expect(done).toMatchObject({
      requestRenderState: 5,
      completedTaskCount: 6,
      progress: 100,
      isSuccessful: true,
      errorMessage: '',
    });
    expect(done.taskUrls.map((t) => t.taskId).sort()).toEqual(Object.keys(start.tasks).sort());
    expect(done.taskUrls.every((t) => t.renderState === 5)).toBe(true);

    const publicImage = await fetch(done.taskUrls[0]?.publicImageUrl ?? '');
    expect(publicImage.status).toBe(200);
    const publicMeta = await sharp(Buffer.from(await publicImage.arrayBuffer())).metadata();
    expect([publicMeta.format, publicMeta.width, publicMeta.height]).toEqual(['png', 1674, 628]);

    const taskId = done.taskUrls[1]?.taskId ?? '';
    const jpeg = await photoshootDownload(headers, processId, taskId, { lowResolution: 'false', format: '1' });
    expect(jpeg.status).toBe(200);
    expect(jpeg.headers.get('content-type')).toBe('image/jpeg');
    const jpegMeta = await sharp(jpeg.bytes).metadata();
    expect([jpegMeta.format, jpegMeta.width, jpegMeta.height]).toEqual(['jpeg', 1674, 628]);

    const png = await photoshootDownload(headers, processId, taskId);
    expect(png.headers.get('content-type')).toBe('image/png');
    const pngMeta = await sharp(png.bytes).metadata();
    expect([pngMeta.format, pngMeta.width, pngMeta.height]).toEqual(['png', 1674, 628]);
    // The product photo is in the middle of the scene: red there, the scene color at the edge.
    const { data: pixels, info } = await sharp(png.bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => [...pixels.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    const [r, g, b] = at(837, 314) as [number, number, number];
    expect(r).toBeGreaterThan(150);
    expect(g + b).toBeLessThan(200);
    expect(at(5, 314)).not.toEqual(at(837, 314));

    const thumbnail = await photoshootDownload(headers, processId, taskId, { lowResolution: 'true', format: '1' });
    expect((await sharp(thumbnail.bytes).metadata()).width).toBeLessThan(1674);
    const pdf = await photoshootDownload(headers, processId, taskId, { format: '2' });
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(pdf.bytes.subarray(0, 8).toString('latin1')).toBe('%PDF-1.6');

    expect(sim.downloads().slice(-4)).toEqual([
      { kind: 'photoshoot', processId, taskId, format: 1 },
      { kind: 'photoshoot', processId, taskId, format: 0 },
      { kind: 'photoshoot', processId, taskId, format: 1 },
      { kind: 'photoshoot', processId, taskId, format: 2 },
    ]);
    const all = await call(paths.allProgresses + query({ applicationId: app.applicationId }), { headers });
    expect((all.json as Progress[]).map((p) => p.imageRenderProcessId)).toContain(processId);
  });

  it('renders 1200x628 when DisableSafeMargin is true, one task per prompt', async () => {
    const headers = await authHeaders();
    const started = await startPhotoshoot(headers, {
      productImageAssetId: await assetId(headers),
      PromptObjectsString: JSON.stringify([{ tag: 'preset', preset: 'light_blue_background' }]),
      DisableSafeMargin: 'true',
    });
    const processId = (started.json as Json).imageRenderProcessId as string;
    expect((started.json as Json).totalTaskCount).toBe(1);
    const done = await pollUntilSettled(
      headers,
      adCreativeSimulatorPaths.productGeneration.progress,
      'imageProductGeneratorProcessId',
      processId,
    );
    const image = await photoshootDownload(headers, processId, done.taskUrls[0]?.taskId ?? '');
    const meta = await sharp(image.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([1200, 628]);
  });

  it('validates the AdCreative form and charges nothing for a refused start', async () => {
    const headers = await authHeaders();
    const productImageAssetId = await assetId(headers);
    const paidBefore = sim.paidGenerations();

    const badKind = await startPhotoshoot(headers, { productImageAssetId, renderKind: '3' });
    expect(Object.keys(expectValidationError(badKind))).toEqual(['renderKind']);

    const seven = JSON.stringify(Array.from({ length: 7 }, () => ({ tag: 'preset', preset: 'white_background' })));
    const tooMany = await startPhotoshoot(headers, { productImageAssetId, PromptObjectsString: seven });
    expect(Object.keys(expectValidationError(tooMany))).toEqual(['PromptObjectsString']);

    const badTag = await startPhotoshoot(headers, { productImageAssetId, PromptObjectsString: '[{"tag":"other"}]' });
    expect(Object.keys(expectValidationError(badTag))).toEqual(['PromptObjectsString']);

    const unknownAsset = await startPhotoshoot(headers, { productImageAssetId: randomUUID() });
    expect(Object.keys(expectStandardError(unknownAsset, 404))).toEqual(['business: ProductGeneration/AdCreative']);

    expect(sim.paidGenerations()).toBe(paidBefore);
  });

  it('answers file_too_large for uploads over 12 MB, refused while reading or after parsing', async () => {
    const headers = await authHeaders();
    const uploadsBefore = sim.uploads().length;
    const thirteenMb = await recommendations(headers, {
      name: 'huge.jpg',
      type: 'image/jpeg',
      data: randomBytes(13 * 1024 * 1024),
    });
    expect(backgroundRemovalErrors(thirteenMb)).toEqual([
      { title: 'File too large', code: 'file_too_large', detail: 'File exceeds limit of 12MB' },
    ]);
    // Just over the limit: the body is parsed, the file part recorded, then refused.
    const justOver = await recommendations(headers, {
      name: 'big.jpg',
      type: 'image/jpeg',
      data: randomBytes(12 * 1024 * 1024 + 1),
    });
    expect(backgroundRemovalErrors(justOver)[0]?.code).toBe('file_too_large');
    expect(sim.uploads().slice(uploadsBefore)).toEqual([
      {
        path: adCreativeSimulatorPaths.productGeneration.recommendations,
        fileName: 'big.jpg',
        contentType: 'image/jpeg',
        bytes: 12 * 1024 * 1024 + 1,
        format: null,
      },
    ]);
  });

  it('accepts only JPG and PNG, judged by the bytes rather than the name', async () => {
    const headers = await authHeaders();
    const tiff = await recommendations(headers, { name: 'product.jpg', type: 'image/jpeg', data: await productPhoto('tiff') });
    expect(Object.keys(expectValidationError(tiff))).toEqual(['productImage']);
    expect(sim.uploads().at(-1)?.format).toBe('tiff');

    const pngNamedTiff = await recommendations(headers, {
      name: 'product.tif',
      type: 'image/tiff',
      data: await productPhoto('png'),
    });
    expect(pngNamedTiff.status).toBe(200);

    const missing = await call(adCreativeSimulatorPaths.productGeneration.recommendations, {
      method: 'POST',
      headers,
      body: form({ applicationId: app.applicationId, userId }),
    });
    expect(expectValidationError(missing)).toEqual({
      productImage: [
        'The productImage field is required.',
        'The request does not contain a file. Please make sure to upload the file.',
      ],
    });
  });

  it('refuseForeground answers the documented unknown_foreground error once', async () => {
    const headers = await authHeaders();
    const photo = { name: 'product.png', type: 'image/png', data: await productPhoto('png') };
    sim.refuseForeground();
    expect(backgroundRemovalErrors(await recommendations(headers, photo))).toEqual([
      { title: 'Could not identify foreground in image', code: 'unknown_foreground' },
    ]);
    expect((await recommendations(headers, photo)).status).toBe(200);
  });

  it('with 0 credits refuses AdCreative starts and Downloads with the documented credits error', async () => {
    const poor = newApplication();
    sim.addApplication(poor);
    const headers = await authHeaders(poor);
    const upload = await call(adCreativeSimulatorPaths.productGeneration.recommendations, {
      method: 'POST',
      headers,
      body: form(
        { applicationId: poor.applicationId, userId },
        { field: 'productImage', name: 'p.png', type: 'image/png', data: await productPhoto('png') },
      ),
    });
    const productImageAssetId = (upload.json as Json).backgroundRemovedImageAssetId as string;
    const started = await startPhotoshoot(
      headers,
      { productImageAssetId, PromptObjectsString: '[{"tag":"preset","preset":"white_background"}]' },
      poor,
    );
    const processId = (started.json as Json).imageRenderProcessId as string;
    const taskId = Object.keys((started.json as { tasks: Json }).tasks)[0] ?? '';
    await new Promise((resolve) => setTimeout(resolve, taskDurationMs + 50));

    sim.setCredits(poor.applicationId, 0);
    const paidBefore = sim.paidGenerations();
    const creditsMessage = `Error decreasing Api Key Credits for Application ${poor.applicationId}. ErrorMessage: API Key Credits for Application does not exist.`;
    const refusedStart = await startPhotoshoot(headers, { productImageAssetId }, poor);
    expect(expectStandardError(refusedStart, 400)['engine: ProductGeneration/AdCreative']).toEqual([creditsMessage]);
    expect(sim.paidGenerations()).toBe(paidBefore);

    const download = adCreativeSimulatorPaths.productGeneration.download;
    const params = { applicationId: poor.applicationId, taskId, imageProductGeneratorProcessId: processId };
    const refusedDownload = await call(download + query(params), { headers });
    expect(expectStandardError(refusedDownload, 400)).toEqual({
      'engine: ProductGeneration/Download': [creditsMessage],
      'business: ProductGeneration/Download': ['Bad request error occurred while getting image content stream'],
    });

    sim.setCredits(poor.applicationId, 5);
    expect((await call(download + query(params), { headers })).status).toBe(200);
  });

  it('failGeneration makes the next process stop with isSuccessful false and an errorMessage', async () => {
    const headers = await authHeaders();
    const productImageAssetId = await assetId(headers);
    sim.failGeneration();
    const started = await startPhotoshoot(headers, { productImageAssetId });
    expect(started.status).toBe(200);
    const processId = (started.json as Json).imageRenderProcessId as string;
    const paths = adCreativeSimulatorPaths.productGeneration;
    const failed = await pollUntilSettled(headers, paths.progress, 'imageProductGeneratorProcessId', processId);
    expect(failed.isSuccessful).toBe(false);
    expect(failed.errorMessage).not.toBe('');
    expect(failed.completedTaskCount).toBe(3);
    expect(failed.progress).toBe(50);

    // Progress stays where it stopped; the unfinished tasks never become downloadable.
    await new Promise((resolve) => setTimeout(resolve, taskDurationMs));
    const later = await progressOf(headers, paths.progress, 'imageProductGeneratorProcessId', processId);
    expect([later.completedTaskCount, later.progress, later.isSuccessful]).toEqual([3, 50, false]);
    const unfinished = later.taskUrls.find((t) => t.renderState !== 5);
    const missing = await photoshootDownload(headers, processId, unfinished?.taskId ?? '');
    expect(expectStandardError(missing, 404)['engine: ProductGeneration/Download']).toEqual(['Image content not found.']);

    // The next process is not affected.
    const next = await startPhotoshoot(headers, { productImageAssetId });
    const nextId = (next.json as Json).imageRenderProcessId as string;
    expect((await pollUntilSettled(headers, paths.progress, 'imageProductGeneratorProcessId', nextId)).isSuccessful).toBe(true);
  });
});

describe('image features', () => {
  async function runImageJob(paths: ImageFeaturePaths, image: Buffer, extra: Record<string, string> = {}) {
    const headers = await authHeaders();
    const started = await call(paths.start, {
      method: 'POST',
      headers,
      body: form(
        { applicationId: app.applicationId, userId, ...extra },
        { field: 'uploadedImage', name: 'photo.jpg', type: 'image/jpeg', data: image },
      ),
    });
    expect(started.status).toBe(200);
    const start = started.json as Json & { tasks: Record<string, number> };
    expect(start).toMatchObject({ requestRenderState: 1, totalTaskCount: 1, completedTaskCount: 0, progress: 0 });
    const processId = start.imageRenderProcessId as string;
    const done = await pollUntilSettled(headers, paths.progress, 'imageRenderProcessId', processId);
    expect(done).toMatchObject({ requestRenderState: 5, completedTaskCount: 1, progress: 100, isSuccessful: true });
    const taskId = Object.keys(start.tasks)[0] ?? '';
    expect(done.taskUrls[0]?.taskId).toBe(taskId);
    const download = await call(
      paths.download + query({ applicationId: app.applicationId, taskId, imageRenderProcessId: processId, format: '0' }),
      { headers },
    );
    expect(download.status).toBe(200);
    return { processId, image: download.bytes };
  }

  it('Background Remover: a PNG of the same size with a transparent background', async () => {
    const paidBefore = sim.paidGenerations();
    const { processId, image } = await runImageJob(
      adCreativeSimulatorPaths.backgroundRemoving,
      await productPhoto('jpeg', 640, 480),
    );
    const meta = await sharp(image).metadata();
    expect([meta.format, meta.width, meta.height, meta.hasAlpha]).toEqual(['png', 640, 480, true]);
    const { data } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
    expect(data[3]).toBe(0); // top-left corner: transparent
    expect(data[(240 * 640 + 320) * 4 + 3]).toBe(255); // center: the product, opaque
    expect(sim.paidGenerations()).toBe(paidBefore + 1);
    expect(sim.generations().at(-1)).toMatchObject({ kind: 'background-remove', processId });
    expect(sim.downloads().at(-1)).toMatchObject({ kind: 'background-remove', processId, format: 0 });
    // Each feature lists its own processes, of every user of the application.
    const headers = await authHeaders();
    const listed = async (path: string) =>
      ((await call(path + query({ applicationId: app.applicationId }), { headers })).json as Progress[]).map(
        (p) => p.imageRenderProcessId,
      );
    expect(await listed(adCreativeSimulatorPaths.backgroundRemoving.allProgresses)).toContain(processId);
    expect(await listed(adCreativeSimulatorPaths.productGeneration.allProgresses)).not.toContain(processId);
  });

  it('Background Remover answers unknown_foreground when told to', async () => {
    const headers = await authHeaders();
    sim.refuseForeground();
    const answer = await call(adCreativeSimulatorPaths.backgroundRemoving.start, {
      method: 'POST',
      headers,
      body: form(
        { applicationId: app.applicationId, userId },
        { field: 'uploadedImage', name: 'p.jpg', type: 'image/jpeg', data: await productPhoto('jpeg') },
      ),
    });
    expect(backgroundRemovalErrors(answer)[0]?.code).toBe('unknown_foreground');
  });

  it('Image Upscaler doubles the size; Face Enhancer keeps it', async () => {
    const photo = await productPhoto('jpeg', 300, 200);
    const upscaled = await sharp((await runImageJob(adCreativeSimulatorPaths.upscaling, photo)).image).metadata();
    expect([upscaled.width, upscaled.height]).toEqual([600, 400]);
    const enhanced = await sharp(
      (await runImageJob(adCreativeSimulatorPaths.faceEnhancing, photo, { ariaRatio: '0.5', maxFaceCount: '3' })).image,
    ).metadata();
    expect([enhanced.width, enhanced.height]).toEqual([300, 200]);
    expect(sim.generations().at(-1)?.form).toMatchObject({ ariaRatio: '0.5', maxFaceCount: '3' });
  });
});

describe('the undocumented wire of the image features', () => {
  it('serves them where and under the names a test moves them to, and nowhere else', async () => {
    const moved = await AdCreativeSimulator.start({
      taskDurationMs: 100,
      imageFeatureWire: {
        paths: { 'face-enhance': { start: '/v9/face/start', progress: '/v9/face/progress', download: '/v9/face/file' } },
        processIdParam: 'renderId',
        names: { userId: 'user', uploadedImage: 'image', ariaRatio: 'areaRatio', taskId: 'task', format: 'fileFormat' },
      },
    });
    try {
      moved.addApplication(app);
      const headers = headersFor(
        (
          (await (
            await fetch(moved.baseUrl + adCreativeSimulatorPaths.generateJwtToken, {
              method: 'POST',
              headers: { 'content-type': 'application/json; x-api-version=1.0' },
              body: JSON.stringify({ applicationId: app.applicationId, jwtPrivateKey: app.jwtPrivateKey }),
            })
          ).json()) as Json
        ).accessToken as string,
      );
      const photo = await productPhoto('jpeg', 120, 80);
      const start = (path: string, fields: Record<string, string>, fileField: string) =>
        fetch(moved.baseUrl + path, {
          method: 'POST',
          headers,
          body: form(
            { applicationId: app.applicationId, ...fields },
            { field: fileField, name: 'p.jpg', type: 'image/jpeg', data: photo },
          ),
        });

      // The default path is not served; the default names are missing fields.
      expect((await start(adCreativeSimulatorPaths.faceEnhancing.start, { user: userId }, 'image')).status).toBe(404);
      const defaults = await start('/v9/face/start', { userId }, 'uploadedImage');
      expect(defaults.status).toBe(400);
      expect(Object.keys(((await defaults.json()) as { errors: Json }).errors).sort()).toEqual(['image', 'user']);

      const started = await start('/v9/face/start', { user: userId, areaRatio: '0.4', maxFaceCount: '2' }, 'image');
      expect(started.status).toBe(200);
      const { imageRenderProcessId: processId, tasks } = (await started.json()) as { imageRenderProcessId: string; tasks: Json };
      const [taskId = ''] = Object.keys(tasks);
      expect(moved.generations()[0]?.form).toMatchObject({ user: userId, areaRatio: '0.4', maxFaceCount: '2' });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const progress = await fetch(`${moved.baseUrl}/v9/face/progress${query({ user: userId, renderId: processId })}`, {
        headers,
      });
      expect(((await progress.json()) as Progress[])[0]?.progress).toBe(100);
      const fileQuery = { applicationId: app.applicationId, task: taskId, renderId: processId, fileFormat: '1' };
      const file = await fetch(`${moved.baseUrl}/v9/face/file${query(fileQuery)}`, { headers });
      expect([file.status, file.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
      const oldNames = { applicationId: app.applicationId, taskId, imageRenderProcessId: processId };
      expect((await fetch(`${moved.baseUrl}/v9/face/file${query(oldNames)}`, { headers })).status).toBe(400);
    } finally {
      await moved.close();
    }
  });
});

describe('fault injection and call log', () => {
  it('loseAnswers accepts and charges the start, then drops the connection instead of answering', async () => {
    const headers = await authHeaders();
    const paidBefore = sim.paidGenerations();
    sim.loseAnswers({ method: 'POST', pathIncludes: adCreativeSimulatorPaths.backgroundRemoving.start });
    const lost = call(adCreativeSimulatorPaths.backgroundRemoving.start, {
      method: 'POST',
      headers,
      body: form(
        { applicationId: app.applicationId, userId },
        { field: 'uploadedImage', name: 'p.jpg', type: 'image/jpeg', data: await productPhoto('jpeg') },
      ),
    });
    await expect(lost).rejects.toThrow();
    expect(sim.paidGenerations()).toBe(paidBefore + 1);
    expect(sim.callLog().at(-1)).toMatchObject({ method: 'POST', status: 200 });
  });

  it('failNext answers matching requests, then the simulator answers again; every call is logged', async () => {
    const headers = await authHeaders();
    const presets = adCreativeSimulatorPaths.productGeneration.presetKeys + query({ applicationId: app.applicationId, userId });
    sim.failNext(
      { method: 'GET', pathIncludes: 'PresetKeys' },
      { status: 503, body: { down: true }, headers: { 'retry-after': '2' } },
      2,
    );
    const first = await call(presets, { headers });
    expect([first.status, first.json, first.headers.get('retry-after')]).toEqual([503, { down: true }, '2']);
    expect((await call(presets, { headers })).status).toBe(503);
    expect((await call(presets, { headers })).status).toBe(200);
    expect(
      sim
        .callLog()
        .slice(-3)
        .map((c) => [c.method, c.path, c.status]),
    ).toEqual([
      ['GET', adCreativeSimulatorPaths.productGeneration.presetKeys, 503],
      ['GET', adCreativeSimulatorPaths.productGeneration.presetKeys, 503],
      ['GET', adCreativeSimulatorPaths.productGeneration.presetKeys, 200],
    ]);
  });
});
