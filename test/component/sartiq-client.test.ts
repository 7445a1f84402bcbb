/**
 * SartiqClient and SartiqTokenStore against the real Redis and a loopback Sartiq (node:http): the
 * Backend API under /api/v1, a presigned-upload storage under /r2 and a public CDN under /cdn. The
 * server records every request and answers what each test sets.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/errors.ts';
import { SartiqClient, type SartiqGenerationKind, sartiqGenerationKindPaths } from '../../src/providers/sartiq/client.ts';
import {
  defaultSartiqLostStarts,
  defaultSartiqStatuses,
  defaultSartiqUploadFields,
  type SartiqConfig,
  sartiqPaths,
} from '../../src/providers/sartiq/config.ts';
import { type SartiqCredentials, SartiqTokenStore } from '../../src/providers/sartiq/token-store.ts';
import { StartClaims } from '../../src/providers/start-claims.ts';
import { capturedLogger } from '../helpers/captured-logger.ts';
import { loopbackResults } from '../helpers/loopback-results.ts';
import { dropPrefix, redisUrl } from '../helpers/redis.ts';
import { type Answer, type Handler, type Recorded, ScriptedServer } from '../helpers/scripted-server.ts';

const api = '/api/v1';
const organizationId = '0b9f2a7e-3c41-4d5a-9e8f-1a2b3c4d5e6f';
const credentials: SartiqCredentials = {
  email: 'studio-a@example.com',
  password: 'pa55-w0rd-&-secret+value',
  organizationId,
};
const personal: SartiqCredentials = { email: credentials.email, password: credentials.password };
const generationId = '3fffafb8-e32f-4b52-9cca-4780fcfdb814';
const hour = 3_600_000;

/** A loopback Sartiq: the login answers by default, everything else as each test sets. */
class FakeSartiq extends ScriptedServer {
  #issued = 0;

  constructor() {
    super({ notFound: { status: 404, json: { detail: 'Not Found' } } });
  }

  override reset(): void {
    super.reset();
    this.#issued = 0;
    this.handlers.set(api + sartiqPaths.login, () => ({
      json: { access_token: `tok-${++this.#issued}`, token_type: 'bearer', expires_in: 3600 },
    }));
  }

  /** Sets the handler of an API path (relative to /api/v1). */
  override on(path: string, handler: Handler): void {
    super.on(api + path, handler);
  }

  logins(): Recorded[] {
    return this.to(api + sartiqPaths.login);
  }

  /** Requests to the API other than the login. */
  calls(): Recorded[] {
    return this.requests.filter((r) => r.path.startsWith(api) && r.path !== api + sartiqPaths.login);
  }
}

/** A PredictionPublic as the docs show it, with overrides. */
function prediction(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    seed: 0,
    status: 'pending',
    result_image_url: null,
    result_video_url: null,
    duration_seconds: null,
    favourite: true,
    error_message: null,
    error_category: null,
    id: randomUUID(),
    created_at: '2022-04-13T15:42:05.901Z',
    updated_at: '2022-04-13T15:42:05.901Z',
    generation_id: generationId,
    shot_type: null,
    refines: [],
    result_image_media: null,
    result_video_media: null,
    refined_image_url: null,
    ...overrides,
  };
}

/** A GenerationPublic as the docs show it, with overrides. */
function generation(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: generationId,
    created_at: '2022-04-13T15:42:05.901Z',
    updated_at: '2022-04-13T15:42:05.901Z',
    batch_size: 1,
    status: 'PENDING',
    width: 0,
    height: 0,
    steps: 0,
    seed: 0,
    refine: true,
    predictions: [prediction()],
    owner_id: 'ccab3622-83f2-462a-bb4b-b87e04dbadeb',
    generation_type: 'BASE',
    generation_strategy: 'GENERATE',
    tool: null,
    organization_id: organizationId,
    some_future_field: { nested: true },
    ...overrides,
  };
}

const server = new FakeSartiq();
const dispatcher = new Agent();
const results = loopbackResults();
const redisA = new Redis(redisUrl, { connectionName: 'sartiq-test-a' });
const redisB = new Redis(redisUrl, { connectionName: 'sartiq-test-b' });
const { logger, lines: logLines } = capturedLogger();
let baseUrl = '';
let keyPrefix = '';
let workDir = '';
let imagePath = '';
const imageBytes = randomBytes(700_000);

function config(overrides: Partial<SartiqConfig> = {}): SartiqConfig {
  return {
    baseUrl,
    requestTimeoutMs: 2000,
    uploadFields: defaultSartiqUploadFields,
    statuses: defaultSartiqStatuses,
    lostStarts: defaultSartiqLostStarts,
    ...overrides,
  };
}

function client(options: { redis?: Redis; cfg?: SartiqConfig; creds?: SartiqCredentials } = {}): SartiqClient {
  const cfg = options.cfg ?? config();
  const tokens = new SartiqTokenStore({
    redis: options.redis ?? redisA,
    config: cfg,
    logger,
    dispatcher,
    keyPrefix,
    pollIntervalMs: 20,
  });
  return new SartiqClient({
    connectionId: 'studio-a',
    credentials: options.creds ?? credentials,
    config: cfg,
    tokens,
    claims: new StartClaims({ redis: options.redis ?? redisA, keyPrefix: `${keyPrefix}:claims` }),
    dispatcher,
    results,
    logger,
  });
}

