/**
 * AdCreativeClient and AdCreativeJwtStore against the real Redis and a loopback AdCreative
 * endpoint (node:http) that records every request and answers what each test sets.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/errors.ts';
import { AdCreativeClient, type AdCreativeCredentials } from '../../src/providers/adcreative/client.ts';
import {
  type AdCreativeConfig,
  defaultImageJobNames,
  defaultAdCreativePaths as paths,
} from '../../src/providers/adcreative/config.ts';
import { AdCreativeJwtStore, type AdCreativeJwtStoreOptions } from '../../src/providers/adcreative/jwt-store.ts';
import { StartClaims } from '../../src/providers/start-claims.ts';
import { capturedLogger } from '../helpers/captured-logger.ts';
import { dropPrefix, redisUrl } from '../helpers/redis.ts';
import { type Answer, type Recorded, ScriptedServer } from '../helpers/scripted-server.ts';

const credentials: AdCreativeCredentials = {
  applicationId: '6a9d3f2c-1b0e-4c7f-a8d5-e3f0c1b9a4d6',
  jwtPrivateKey: 'jwt-private-key-0f1e2d3c4b5a',
  apiKey: 'api-key-f8a3d2c6e9b1',
  apiSecret: 'api-secret-b7e4c1d9a5f2',
  userId: '2f1e3c4d-5b6a-4d8f-9c01-e2d3c4b5f6a7',
};
const secretValues = [credentials.jwtPrivateKey, credentials.apiKey, credentials.apiSecret];
const processId = '60a743a6-c761-4168-9288-40a729dd407e';
const taskIds = ['e790c565-d56a-4e32-b00a-66be90cfcd43', '5a172e34-dbb0-4459-90fe-f8c228fc367a'];
const hour = 3_600_000;

/** .NET style: seven fractional digits and no offset (UTC). */
function dotNetDate(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '0000');
}

/** A loopback AdCreative: JWT endpoints answer by default, feature paths as each test sets. */
class FakeAdCreative extends ScriptedServer {
  #issued = 0;

  constructor() {
    super({ notFound: { status: 404, json: { title: 'Not Found', status: 404 } } });
  }

  override reset(): void {
    super.reset();
    this.#issued = 0;
    this.handlers.set(paths.generateJwt, () => this.issue(true));
    // As documented: a refresh answers applicationId, accessToken and accessTokenExpiration only.
    this.handlers.set(paths.refreshJwt, () => this.issue(false));
  }

  /** A JWT answer: `jwt-<n>` valid 1 h, with `refresh-<n>` valid 7 days when asked. */
  issue(withRefresh: boolean): Answer {
    const n = ++this.#issued;
    const now = Date.now();
    const refresh = withRefresh ? { refreshToken: `refresh-${n}`, refreshTokenExpiration: dotNetDate(now + 7 * 24 * hour) } : {};
    return {
      json: {
        $id: '1',
        applicationId: credentials.applicationId,
        accessToken: `jwt-${n}`,
        accessTokenExpiration: dotNetDate(now + hour),
        ...refresh,
      },
    };
  }

  /** Requests to anything but the JWT endpoints. */
  features(): Recorded[] {
    return this.requests.filter((r) => !r.path.startsWith('/api/v1/Authorization/'));
  }
}

/** A progress object as CheckUserProgress sends it. */
function progressEntry(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    messageType: 'ImageProductGenerationProgress',
    requestRenderState: 5,
    applicationId: credentials.applicationId,
    userId: credentials.userId,
    imageRenderProcessId: id,
    totalTaskCount: 2,
    completedTaskCount: 2,
    progress: 100,
    taskUrls: taskIds.map((taskId) => ({
      taskId,
      renderState: 5,
      publicImageUrl: `https://storage.googleapis.com/adcreative-bucket/images/${taskId}.png`,
    })),
    renderType: 4,
    isSuccessful: true,
    errorMessage: '',
    ...overrides,
  };
}

/** The standard error body of AdCreative's "Error Handling" page. */
function standardError(status: number, errors: Record<string, string[]>) {
  return {
    errors,
    type: 'https://tools.ietf.org/html/rfc7231#section-6.5.1',
    title: 'One or more errors occurred.',
    status,
    detail: null,
    instance: null,
    extensions: { traceId: '00-5593df94b6415482f5d01c65f51de46f-9a0a8bfb206eae96-00' },
  };
}

const server = new FakeAdCreative();
const dispatcher = new Agent();
const redisA = new Redis(redisUrl, { connectionName: 'adcreative-test-a' });
const redisB = new Redis(redisUrl, { connectionName: 'adcreative-test-b' });
const { logger, lines: logLines } = capturedLogger();
let baseUrl = '';
let keyPrefix = '';
let workDir = '';
let imagePath = '';
const imageBytes = randomBytes(300_000);

function config(overrides: Partial<AdCreativeConfig> = {}): AdCreativeConfig {
  return { baseUrl, requestTimeoutMs: 2000, paths, imageJobNames: defaultImageJobNames, ...overrides };
}

function jwtStore(redis: Redis, overrides: Partial<AdCreativeJwtStoreOptions> = {}): AdCreativeJwtStore {
  return new AdCreativeJwtStore({ redis, config: config(), logger, dispatcher, keyPrefix, pollIntervalMs: 20, ...overrides });
}

function client(redis = redisA, cfg = config()): AdCreativeClient {
  const claims = new StartClaims({ redis, keyPrefix: `${keyPrefix}:claims` });
  return new AdCreativeClient({
    connectionId: 'studio-a',
    credentials,
    config: cfg,
    jwt: jwtStore(redis),
    claims,
    dispatcher,
    logger,
  });
}

/** The Redis hash of the access token of connection studio-a. */
const accessKey = () => `${keyPrefix}:studio-a`;

function onProgress(entries: () => unknown): void {
  server.handlers.set(paths.photoshoot.checkUserProgress, () => ({ json: entries() }));
}

/** Awaits a rejection and returns the ConnectorError. */
async function failure(promise: Promise<unknown>): Promise<ConnectorError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectorError);
  return err as ConnectorError;
}

beforeAll(async () => {
  baseUrl = await server.start();
  workDir = await mkdtemp(join(tmpdir(), 'adcreative-test-'));
  imagePath = join(workDir, 'product.png');
  await writeFile(imagePath, imageBytes);
});

beforeEach(() => {
  keyPrefix = `{cfc-test-adc-${randomUUID()}}:adc-jwt`;
  server.reset();
  logLines.length = 0;
});

afterEach(async () => {
  await dropPrefix(keyPrefix);
});

afterAll(async () => {
  await server.stop();
  await dispatcher.close();
  await Promise.all([redisA.quit(), redisB.quit()]);
  await rm(workDir, { recursive: true, force: true });
});