/** The Redis hash of the access token of connection studio-a. */
const tokenKey = () => `${keyPrefix}:studio-a`;

/** Awaits a rejection and returns the ConnectorError. */
async function failure(promise: Promise<unknown>): Promise<ConnectorError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectorError);
  return err as ConnectorError;
}

const generationPath = `/generations/${generationId}`;

beforeAll(async () => {
  await server.start();
  baseUrl = `${server.origin}${api}`;
  workDir = await mkdtemp(join(tmpdir(), 'sartiq-test-'));
  imagePath = join(workDir, 'product.jpg');
  await writeFile(imagePath, imageBytes);
});

beforeEach(() => {
  keyPrefix = `{cfc-test-sartiq-${randomUUID()}}:sartiq-token`;
  server.reset();
  logLines.length = 0;
});

afterEach(async () => {
  await dropPrefix(keyPrefix);
});

afterAll(async () => {
  await server.stop();
  await dispatcher.close();
  await results.dispatcher.close();
  await Promise.all([redisA.quit(), redisB.quit()]);
  await rm(workDir, { recursive: true, force: true });
});

describe('Sartiq tokens', () => {
  it('logs in once (password grant) and shares the token between clients on different Redis connections', async () => {
    server.on(generationPath, () => ({ json: generation() }));
    const a = client({ redis: redisA });
    const b = client({ redis: redisB });
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).getGeneration(generationId)));
    await b.getGeneration(generationId);

    expect(server.logins()).toHaveLength(1);
    const [login] = server.logins();
    expect(login?.method).toBe('POST');
    expect(login?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(login?.headers.authorization).toBeUndefined();
    expect(Object.fromEntries(new URLSearchParams(login?.body.toString()))).toEqual({
      username: credentials.email,
      password: credentials.password,
      grant_type: 'password',
    });
    expect(server.calls()).toHaveLength(11);
    for (const call of server.calls()) expect(call.headers.authorization).toBe('Bearer tok-1');
    // Cached for expires_in (1 h), less the time the login took.
    const ttl = await redisA.pttl(tokenKey());
    expect(ttl).toBeGreaterThan(hour - 10_000);
    expect(ttl).toBeLessThanOrEqual(hour);
  });

  it('logs in again before the hour is over (less than 5 minutes left)', async () => {
    server.on(generationPath, () => ({ json: generation() }));
    const c = client();
    await c.getGeneration(generationId);
    await redisA.pexpire(tokenKey(), 6 * 60_000);
    await c.getGeneration(generationId);
    expect(server.logins()).toHaveLength(1);
    await redisA.pexpire(tokenKey(), 4 * 60_000);
    await c.getGeneration(generationId);
    expect(server.logins()).toHaveLength(2);
    expect(server.calls().map((r) => r.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2']);
  });

  it('after a 401 "Could not validate credentials" logs in again and retries once', async () => {
    server.on(generationPath, (_request, n) =>
      n === 1 ? { status: 401, json: { detail: 'Could not validate credentials' } } : { json: generation() },
    );
    const result = await client().getGeneration(generationId);
    expect(result.id).toBe(generationId);
    expect(server.calls().map((r) => r.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    expect(server.logins()).toHaveLength(2);
    expect(await redisA.hget(tokenKey(), 'token')).toBe('tok-2');
  });

  it('a second 401 is PROVIDER_AUTH_FAILED after exactly one retry', async () => {
    server.on(generationPath, () => ({ status: 401, json: { detail: 'Could not validate credentials' } }));
    const err = await failure(client().getGeneration(generationId));
    expect(err).toMatchObject({
      code: 'PROVIDER_AUTH_FAILED',
      retryable: false,
      details: { provider: 'sartiq', status: 401, method: 'GET', path: generationPath },
    });
    expect(err.message).toContain('Could not validate credentials');
    expect(server.calls()).toHaveLength(2);
    expect(server.logins()).toHaveLength(2);
  });

  it('a refused login ("Incorrect email or password") is PROVIDER_AUTH_FAILED; the password is never logged', async () => {
    server.on(sartiqPaths.login, () => ({ status: 401, json: { detail: 'Incorrect email or password' } }));
    const err = await failure(client().getGeneration(generationId));
    expect(err).toMatchObject({
      code: 'PROVIDER_AUTH_FAILED',
      retryable: false,
      details: { provider: 'sartiq', status: 401, path: sartiqPaths.login },
    });
    expect(err.message).toContain('Incorrect email or password');
    expect(server.calls()).toHaveLength(0);

    // A validation error echoing the password: redacted in the message and the log.
    server.on(sartiqPaths.login, () => ({
      status: 422,
      json: { detail: [{ loc: ['body', 'password'], msg: 'Invalid value', type: 'value_error', input: credentials.password }] },
    }));
    await redisA.del(`${tokenKey()}:failure`);
    const echoed = await failure(client().getGeneration(generationId));
    expect(echoed.code).toBe('PROVIDER_AUTH_FAILED');
    expect(echoed.message).toContain('body.password: Invalid value');
    const log = logLines.join('');
    expect(log).toContain('Sartiq error response');
    expect(log).toContain('[Redacted]');
    expect(log).not.toContain(credentials.password);
  });
});

describe('Sartiq calls', () => {
  it('uploadImage: presigned URL with Bearer, then the PUT streams the exact bytes with Content-Length and no Authorization', async () => {
    const uploadPath = '/r2/temp/8d1c_1700000000_product.jpg';
    const fileUrl = 'https://cdn.sartiq.com/temp/8d1c_1700000000_product.jpg';
    server.on(sartiqPaths.presigned, () => ({
      json: {
        upload_url: `${server.origin}${uploadPath}?X-Amz-Signature=abc123&X-Amz-Expires=900`,
        file_url: fileUrl,
        expires_in_seconds: 900,
      },
    }));
    server.handlers.set(uploadPath, () => ({ status: 200, raw: '' }));

    const result = await client().uploadImage({ path: imagePath, fileName: 'product.jpg', contentType: 'image/jpeg' });
    expect(result).toEqual({ fileUrl });

    const [presigned] = server.to(api + sartiqPaths.presigned);
    expect(presigned?.method).toBe('POST');
    expect(presigned?.headers.authorization).toBe('Bearer tok-1');
    expect(presigned?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(presigned?.body.toString() ?? '')).toEqual({ filename: 'product.jpg', content_type: 'image/jpeg' });
    // Not a generation call: no organization_id.
    expect(presigned?.query.has('organization_id')).toBe(false);

    const [put] = server.to(uploadPath);
    expect(put?.method).toBe('PUT');
    expect(put?.query.get('X-Amz-Signature')).toBe('abc123');
    expect(put?.headers.authorization).toBeUndefined();
    expect(put?.headers['content-length']).toBe(String(imageBytes.length));
    expect(put?.headers['transfer-encoding']).toBeUndefined();
    expect(put?.headers['content-type']).toBe('image/jpeg');
    expect(put?.body.equals(imageBytes)).toBe(true);
    expect(logLines.join('')).not.toContain('abc123');
  });

  it('uploadImage: a refused PUT is PROVIDER_REJECTED naming the S3 code, without the signature', async () => {
    const uploadPath = '/r2/temp/refused.jpg';
    server.on(sartiqPaths.presigned, () => ({
      json: { upload_url: `${server.origin}${uploadPath}?X-Amz-Signature=sig-777`, file_url: 'https://cdn/x.jpg' },
    }));
    server.handlers.set(uploadPath, () => ({
      status: 403,
      raw: '<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><Message>The signature does not match</Message></Error>',
      headers: { 'content-type': 'application/xml' },
    }));
    const err = await failure(client().uploadImage({ path: imagePath, fileName: 'refused.jpg', contentType: 'image/jpeg' }));
    expect(err).toMatchObject({
      code: 'PROVIDER_REJECTED',
      details: { provider: 'sartiq', method: 'PUT', status: 403, s3Code: 'SignatureDoesNotMatch' },
    });
    expect(err.message).toContain('SignatureDoesNotMatch');
    expect(err.message).not.toContain('sig-777');
    expect(JSON.stringify(err.details)).not.toContain('sig-777');
    expect(server.to(uploadPath)).toHaveLength(1);
  });

  it('uploadImage names the presigned-upload body fields as configured (the body is undocumented)', async () => {
    const uploadPath = '/r2/temp/configured.jpg';
    server.on(sartiqPaths.presigned, () => ({
      json: { upload_url: `${server.origin}${uploadPath}`, file_url: 'https://cdn/c.jpg' },
    }));
    server.handlers.set(uploadPath, () => ({ status: 200, raw: '' }));
    const cfg = config({ uploadFields: { fileName: 'name', contentType: 'mime_type' } });
    await client({ cfg }).uploadImage({ path: imagePath, fileName: 'configured.jpg', contentType: 'image/jpeg' });
    const [presigned] = server.to(api + sartiqPaths.presigned);
    expect(JSON.parse(presigned?.body.toString() ?? '')).toEqual({ name: 'configured.jpg', mime_type: 'image/jpeg' });
  });

  it('uploadImage: a presigned answer without upload_url is PROVIDER_BAD_RESPONSE naming the field', async () => {
    server.on(sartiqPaths.presigned, () => ({ json: { file_url: 'https://cdn/x.jpg' } }));
    const err = await failure(client().uploadImage({ path: imagePath, fileName: 'x.jpg', contentType: 'image/jpeg' }));
    expect(err).toMatchObject({ code: 'PROVIDER_BAD_RESPONSE', retryable: false, details: { provider: 'sartiq', status: 200 } });
    expect(err.message).toContain('upload_url');
  });

  it('createGeneration posts the JSON body to the path of its kind with organization_id in the query', async () => {
    const kinds = Object.keys(sartiqGenerationKindPaths) as SartiqGenerationKind[];
    for (const kind of kinds) server.on(sartiqGenerationKindPaths[kind], () => ({ status: 201, json: generation() }));
    const c = client();
    const body = { base_img_path: 'https://cdn.sartiq.com/temp/a.jpg', batch_size: 2, extra: { nested: [1, 2] } };
    for (const kind of kinds) {
      const created = await c.createGeneration(kind, body);
      expect(created.id).toBe(generationId);
    }
    expect(server.calls().map((r) => r.path)).toEqual([
      `${api}/generations/`,
      `${api}/generations/agentic`,
      `${api}/generations/edits`,
      `${api}/generations/background-fix`,
      `${api}/generations/image-adjuster`,
      `${api}/generations/face-fixer`,
      `${api}/generations/videos`,
    ]);
    for (const call of server.calls()) {
      expect(call.method).toBe('POST');
      expect(Object.fromEntries(call.query)).toEqual({ organization_id: organizationId });
      expect(call.headers.authorization).toBe('Bearer tok-1');
      expect(call.headers['content-type']).toBe('application/json');
      expect(call.headers.accept).toBe('application/json');
      expect(JSON.parse(call.body.toString())).toEqual(body);
    }
  });

  it('without an organization no organization_id is sent; getGeneration uses the id path', async () => {
    server.on(sartiqPaths.generations, () => ({ json: generation() }));
    server.on(generationPath, () => ({ json: generation() }));
    const c = client({ creds: personal });
    await c.createGeneration('generate', { product_id: 'p1' });
    await c.getGeneration(generationId);
    expect(server.calls().map((r) => [r.method, r.path, r.query.toString()])).toEqual([
      ['POST', `${api}/generations/`, ''],
      ['GET', `${api}${generationPath}`, ''],
    ]);
    expect(server.calls()[1]?.body.length).toBe(0);
    expect(server.calls()[1]?.headers['content-type']).toBeUndefined();

    await client().getGeneration(generationId);
    expect(server.calls()[2]?.query.get('organization_id')).toBe(organizationId);
  });

  it('agentic answers keep the orchestration shot and estimate', async () => {
    server.on(sartiqPaths.agentic, () => ({
      json: generation({
        generation_type: 'AGENTIC',
        orchestration_shot_id: 'b1d2c3e4-0000-4000-8000-000000000001',
        orchestration_status: 'processing',
        estimated_completion_time: 95,
      }),
    }));
    const created = await client().createGeneration('agentic', { shot_type: 'front_full_body', max_attempts: 3 });
    expect(created).toMatchObject({
      generationType: 'AGENTIC',
      orchestrationShotId: 'b1d2c3e4-0000-4000-8000-000000000001',
      estimatedCompletionTimeS: 95,
      terminal: false,
    });
  });

  it('listGenerations asks for what was created since, page by page, newest first, with the fields as sent', async () => {
    const since = Date.parse('2026-05-01T10:00:00.000Z');
    const at = (s: number) => new Date(since + s * 1000).toISOString();
    const page = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => generation({ id: `g-${from + i}`, created_at: at(500 - from - i) }));
    server.on(sartiqPaths.listGenerations, (request) => {
      const skip = Number(request.query.get('skip'));
      return { json: { data: skip === 0 ? page(0, 100) : page(100, 3), count: 103 } };
    });
    const listed = await client().listGenerations(since);
    expect(listed.map((l) => l.generation.id)).toEqual(Array.from({ length: 103 }, (_, i) => `g-${i}`));
    expect(listed[0]?.generation.createdAt).toBe(since + 500_000);
    expect(listed[0]?.fields.owner_id).toBe('ccab3622-83f2-462a-bb4b-b87e04dbadeb');
    const calls = server.to(api + sartiqPaths.listGenerations);
    expect(calls.map((c) => [c.method, Object.fromEntries(c.query)])).toEqual([
      ['GET', { created_at_from: '2026-05-01T10:00:00.000Z', skip: '0', limit: '100', organization_id: organizationId }],
      ['GET', { created_at_from: '2026-05-01T10:00:00.000Z', skip: '100', limit: '100', organization_id: organizationId }],
    ]);
  });

  it('listGenerations stops at a generation older than asked, should the filter not apply, and refuses a bad entry', async () => {
    const since = Date.parse('2026-05-01T10:00:00.000Z');
    const old = new Date(since - 1000).toISOString();
    server.on(sartiqPaths.listGenerations, () => ({
      json: { data: Array.from({ length: 100 }, (_, i) => generation({ id: `g-${i}`, created_at: old })), count: 5000 },
    }));
    expect(await client().listGenerations(since)).toHaveLength(100);
    expect(server.to(api + sartiqPaths.listGenerations)).toHaveLength(1);
    server.on(sartiqPaths.listGenerations, () => ({ json: { data: [{ created_at: old }], count: 1 } }));
    await expect(client().listGenerations(since)).rejects.toMatchObject({ code: 'PROVIDER_BAD_RESPONSE' });
  });

  it('createRefines returns the generations, the refines and one line per failure', async () => {
    server.on(sartiqPaths.refines, () => ({
      json: {
        total_success: 2,
        total_failed: 2,
        generations: [generation({ status: 'pending', generation_strategy: 'REFINE' })],
        refines: [{ id: 'r-1', prediction_id: 'p-9', status: 'PENDING', result_image_url: null }],
        failed_uploads: [{ index: 1, url: 'https://cdn.sartiq.com/temp/b.jpg?sig=s3cr3t', error: 'not found' }],
        failed_refines: [{ prediction_id: 'p-8', error: { reason: 'quota' } }],
      },
    }));
    const result = await client().createRefines({ base_image_urls: ['a', 'b'], prediction_ids: ['p-9', 'p-8'], scale_factor: 2 });
    expect(result.generations.map((g) => [g.id, g.generationStrategy, g.terminal])).toEqual([[generationId, 'REFINE', false]]);
    expect(result.refines).toEqual([
      {
        id: 'r-1',
        predictionId: 'p-9',
        status: 'PENDING',
        terminal: false,
        failed: false,
        resultImageUrl: null,
        errorMessage: null,
        errorCategory: null,
        createdAt: null,
      },
    ]);
    expect(result.failed).toEqual([
      'upload 1 (https://cdn.sartiq.com/temp/b.jpg): not found',
      'prediction p-8: {"reason":"quota"}',
    ]);
    const [call] = server.calls();
    expect(call?.path).toBe(api + sartiqPaths.refines);
    expect(call?.query.get('organization_id')).toBe(organizationId);
    expect(JSON.parse(call?.body.toString() ?? '')).toEqual({
      base_image_urls: ['a', 'b'],
      prediction_ids: ['p-9', 'p-8'],
      scale_factor: 2,
    });

    // The documented example: refines null, failure entries empty objects.
    server.on(sartiqPaths.refines, () => ({
      json: { total_success: 0, total_failed: 0, generations: [], refines: null, failed_uploads: [{}], failed_refines: [{}] },
    }));
    expect(await client().createRefines({ prediction_ids: [] })).toEqual({
      generations: [],
      refines: [],
      failed: ['upload ? (?): ?', 'prediction ?: ?'],
    });
  });
});

describe('Sartiq generation status', () => {
  async function parsed(body: Record<string, unknown>) {
    server.on(generationPath, () => ({ json: body }));
    return client().getGeneration(generationId);
  }

  it('compares statuses case-insensitively; unknown values are not terminal', async () => {
    const done = await parsed(
      generation({
        status: 'processing',
        predictions: [
          prediction({ status: 'COMPLETED', result_image_url: 'https://cdn/a.png' }),
          prediction({ status: 'Error' }),
        ],
      }),
    );
    expect(done.terminal).toBe(true);
    expect(done.failed).toBe(false);
    expect(done.predictions.map((p) => [p.status, p.terminal, p.failed])).toEqual([
      ['COMPLETED', true, false],
      ['Error', true, true],
    ]);

    const unknown = await parsed(
      generation({
        status: 'PROCESSING',
        predictions: [prediction({ status: 'completed' }), prediction({ status: 'upscaling' })],
      }),
    );
    expect(unknown.terminal).toBe(false);
    expect(unknown.predictions[1]).toMatchObject({ status: 'upscaling', terminal: false, failed: false });

    const generating = await parsed(generation({ status: 'Processing', predictions: [prediction({ status: 'GENERATING' })] }));
    expect(generating.terminal).toBe(false);

    // No predictions yet: not terminal while the generation is pending; missing statuses take the documented defaults.
    const empty = await parsed(generation({ status: undefined, predictions: [] }));
    expect(empty).toMatchObject({ status: 'PENDING', terminal: false, failed: false, predictions: [] });
    const defaulted = await parsed(generation({ predictions: [prediction({ status: null })] }));
    expect(defaulted.predictions[0]).toMatchObject({ status: 'pending', terminal: false });

    // The generation status alone ends it, in either case.
    expect(await parsed(generation({ status: 'completed', predictions: [prediction({ status: 'pending' })] }))).toMatchObject({
      terminal: true,
      failed: false,
    });
    expect(await parsed(generation({ status: 'FAILED', predictions: [] }))).toMatchObject({ terminal: true, failed: true });
    // Every prediction failed: terminal and failed.
    expect(
      await parsed(
        generation({ status: 'PROCESSING', predictions: [prediction({ status: 'failed' }), prediction({ status: 'ERROR' })] }),
      ),
    ).toMatchObject({ terminal: true, failed: true });
  });

  it('resultImageUrl falls back to result_image_media.url; extra fields are ignored', async () => {
    const result = await parsed(
      generation({
        status: 'COMPLETED',
        predictions: [
          prediction({
            id: 'p-1',
            status: 'completed',
            result_image_url: null,
            result_image_media: { url: 'https://cdn.sartiq.com/media/r1/file.png', width: 1024, height: 1536, extension: 'png' },
            shot_type: 'front_full_body',
          }),
          prediction({
            id: 'p-2',
            status: 'completed',
            result_image_url: 'https://cdn.sartiq.com/media/r2/direct.jpg',
            result_image_media: { url: 'https://cdn.sartiq.com/media/r2/file.png' },
            result_video_media: { url: 'https://cdn.sartiq.com/media/v2/file.mp4' },
          }),
          prediction({ id: 'p-3', status: 'error', error_message: 'NSFW content detected', error_category: 'CONTENT_POLICY' }),
        ],
      }),
    );
    expect(result.predictions).toEqual([
      {
        id: 'p-1',
        status: 'completed',
        terminal: true,
        failed: false,
        resultImageUrl: 'https://cdn.sartiq.com/media/r1/file.png',
        resultVideoUrl: null,
        refinedImageUrl: null,
        refines: [],
        errorMessage: null,
        errorCategory: null,
        shotType: 'front_full_body',
      },
      {
        id: 'p-2',
        status: 'completed',
        terminal: true,
        failed: false,
        resultImageUrl: 'https://cdn.sartiq.com/media/r2/direct.jpg',
        resultVideoUrl: 'https://cdn.sartiq.com/media/v2/file.mp4',
        refinedImageUrl: null,
        refines: [],
        errorMessage: null,
        errorCategory: null,
        shotType: null,
      },
      {
        id: 'p-3',
        status: 'error',
        terminal: true,
        failed: true,
        resultImageUrl: null,
        resultVideoUrl: null,
        refinedImageUrl: null,
        refines: [],
        errorMessage: 'NSFW content detected',
        errorCategory: 'CONTENT_POLICY',
        shotType: null,
      },
    ]);
    expect(result).toMatchObject({ id: generationId, status: 'COMPLETED', terminal: true, organizationId, batchSize: 1 });
    expect(result).not.toHaveProperty('some_future_field');
  });

  it('a generation of the wrong shape is PROVIDER_BAD_RESPONSE naming the field', async () => {
    server.on(generationPath, () => ({ json: generation({ predictions: [prediction({ id: undefined })] }) }));
    const err = await failure(client().getGeneration(generationId));
    expect(err).toMatchObject({ code: 'PROVIDER_BAD_RESPONSE', retryable: false, details: { provider: 'sartiq' } });
    expect(err.message).toContain('predictions.0.id');

    server.on(generationPath, () => ({ raw: 'OK' }));
    const notJson = await failure(client().getGeneration(generationId));
    expect(notJson.code).toBe('PROVIDER_BAD_RESPONSE');
    expect(notJson.message).toContain('not JSON');
  });
});

describe('Sartiq status words, refines and agentic runs', () => {
  it('reads statuses with the configured words; with the defaults the same words are not finished', async () => {
    const body = generation({
      status: 'RUNNING',
      predictions: [
        prediction({ status: 'Done', result_image_url: 'https://cdn/a.png' }),
        prediction({ status: 'broken' }),
        prediction({ status: 'completed', refines: [{ id: 'r-1', status: 'finished' }] }),
      ],
    });
    server.on(generationPath, () => ({ json: body }));
    const words = {
      ...defaultSartiqStatuses,
      prediction: { completed: ['done', 'completed'], failed: ['broken'] },
      refine: { completed: ['finished'], failed: ['lost'] },
      generation: { completed: ['ALL_DONE'], failed: ['GAVE_UP'] },
    };
    const configured = await client({ cfg: config({ statuses: words }) }).getGeneration(generationId);
    expect(configured.predictions.map((p) => [p.status, p.terminal, p.failed])).toEqual([
      ['Done', true, false],
      ['broken', true, true],
      ['completed', true, false],
    ]);
    expect(configured.predictions[2]?.refines).toEqual([expect.objectContaining({ id: 'r-1', terminal: true, failed: false })]);
    expect(configured).toMatchObject({ terminal: true, failed: false });

    const defaults = await client().getGeneration(generationId);
    expect(defaults.predictions.map((p) => p.terminal)).toEqual([false, false, true]);
    expect(defaults.predictions[2]?.refines[0]).toMatchObject({ terminal: false });
    expect(defaults.terminal).toBe(false);

    server.on(generationPath, () => ({ json: generation({ status: 'gave_up', predictions: [prediction()] }) }));
    expect(await client({ cfg: config({ statuses: words }) }).getGeneration(generationId)).toMatchObject({
      terminal: true,
      failed: true,
    });
  });

  it("reads a prediction's refines and refined_image_url", async () => {
    server.on(generationPath, () => ({
      json: generation({
        predictions: [
          prediction({
            status: 'completed',
            result_image_url: 'https://cdn/raw.jpg',
            refined_image_url: 'https://cdn/refined.jpg',
            refines: [
              {
                id: 'r-2',
                prediction_id: 'p-1',
                status: 'error',
                result_image_url: null,
                error_message: 'upscaler crashed',
                error_category: 'x',
              },
              { id: 'r-3', prediction_id: 'p-1', status: 'completed', result_image_media: { url: 'https://cdn/refined.jpg' } },
            ],
          }),
        ],
      }),
    }));
    const [p] = (await client().getGeneration(generationId)).predictions;
    expect(p?.refinedImageUrl).toBe('https://cdn/refined.jpg');
    expect(p?.refines).toEqual([
      {
        id: 'r-2',
        predictionId: 'p-1',
        status: 'error',
        terminal: true,
        failed: true,
        resultImageUrl: null,
        errorMessage: 'upscaler crashed',
        errorCategory: 'x',
        createdAt: null,
      },
      {
        id: 'r-3',
        predictionId: 'p-1',
        status: 'completed',
        terminal: true,
        failed: false,
        resultImageUrl: 'https://cdn/refined.jpg',
        errorMessage: null,
        errorCategory: null,
        createdAt: null,
      },
    ]);
  });

  it('getAgenticStatus reads the orchestration of a shot, without organization_id', async () => {
    const shotPath = '/generations/agentic/shot%2F7/status';
    const answer = {
      shot_id: 'shot/7',
      status: 'COMPLETED',
      total_attempts: 2,
      max_attempts: 3,
      current_attempt: 2,
      final_image_url: 'https://cdn/final.jpg',
      best_confidence: 0.84,
      error_message: null,
      started_at: null,
      completed_at: null,
      duration_seconds: 12.5,
      attempts: [
        { attempt_number: 1, image_url: 'https://cdn/one.jpg', evaluation_status: 'failed', confidence_score: 0.4 },
        { attempt_number: 2, image_url: 'https://cdn/final.jpg', evaluation_status: 'passed', confidence_score: 0.84 },
      ],
      orchestration_metadata: {},
    };
    server.on(shotPath, () => ({ json: answer }));
    const status = await client().getAgenticStatus('shot/7');
    expect(status).toEqual({
      shotId: 'shot/7',
      status: 'COMPLETED',
      terminal: true,
      failed: false,
      finalImageUrl: 'https://cdn/final.jpg',
      bestConfidence: 0.84,
      totalAttempts: 2,
      maxAttempts: 3,
      errorMessage: null,
      attempts: [
        {
          attemptNumber: 1,
          imageUrl: 'https://cdn/one.jpg',
          evaluationStatus: 'failed',
          confidenceScore: 0.4,
          errorMessage: null,
        },
        {
          attemptNumber: 2,
          imageUrl: 'https://cdn/final.jpg',
          evaluationStatus: 'passed',
          confidenceScore: 0.84,
          errorMessage: null,
        },
      ],
    });
    const [call] = server.calls();
    expect(call?.method).toBe('GET');
    expect(call?.query.has('organization_id')).toBe(false);
    expect(call?.headers.authorization).toBe('Bearer tok-1');

    server.on(shotPath, () => ({ json: { ...answer, status: 'processing', final_image_url: null } }));
    expect(await client().getAgenticStatus('shot/7')).toMatchObject({ terminal: false, failed: false });
    server.on(shotPath, () => ({ json: { ...answer, status: 'Failed', error_message: 'evaluator down' } }));
    expect(await client().getAgenticStatus('shot/7')).toMatchObject({
      terminal: true,
      failed: true,
      errorMessage: 'evaluator down',
    });
    server.on(shotPath, () => ({ json: { shot_id: 'shot/7' } }));
    const malformed = await failure(client().getAgenticStatus('shot/7'));
    expect(malformed.code).toBe('PROVIDER_BAD_RESPONSE');
    expect(malformed.message).toContain('status');
  });
});

describe('Sartiq downloads', () => {
  it('streams a result to the destination without Authorization', async () => {
    const image = randomBytes(1_500_000);
    server.handlers.set('/cdn/media/r1/file.png', () => ({ raw: image, headers: { 'content-type': 'image/png' } }));
    const dir = await mkdtemp(join(workDir, 'download-'));
    const dest = join(dir, 'result.png');
    const result = await client().download(`${server.origin}/cdn/media/r1/file.png`, dest);
    expect(result).toEqual({ path: dest, bytes: image.length, contentType: 'image/png' });
    expect((await readFile(dest)).equals(image)).toBe(true);
    expect(await readdir(dir)).toEqual(['result.png']);
    const [download] = server.to('/cdn/media/r1/file.png');
    expect(download?.headers.authorization).toBeUndefined();
    // A public URL needs no login either.
    expect(server.logins()).toHaveLength(0);
  });

  it('a generic Content-Type is replaced by the type of the URL extension', async () => {
    server.handlers.set('/cdn/media/v1/file.mp4', () => ({
      raw: Buffer.from('mp4 bytes'),
      headers: { 'content-type': 'application/octet-stream' },
    }));
    const dest = join(workDir, 'clip.mp4');
    const result = await client().download(`${server.origin}/cdn/media/v1/file.mp4`, dest);
    expect(result.contentType).toBe('video/mp4');
  });

  it('a missing result is PROVIDER_SERVER_ERROR (retryable) and leaves no file behind', async () => {
    server.handlers.set('/cdn/media/gone.png', () => ({
      status: 404,
      raw: '<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>',
    }));
    const dir = await mkdtemp(join(workDir, 'download-'));
    const err = await failure(client().download(`${server.origin}/cdn/media/gone.png?token=t0k`, join(dir, 'gone.png')));
    expect(err).toMatchObject({
      code: 'PROVIDER_SERVER_ERROR',
      retryable: true,
      details: { provider: 'sartiq', status: 404, s3Code: 'NoSuchKey' },
    });
    expect(err.message).not.toContain('t0k');
    expect(await readdir(dir)).toEqual([]);
  });

  it('an empty result is PROVIDER_BAD_RESPONSE; a URL that is not http(s) is refused before any request', async () => {
    server.handlers.set('/cdn/media/empty.png', () => ({ raw: '' }));
    const dir = await mkdtemp(join(workDir, 'download-'));
    const empty = await failure(client().download(`${server.origin}/cdn/media/empty.png`, join(dir, 'empty.png')));
    expect(empty.code).toBe('PROVIDER_BAD_RESPONSE');
    expect(await readdir(dir)).toEqual([]);
    const before = server.requests.length;
    const relative = await failure(client().download('media/abc/file.png', join(dir, 'x.png')));
    expect(relative.code).toBe('PROVIDER_BAD_RESPONSE');
    expect(server.requests.length).toBe(before);
  });
});

describe('Sartiq errors', () => {
  it('403 "Not enough permissions" is PROVIDER_AUTH_FAILED without a retry', async () => {
    server.on(generationPath, () => ({ status: 403, json: { detail: 'Not enough permissions' } }));
    const err = await failure(client().getGeneration(generationId));
    expect(err).toMatchObject({ code: 'PROVIDER_AUTH_FAILED', retryable: false, details: { provider: 'sartiq', status: 403 } });
    expect(err.message).toBe(`Sartiq GET ${generationPath} answered 403: Not enough permissions`);
    expect(server.calls()).toHaveLength(1);
    expect(server.logins()).toHaveLength(1);
  });

  it('a 422 validation list is PROVIDER_REJECTED with each field path and message', async () => {
    server.on(sartiqPaths.edits, () => ({
      status: 422,
      json: {
        detail: [
          { loc: ['body', 'base_img_path'], msg: 'Field required', type: 'missing', input: {} },
          { loc: ['query', 'organization_id'], msg: 'Input should be a valid UUID', type: 'uuid_parsing', input: 'x' },
        ],
      },
    }));
    const err = await failure(client().createGeneration('edit', { prompt: 'swap the jacket' }));
    expect(err).toMatchObject({
      code: 'PROVIDER_REJECTED',
      retryable: false,
      details: {
        provider: 'sartiq',
        status: 422,
        method: 'POST',
        path: sartiqPaths.edits,
        fields: [
          { field: 'body.base_img_path', message: 'Field required' },
          { field: 'query.organization_id', message: 'Input should be a valid UUID' },
        ],
      },
    });
    expect(err.message).toBe(
      `Sartiq POST ${sartiqPaths.edits} answered 422: body.base_img_path: Field required; query.organization_id: Input should be a valid UUID`,
    );
    expect(server.calls()).toHaveLength(1);
  });

  it('404 is PROVIDER_REJECTED, 500 PROVIDER_SERVER_ERROR, 429 PROVIDER_RATE_LIMITED with Retry-After; none retried here', async () => {
    server.on(generationPath, (_request, n): Answer => {
      if (n === 1) return { status: 404, json: { detail: 'Generation not found' } };
      if (n === 2) return { status: 500, raw: '<html>Internal Server Error</html>', headers: { 'content-type': 'text/html' } };
      return { status: 429, headers: { 'retry-after': '7' }, json: { detail: 'Too many requests' } };
    });
    const c = client();
    const notFound = await failure(c.getGeneration(generationId));
    expect(notFound).toMatchObject({ code: 'PROVIDER_REJECTED', retryable: false, details: { status: 404 } });
    expect(notFound.message).toContain('Generation not found');
    const serverError = await failure(c.getGeneration(generationId));
    expect(serverError).toMatchObject({
      code: 'PROVIDER_SERVER_ERROR',
      retryable: true,
      details: { provider: 'sartiq', status: 500 },
    });
    expect(serverError.message).not.toContain('<html>');
    const limited = await failure(c.getGeneration(generationId));
    expect(limited).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', retryable: true, retryAfterMs: 7000 });
    expect(server.calls()).toHaveLength(3);
    expect(logLines.join('')).toContain('Internal Server Error');
  });

  it('a call past its deadline is PROVIDER_TIMEOUT', async () => {
    server.on(generationPath, () => ({ json: generation(), delayMs: 1500 }));
    const c = client({ cfg: config({ requestTimeoutMs: 300 }) });
    const started = performance.now();
    const err = await failure(c.getGeneration(generationId));
    expect(err).toMatchObject({
      code: 'PROVIDER_TIMEOUT',
      retryable: true,
      details: { provider: 'sartiq', path: generationPath },
    });
    expect(performance.now() - started).toBeLessThan(1200);
  });

  it('a dropped connection is PROVIDER_NETWORK; a caller abort rejects with its own reason', async () => {
    server.on(generationPath, () => ({ destroy: true }));
    const c = client();
    const err = await failure(c.getGeneration(generationId));
    expect(err).toMatchObject({ code: 'PROVIDER_NETWORK', retryable: true, details: { provider: 'sartiq' } });

    server.on(generationPath, () => ({ json: generation(), delayMs: 1000 }));
    const reason = new Error('cycle cancelled');
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 100);
    await expect(c.getGeneration(generationId, controller.signal)).rejects.toBe(reason);
  });

  it('never logs the password or tokens, even when an error body echoes them', async () => {
    server.on(generationPath, (_request, n) =>
      n === 1
        ? { status: 401, json: { detail: 'Could not validate credentials' } }
        : { status: 500, raw: `crash with tok-2 and ${credentials.password}` },
    );
    const err = await failure(client().getGeneration(generationId));
    expect(err.code).toBe('PROVIDER_SERVER_ERROR');
    expect(err.message).toContain('[Redacted]');
    const log = logLines.join('');
    expect(log).toContain('Sartiq access token obtained');
    expect(log).toContain('Sartiq error response');
    for (const secret of [credentials.password, 'tok-1', 'tok-2']) {
      expect(log).not.toContain(secret);
      expect(err.message).not.toContain(secret);
    }
  });
});