describe('AdCreative JWTs', () => {
  it('issues one JWT and shares it between clients on different Redis connections', async () => {
    onProgress(() => [progressEntry(processId)]);
    const a = client(redisA);
    const b = client(redisB);
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).progress('photoshoot', processId)));
    await b.progress('photoshoot', processId);

    expect(server.to(paths.generateJwt)).toHaveLength(1);
    const [generate] = server.to(paths.generateJwt);
    expect(generate?.headers['content-type']).toBe('application/json; x-api-version=1.0');
    expect(generate?.headers.accept).toBe('application/json');
    expect(JSON.parse(generate?.body.toString() ?? '')).toEqual({
      applicationId: credentials.applicationId,
      jwtPrivateKey: credentials.jwtPrivateKey,
    });
    expect(server.features()).toHaveLength(11);
    for (const request of server.features()) expect(request.headers.authorization).toBe('Bearer jwt-1');
    // The TTL comes from accessTokenExpiration (1 h, no offset = UTC), not a fixed lifetime.
    const ttl = await redisA.pttl(accessKey());
    expect(ttl).toBeGreaterThan(hour - 10_000);
    expect(ttl).toBeLessThanOrEqual(hour);
  });

  it('renews with the refresh token when less than 5 minutes are left, and generates once no refresh token is left', async () => {
    onProgress(() => [progressEntry(processId)]);
    const c = client();
    await c.progress('photoshoot', processId);
    await redisA.pexpire(accessKey(), 6 * 60_000);
    await c.progress('photoshoot', processId);
    expect(server.to(paths.refreshJwt)).toHaveLength(0);

    await redisA.pexpire(accessKey(), 4 * 60_000);
    await c.progress('photoshoot', processId);
    const [refresh] = server.to(paths.refreshJwt);
    expect(refresh?.headers['content-type']).toBe('application/json; x-api-version=1.0');
    expect(JSON.parse(refresh?.body.toString() ?? '')).toEqual({
      applicationId: credentials.applicationId,
      jwtPrivateKey: credentials.jwtPrivateKey,
      refreshToken: 'refresh-1',
    });
    // The refresh did not rotate the refresh token: the current one stays.
    expect(await redisA.get(`${accessKey()}:refresh`)).toBe('refresh-1');

    await redisA.del(`${accessKey()}:refresh`);
    await redisA.pexpire(accessKey(), 4 * 60_000);
    await c.progress('photoshoot', processId);

    expect(server.features().map((r) => r.headers.authorization)).toEqual([
      'Bearer jwt-1',
      'Bearer jwt-1',
      'Bearer jwt-2',
      'Bearer jwt-3',
    ]);
    expect(server.to(paths.generateJwt)).toHaveLength(2);
    expect(server.to(paths.refreshJwt)).toHaveLength(1);
  });

  it('generates a new JWT when the refresh is refused', async () => {
    onProgress(() => [progressEntry(processId)]);
    server.handlers.set(paths.refreshJwt, () => ({
      status: 400,
      json: standardError(400, { 'business:': ['Invalid refresh token.'] }),
    }));
    const c = client();
    await c.progress('photoshoot', processId);
    await redisA.pexpire(accessKey(), 60_000);
    await c.progress('photoshoot', processId);
    expect(server.to(paths.refreshJwt)).toHaveLength(1);
    expect(server.to(paths.generateJwt)).toHaveLength(2);
    // The refused refresh issued nothing: the second JWT is the fallback's.
    expect(server.features().at(-1)?.headers.authorization).toBe('Bearer jwt-2');
    expect(logLines.join('')).toContain('AdCreative JWT refresh failed; requesting a new JWT');
  });

  it('after a 401 gets one new JWT and retries once', async () => {
    server.handlers.set(paths.photoshoot.checkUserProgress, (_request, n) =>
      n === 1
        ? {
            status: 401,
            json: standardError(401, { 'business:': ['Token is missing, invalid or ApplicationId is not found in the token.'] }),
          }
        : { json: [progressEntry(processId)] },
    );
    const progress = await client().progress('photoshoot', processId);
    expect(progress.done).toBe(true);
    expect(server.features().map((r) => r.headers.authorization)).toEqual(['Bearer jwt-1', 'Bearer jwt-2']);
    expect(server.to(paths.generateJwt).length + server.to(paths.refreshJwt).length).toBe(2);
  });

  it('a second 401 is PROVIDER_AUTH_FAILED after exactly one retry', async () => {
    server.handlers.set(paths.photoshoot.checkUserProgress, () => ({
      status: 401,
      json: standardError(401, { 'business:': ['Token is missing, invalid or ApplicationId is not found in the token.'] }),
    }));
    const err = await failure(client().progress('photoshoot', processId));
    expect(err).toMatchObject({
      code: 'PROVIDER_AUTH_FAILED',
      retryable: false,
      details: { provider: 'adcreative', status: 401 },
    });
    expect(err.message).toContain('Token is missing');
    expect(server.features()).toHaveLength(2);
  });

  it('GenerateJwtToken refusing the credentials is PROVIDER_AUTH_FAILED; the echoed private key is redacted', async () => {
    server.handlers.set(paths.generateJwt, () => ({
      status: 400,
      json: {
        errors: { jwtPrivateKey: [`The value '${credentials.jwtPrivateKey}' is not valid.`] },
        title: 'One or more validation errors occurred.',
        status: 400,
        traceId: '00-ae0c64f2970933d69b2a159253a68fea-9e4a75471688ac32-00',
      },
    }));
    const err = await failure(client().progress('photoshoot', processId));
    expect(err).toMatchObject({ code: 'PROVIDER_AUTH_FAILED', details: { provider: 'adcreative', status: 400 } });
    expect(err.message).toContain('jwtPrivateKey');
    expect(err.message).not.toContain(credentials.jwtPrivateKey);
    expect(server.features()).toHaveLength(0);
    const log = logLines.join('');
    expect(log).toContain('is not valid');
    expect(log).not.toContain(credentials.jwtPrivateKey);
  });
});

describe('AdCreative calls', () => {
  it('recommendations uploads the file intact in a multipart form', async () => {
    server.handlers.set(paths.photoshoot.recommendations, () => ({
      json: {
        productInfo: { productName: 'headphones', productDescription: 'Wireless over-ear headphones.' },
        backgroundRemovedImageAssetId: 'ecc767e4-c107-4492-9826-89756e925425',
        recommendedPrompts: ['on a sleek glass surface'],
        recommendedPresetIds: ['white_background', 'light_grey_background'],
        extraField: 'ignored',
      },
    }));
    const result = await client().recommendations({ path: imagePath, fileName: 'product.png', contentType: 'image/png' });
    expect(result).toEqual({
      productName: 'headphones',
      productDescription: 'Wireless over-ear headphones.',
      backgroundRemovedImageAssetId: 'ecc767e4-c107-4492-9826-89756e925425',
      recommendedPrompts: ['on a sleek glass surface'],
      recommendedPresetIds: ['white_background', 'light_grey_background'],
    });

    const [upload] = server.to(paths.photoshoot.recommendations);
    const contentType = upload?.headers['content-type'] ?? '';
    expect(contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(upload?.headers['content-length']).toBe(String(upload?.body.length));
    const form = await new Response(upload?.body, { headers: { 'content-type': contentType } }).formData();
    expect(form.get('applicationId')).toBe(credentials.applicationId);
    expect(form.get('userId')).toBe(credentials.userId);
    const file = form.get('productImage') as File;
    expect(file.name).toBe('product.png');
    expect(file.type).toBe('image/png');
    expect(Buffer.from(await file.arrayBuffer()).equals(imageBytes)).toBe(true);
  });

  it('startPhotoshoot sends the form with a valid PromptObjectsString and normalises the task map', async () => {
    server.handlers.set(paths.photoshoot.start, () => ({
      json: {
        messageType: 'ImageProductGenerationProgress',
        requestRenderState: 1,
        imageRenderProcessId: processId,
        totalTaskCount: 2,
        completedTaskCount: 0,
        progress: 0,
        tasks: { [taskIds[0] as string]: 1, [taskIds[1] as string]: '1' },
        renderType: 4,
        isSuccessful: false,
        errorMessage: '',
      },
    }));
    const started = await client().startPhotoshoot({
      productImageAssetId: 'ecc767e4-c107-4492-9826-89756e925425',
      prompts: [
        { tag: 'preset', preset: 'white_background' },
        { tag: 'custom', prompt: 'on a "marble" table' },
      ],
      renderKind: 4,
      productName: 'vodka bottle',
      productDescription: 'A clear glass bottle.',
      disableSafeMargin: true,
    });
    expect(started).toEqual({
      processId,
      userId: null,
      requestRenderState: 1,
      totalTaskCount: 2,
      completedTaskCount: 0,
      progress: 0,
      isSuccessful: false,
      errorMessage: null,
      tasks: taskIds.map((taskId) => ({ taskId, renderState: 1, publicImageUrl: null })),
      done: false,
      failed: false,
    });

    const [start] = server.to(paths.photoshoot.start);
    const form = await new Response(start?.body, {
      headers: { 'content-type': start?.headers['content-type'] ?? '' },
    }).formData();
    expect(Object.fromEntries(form)).toEqual({
      applicationId: credentials.applicationId,
      userId: credentials.userId,
      renderKind: '4',
      productImageAssetId: 'ecc767e4-c107-4492-9826-89756e925425',
      PromptObjectsString: expect.any(String),
      productName: 'vodka bottle',
      productDescription: 'A clear glass bottle.',
      DisableSafeMargin: 'true',
    });
    expect(JSON.parse(String(form.get('PromptObjectsString')))).toEqual([
      { tag: 'preset', preset: 'white_background' },
      { tag: 'custom', prompt: 'on a "marble" table', nativeLanguagePrompt: null },
    ]);
  });

  it('startPhotoshoot refuses more than 6 prompts without calling AdCreative', async () => {
    const prompts = Array.from({ length: 7 }, () => ({ tag: 'preset' as const, preset: 'white_background' }));
    const request = { productImageAssetId: 'a', prompts, renderKind: 4, productName: 'p', productDescription: 'd' };
    const err = await failure(client().startPhotoshoot(request));
    expect(err.code).toBe('PROVIDER_REJECTED');
    expect(server.requests).toHaveLength(0);
  });

  it('progress picks the entry of the process and computes done and failed', async () => {
    let entries: unknown[] = [];
    onProgress(() => entries);
    const c = client();

    entries = [progressEntry('another-process'), progressEntry(processId.toUpperCase(), { progress: '100' })];
    const done = await c.progress('photoshoot', processId);
    expect(done).toMatchObject({ processId: processId.toUpperCase(), progress: 100, done: true, failed: false });
    expect(done.tasks[0]).toEqual({
      taskId: taskIds[0],
      renderState: 5,
      publicImageUrl: `https://storage.googleapis.com/adcreative-bucket/images/${taskIds[0]}.png`,
    });
    const [poll] = server.to(paths.photoshoot.checkUserProgress);
    expect(Object.fromEntries(poll?.query ?? [])).toEqual({
      userId: credentials.userId,
      imageProductGeneratorProcessId: processId,
    });

    // An unknown task state is not finished, even at 100 %.
    entries = [progressEntry(processId, { taskUrls: [{ taskId: taskIds[0], renderState: 7, publicImageUrl: null }] })];
    expect(await c.progress('photoshoot', processId)).toMatchObject({ done: false, failed: false });

    entries = [progressEntry(processId, { progress: 40, isSuccessful: 'false', errorMessage: 'Generation failed on GPU' })];
    expect(await c.progress('photoshoot', processId)).toMatchObject({
      done: false,
      failed: true,
      isSuccessful: false,
      errorMessage: 'Generation failed on GPU',
    });

    entries = [progressEntry('another-process')];
    const missing = await failure(c.progress('photoshoot', processId));
    expect(missing.code).toBe('PROVIDER_BAD_RESPONSE');
    expect(missing.message).toContain(processId);

    entries = [progressEntry(processId, { progress: 'soon' })];
    const malformed = await failure(c.progress('photoshoot', processId));
    expect(malformed).toMatchObject({ code: 'PROVIDER_BAD_RESPONSE', details: { provider: 'adcreative' } });
    expect(malformed.message).toContain('progress');
  });

  it('image jobs use their own paths and the imageRenderProcessId parameter', async () => {
    server.handlers.set(paths.faceEnhance.start, () => ({
      json: { imageRenderProcessId: processId, progress: 0, tasks: { [taskIds[0] as string]: 1 }, isSuccessful: false },
    }));
    server.handlers.set(paths.faceEnhance.checkUserProgress, () => ({ json: [progressEntry(processId)] }));
    const c = client();
    const image = { path: imagePath, fileName: 'portrait.jpg', contentType: 'image/jpeg' as const };
    const started = await c.startImageJob('face-enhance', image, { areaRatio: 0.5, maxFaceCount: 3 });
    expect(started).toMatchObject({ processId, totalTaskCount: 1, completedTaskCount: 0, done: false });
    expect((await c.progress('face-enhance', processId)).done).toBe(true);

    const [start] = server.to(paths.faceEnhance.start);
    const form = await new Response(start?.body, {
      headers: { 'content-type': start?.headers['content-type'] ?? '' },
    }).formData();
    expect(form.get('ariaRatio')).toBe('0.5');
    expect(form.get('maxFaceCount')).toBe('3');
    expect(Buffer.from(await (form.get('uploadedImage') as File).arrayBuffer()).equals(imageBytes)).toBe(true);
    const [poll] = server.to(paths.faceEnhance.checkUserProgress);
    expect(Object.fromEntries(poll?.query ?? [])).toEqual({ userId: credentials.userId, imageRenderProcessId: processId });
  });

  it('download streams the image to the destination file', async () => {
    const image = randomBytes(2_000_000);
    server.handlers.set(paths.photoshoot.download, () => ({ raw: image, headers: { 'content-type': 'image/jpeg' } }));
    const dir = await mkdtemp(join(workDir, 'download-'));
    const dest = join(dir, 'result.jpg');
    const result = await client().download('photoshoot', { processId, taskId: taskIds[0] as string, format: 'jpeg' }, dest);
    expect(result).toEqual({ path: dest, bytes: image.length });
    expect((await readFile(dest)).equals(image)).toBe(true);
    expect(await readdir(dir)).toEqual(['result.jpg']);
    const [download] = server.to(paths.photoshoot.download);
    expect(Object.fromEntries(download?.query ?? [])).toEqual({
      applicationId: credentials.applicationId,
      taskId: taskIds[0],
      imageProductGeneratorProcessId: processId,
      lowResolution: 'false',
      format: '1',
    });
  });

  it('a 404 download is PROVIDER_REJECTED with the message, and leaves no file behind', async () => {
    server.handlers.set(paths.upscale.download, () => ({
      status: 404,
      json: standardError(404, {
        'engine: ProductGeneration/Download': ['Image content not found.'],
        'business: ProductGeneration/Download': ['Not found error occurred while getting image content stream'],
      }),
    }));
    const dir = await mkdtemp(join(workDir, 'download-'));
    const err = await failure(
      client().download('upscale', { processId, taskId: taskIds[0] as string, format: 'png' }, join(dir, 'result.png')),
    );
    expect(err).toMatchObject({ code: 'PROVIDER_REJECTED', details: { provider: 'adcreative', status: 404 } });
    expect(err.message).toContain('Image content not found.');
    expect(await readdir(dir)).toEqual([]);
    const [download] = server.to(paths.upscale.download);
    expect(download?.query.get('imageRenderProcessId')).toBe(processId);
    expect(download?.query.get('format')).toBe('0');
  });

  it('sends Bearer, x-api-key, x-api-secret and Accept on every call', async () => {
    server.handlers.set(paths.photoshoot.presetKeys, () => ({
      json: [{ id: 'white_background', previewName: 'White Background', promptText: ', in front of a white background' }],
    }));
    server.handlers.set(paths.photoshoot.recommendations, () => ({ json: { backgroundRemovedImageAssetId: 'asset-1' } }));
    server.handlers.set(paths.backgroundRemove.start, () => ({ json: { imageRenderProcessId: processId, progress: 0 } }));
    server.handlers.set(paths.backgroundRemove.checkUserProgress, () => ({ json: [progressEntry(processId)] }));
    server.handlers.set(paths.backgroundRemove.download, () => ({ raw: Buffer.from('png bytes') }));
    const c = client();
    const image = { path: imagePath, fileName: 'product.png', contentType: 'image/png' as const };
    expect(await c.presetKeys()).toEqual([
      {
        id: 'white_background',
        previewName: 'White Background',
        promptText: ', in front of a white background',
        tags: [],
        categories: [],
        isOldPreset: false,
      },
    ]);
    const recommended = await c.recommendations(image);
    expect(recommended).toMatchObject({ productName: '', recommendedPresetIds: [] });
    await c.startImageJob('background-remove', image);
    await c.progress('background-remove', processId);
    await c.download('background-remove', { processId, taskId: 't', format: 'png' }, join(workDir, 'cutout.png'));

    expect(server.features().map((r) => r.path)).toEqual([
      paths.photoshoot.presetKeys,
      paths.photoshoot.recommendations,
      paths.backgroundRemove.start,
      paths.backgroundRemove.checkUserProgress,
      paths.backgroundRemove.download,
    ]);
    for (const request of server.features()) {
      expect(request.headers).toMatchObject({
        authorization: 'Bearer jwt-1',
        'x-api-key': credentials.apiKey,
        'x-api-secret': credentials.apiSecret,
        accept: 'application/json',
      });
    }
  });
});

describe('AdCreative errors', () => {
  const image = () => ({ path: imagePath, fileName: 'product.png', contentType: 'image/png' as const });

  it('unknown_foreground after "Error while removing background:" is PROVIDER_INPUT_REFUSED', async () => {
    server.handlers.set(paths.photoshoot.recommendations, () => ({
      status: 400,
      raw: `Error while removing background:\n {\n  "errors": [ { "title": "Could not identify foreground in image", "code": "unknown_foreground" } ]\n}`,
    }));
    const err = await failure(client().recommendations(image()));
    expect(err).toMatchObject({
      code: 'PROVIDER_INPUT_REFUSED',
      retryable: false,
      message: 'AdCreative could not identify the foreground in the image (unknown_foreground)',
      details: { provider: 'adcreative', status: 400, problemCodes: ['unknown_foreground'] },
    });
    // The raw body is in the warn log.
    expect(logLines.join('')).toContain('Could not identify foreground in image');
  });

  it('file_too_large inside a standard error message is PROVIDER_INPUT_REFUSED', async () => {
    const embedded = JSON.stringify({
      errors: [{ title: 'File too large', code: 'file_too_large', detail: 'File exceeds limit of 22MB' }],
    });
    server.handlers.set(paths.backgroundRemove.start, () => ({
      status: 500,
      json: standardError(500, { 'engine: BackgroundRemoving/AdCreative': [`Error while removing background: ${embedded}`] }),
    }));
    const err = await failure(client().startImageJob('background-remove', image()));
    expect(err.code).toBe('PROVIDER_INPUT_REFUSED');
    expect(err.message).toBe('AdCreative refused the image as too large (file_too_large): File exceeds limit of 22MB');
  });

  it('a 400 about credits is PROVIDER_NO_CREDITS', async () => {
    server.handlers.set(paths.photoshoot.download, () => ({
      status: 400,
      json: standardError(400, {
        'engine: ProductGeneration/Download': [
          'Error decreasing Api Key Credits for Application e790c565. ErrorMessage: API Key Credits for Application does not exist.',
        ],
        'business: ProductGeneration/Download': ['Bad request error occurred while getting image content stream'],
      }),
    }));
    const err = await failure(
      client().download('photoshoot', { processId, taskId: taskIds[0] as string, format: 'png' }, join(workDir, 'x.png')),
    );
    expect(err).toMatchObject({
      code: 'PROVIDER_NO_CREDITS',
      retryable: false,
      details: { traceId: '00-5593df94b6415482f5d01c65f51de46f-9a0a8bfb206eae96-00' },
    });
  });

  it('a validation error is PROVIDER_REJECTED naming the field, with the top-level traceId', async () => {
    server.handlers.set(paths.photoshoot.recommendations, () => ({
      status: 400,
      json: {
        errors: { productImage: ['The productImage field is required.'] },
        type: 'https://tools.ietf.org/html/rfc9110#section-15.5.1',
        title: 'One or more validation errors occurred.',
        status: 400,
        traceId: '00-1342e34cfbba2b448dcaefe49e0b67d6-a3d4e02dd4b7f122-00',
      },
    }));
    const err = await failure(client().recommendations(image()));
    expect(err).toMatchObject({
      code: 'PROVIDER_REJECTED',
      details: { provider: 'adcreative', status: 400, traceId: '00-1342e34cfbba2b448dcaefe49e0b67d6-a3d4e02dd4b7f122-00' },
    });
    expect(err.message).toContain('productImage The productImage field is required.');
  });

  it('5xx is PROVIDER_SERVER_ERROR, 429 PROVIDER_RATE_LIMITED with Retry-After; neither is retried here', async () => {
    server.handlers.set(paths.photoshoot.start, (_request, n) =>
      n === 1 ? { status: 502, raw: '<html>Bad Gateway</html>' } : { status: 429, headers: { 'retry-after': '7' }, json: {} },
    );
    const request = {
      productImageAssetId: 'a',
      prompts: [{ tag: 'preset' as const, preset: 'p' }],
      renderKind: 4,
      productName: 'p',
      productDescription: 'd',
    };
    const c = client();
    const serverError = await failure(c.startPhotoshoot(request));
    expect(serverError).toMatchObject({ code: 'PROVIDER_SERVER_ERROR', retryable: true, details: { status: 502 } });
    expect(serverError.message).not.toContain('<html>');
    const limited = await failure(c.startPhotoshoot(request));
    expect(limited).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', retryable: true, retryAfterMs: 7000 });
    expect(server.features()).toHaveLength(2);
  });

  it('a call past its deadline is PROVIDER_TIMEOUT', async () => {
    server.handlers.set(paths.photoshoot.checkUserProgress, () => ({ json: [progressEntry(processId)], delayMs: 1500 }));
    const c = client(redisA, config({ requestTimeoutMs: 300 }));
    const started = performance.now();
    const err = await failure(c.progress('photoshoot', processId));
    expect(err).toMatchObject({ code: 'PROVIDER_TIMEOUT', retryable: true, details: { provider: 'adcreative' } });
    expect(performance.now() - started).toBeLessThan(1200);
  });

  it('a dropped connection is PROVIDER_NETWORK; a caller abort rejects with its own reason', async () => {
    server.handlers.set(paths.photoshoot.checkUserProgress, () => ({ destroy: true }));
    const c = client();
    const err = await failure(c.progress('photoshoot', processId));
    expect(err).toMatchObject({ code: 'PROVIDER_NETWORK', retryable: true });

    server.handlers.set(paths.photoshoot.checkUserProgress, () => ({ json: [], delayMs: 1000 }));
    const reason = new Error('cycle cancelled');
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 100);
    await expect(c.progress('photoshoot', processId, controller.signal)).rejects.toBe(reason);
  });

  it('a 2xx body that is not JSON is PROVIDER_BAD_RESPONSE', async () => {
    server.handlers.set(paths.upscale.start, () => ({ raw: 'OK' }));
    const err = await failure(client().startImageJob('upscale', image()));
    expect(err).toMatchObject({ code: 'PROVIDER_BAD_RESPONSE', retryable: false });
    expect(err.message).toContain('not JSON');
  });

  it('never logs credentials or tokens', async () => {
    server.handlers.set(paths.photoshoot.checkUserProgress, (_request, n) =>
      n === 1
        ? { status: 401, json: standardError(401, { 'business:': [`bad key ${credentials.apiKey}`] }) }
        : { status: 500, raw: `secret echo ${credentials.apiSecret}` },
    );
    const err = await failure(client().progress('photoshoot', processId));
    expect(err.code).toBe('PROVIDER_SERVER_ERROR');
    expect(err.message).toContain('[Redacted]');
    const log = logLines.join('');
    expect(log).toContain('AdCreative error response');
    expect(log).toContain('AdCreative JWT obtained');
    for (const secret of [...secretValues, 'jwt-1', 'jwt-2', 'refresh-1']) {
      expect(log).not.toContain(secret);
      expect(err.message).not.toContain(secret);
    }
  });
});
