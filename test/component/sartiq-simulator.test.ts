/**
 * The Sartiq simulator over real HTTP: the OAuth2 password login and the FastAPI 401/403/404/422
 * shapes, the presigned upload round trip and its strict body, generations whose predictions complete
 * over time with real images, injected prediction errors, videos and their metadata, refines,
 * agentic runs with retries, and the inspection API. Images are checked with sharp, independently
 * of the simulator's rendering code.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SartiqSimulator } from '../../src/simulators/sartiq/index.ts';

const predictionDurationMs = 600;
const organizationId = randomUUID();
const account = { email: 'studio@example.com', password: randomBytes(12).toString('hex'), organizationId };

interface Answer {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: unknown;
}

// Loose views of answers, to read fields in assertions.
type Json = Record<string, unknown>;
interface Prediction extends Json {
  id: string;
  status: string;
  result_image_url: string | null;
  result_video_url: string | null;
  error_message: string | null;
  error_category: string | null;
  shot_type: string | null;
  refines: Json[];
  refined_image_url: string | null;
}
interface Generation extends Json {
  id: string;
  status: string;
  batch_size: number;
  predictions: Prediction[];
}
interface Issue {
  type: string;
  loc: (string | number)[];
  msg: string;
}

let sim: SartiqSimulator;
let token: string;

beforeAll(async () => {
  sim = await SartiqSimulator.start({ predictionDurationMs });
  sim.addAccount(account);
  token = await login();
});

afterAll(async () => {
  await sim.close();
});

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url.startsWith('http') ? url : sim.baseUrl + url, { redirect: 'manual', ...init });
  const bytes = Buffer.from(await response.arrayBuffer());
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, bytes, json };
}

function loginCall(fields: Record<string, string>): Promise<Answer> {
  return call('/login/access-token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

async function login(): Promise<string> {
  const answer = await loginCall({ username: account.email, password: account.password, grant_type: 'password' });
  expect(answer.status).toBe(200);
  return (answer.json as Json).access_token as string;
}

function get(path: string, bearer = token): Promise<Answer> {
  return call(path, { headers: { authorization: `Bearer ${bearer}` } });
}

function post(path: string, body: unknown, bearer = token): Promise<Answer> {
  return call(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function upload(fileName: string, data: Buffer, contentType: string): Promise<string> {
  const presigned = await post('/uploads/presigned-url', { filename: fileName, content_type: contentType });
  expect(presigned.status).toBe(200);
  const { upload_url, file_url } = presigned.json as { upload_url: string; file_url: string };
  const put = await call(upload_url, { method: 'PUT', headers: { 'content-type': contentType }, body: new Uint8Array(data) });
  expect(put.status).toBe(200);
  return file_url;
}

async function create(path: string, body: Json): Promise<Generation> {
  const answer = await post(path, body);
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json as Generation;
}

/** Polls the generation until it is COMPLETED or FAILED, noting each count of completed predictions seen; fails after 10 s. */
async function settle(id: string, seen: number[] = []): Promise<Generation> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answer = await get(`/generations/${id}`);
    expect(answer.status).toBe(200);
    const generation = answer.json as Generation;
    const completed = generation.predictions.filter((p) => p.status === 'completed').length;
    if (seen.at(-1) !== completed) seen.push(completed);
    if (generation.status === 'COMPLETED' || generation.status === 'FAILED') return generation;
    if (Date.now() > deadline) throw new Error(`generation ${id} did not settle: ${JSON.stringify(generation)}`);
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
}

function productPhoto(): Promise<Buffer> {
  return sharp({ create: { width: 600, height: 800, channels: 3, background: '#c0392b' } })
    .jpeg()
    .toBuffer();
}

function issues(answer: Answer): Issue[] {
  expect(answer.status).toBe(422);
  return (answer.json as { detail: Issue[] }).detail;
}

describe('authentication', () => {
  it('logs in with the password flow and refuses wrong credentials with 401', async () => {
    const ok = await loginCall({ username: account.email, password: account.password });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 3600 });

    const wrong = await loginCall({ username: account.email, password: 'nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ detail: 'Incorrect email or password' });

    const missing = issues(await loginCall({ username: account.email }));
    expect(missing).toEqual([expect.objectContaining({ type: 'missing', loc: ['body', 'password'], msg: 'Field required' })]);
  });

  it('answers the FastAPI 401 shapes without or with an unknown token', async () => {
    const anonymous = await call('/generations/', { method: 'POST', body: '{}' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.json).toEqual({ detail: 'Not authenticated' });
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');

    const unknown = await get(`/generations/${randomUUID()}`, 'not-a-token');
    expect(unknown.status).toBe(401);
    expect(unknown.json).toEqual({ detail: 'Could not validate credentials' });
  });

  it('expires issued tokens on demand; a new login works again', async () => {
    const before = await login();
    expect((await post('/login/test-token', {}, before)).json).toMatchObject({ email: account.email });
    sim.expireTokens();
    const expired = await get(`/generations/${randomUUID()}`, before);
    expect(expired.status).toBe(401);
    expect(expired.json).toEqual({ detail: 'Could not validate credentials' });
    token = await login();
    expect((await get(`/generations/${randomUUID()}`)).status).toBe(404);
  });
});

describe('uploads', () => {
  it('round-trips a presigned upload and serves it at file_url', async () => {
    const photo = await productPhoto();
    const presigned = await post('/uploads/presigned-url', { filename: 'red dress.jpg', content_type: 'image/jpeg' });
    expect(presigned.status).toBe(200);
    const body = presigned.json as { upload_url: string; file_url: string; expires_in_seconds: number };
    expect(body.expires_in_seconds).toBe(3600);
    expect(new URL(body.file_url).pathname).toMatch(/^\/temp\/[0-9a-f]{32}_\d+_red_dress\.jpg$/);
    expect(new URL(body.upload_url).pathname).toBe(new URL(body.file_url).pathname);

    const tampered = `${body.upload_url.slice(0, -4)}0000`;
    expect((await call(tampered, { method: 'PUT', body: new Uint8Array(photo) })).status).toBe(403);
    expect((await call(body.file_url)).status).toBe(404);

    const uploadsBefore = sim.uploads().length;
    const put = await call(body.upload_url, {
      method: 'PUT',
      headers: { 'content-type': 'image/jpeg' },
      body: new Uint8Array(photo),
    });
    expect(put.status).toBe(200);
    const served = await call(body.file_url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/jpeg');
    expect(served.bytes.equals(photo)).toBe(true);
    expect(sim.uploads().slice(uploadsBefore)).toEqual([
      { fileName: 'red_dress.jpg', contentType: 'image/jpeg', bytes: photo.length },
    ]);
  });

  it('refuses a presigned-upload body other than { filename, content_type }, and a PUT of another type', async () => {
    const issuesOf = async (body: unknown) =>
      issues(await post('/uploads/presigned-url', body)).map((i) => [i.type, i.loc.join('.')]);
    expect(await issuesOf({ filename: 'a.jpg', content_type: 'image/jpeg', extra: 1 })).toEqual([
      ['extra_forbidden', 'body.extra'],
    ]);
    expect(await issuesOf({ file_name: 'a.jpg', content_type: 'image/jpeg' })).toEqual([
      ['extra_forbidden', 'body.file_name'],
      ['missing', 'body.filename'],
    ]);
    expect(await issuesOf({ filename: 'a.jpg' })).toEqual([['missing', 'body.content_type']]);
    expect(await issuesOf({ filename: '', content_type: 'jpeg' })).toEqual([
      ['string_too_short', 'body.filename'],
      ['value_error', 'body.content_type'],
    ]);
    const empty = await call('/uploads/presigned-url', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(issues(empty)).toEqual([expect.objectContaining({ type: 'missing', loc: ['body'] })]);

    const presigned = await post('/uploads/presigned-url', { filename: 'a.png', content_type: 'image/png' });
    const { upload_url } = presigned.json as { upload_url: string };
    const body = new Uint8Array(await productPhoto());
    const wrongType = await call(upload_url, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body });
    expect(wrongType.status).toBe(403);
    expect(wrongType.bytes.toString()).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect((await call(upload_url, { method: 'PUT', headers: { 'content-type': 'image/png' }, body })).status).toBe(200);
  });
});

describe('generations', () => {
  it('completes the predictions of a batch of 4 over time, with real labelled images', async () => {
    const productImage = await upload('dress.jpg', await productPhoto(), 'image/jpeg');
    const countBefore = sim.generationCount();
    const created = await create('/generations/', { product_image: productImage, shot_type: 'front_full_body' });
    expect(created).toMatchObject({
      status: 'PENDING',
      batch_size: 4,
      width: 768,
      height: 1024,
      steps: 20,
      refine: false,
      generation_type: 'BASE',
      generation_strategy: 'GENERATE',
      shot_type_string: 'front_full_body',
      product_image_url: productImage,
      owner_id: expect.any(String),
    });
    expect(created.predictions.map((p) => [p.status, p.result_image_url, p.shot_type])).toEqual(
      Array(4).fill(['pending', null, 'front_full_body']),
    );
    expect(sim.generationCount()).toBe(countBefore + 1);
    expect(sim.generations().at(-1)).toMatchObject({
      id: created.id,
      endpoint: 'generations',
      body: { shot_type: 'front_full_body' },
    });

    const seen: number[] = [];
    const done = await settle(created.id, seen);
    expect(done.status).toBe('COMPLETED');
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    const urls = done.predictions.map((p) => p.result_image_url);
    expect(new Set(urls).size).toBe(4);
    for (const url of urls) {
      const image = await call(url ?? '');
      expect(image.status).toBe(200);
      expect(image.headers.get('content-type')).toBe('image/jpeg');
      const metadata = await sharp(image.bytes).metadata();
      expect([metadata.format, metadata.width, metadata.height]).toEqual(['jpeg', 768, 1024]);
      expect(metadata.exif?.toString('latin1')).toContain('front_full_body');
    }

    const stats = await get(`/generations/${created.id}/stats`);
    expect(stats.json).toEqual({
      id: created.id,
      status: 'COMPLETED',
      total: 4,
      completed: 4,
      error: 0,
      latest_prediction_status: 'completed',
    });
    const prediction = await get(`/predictions/${done.predictions[0]?.id}`);
    expect(prediction.json).toMatchObject({ id: done.predictions[0]?.id, generation_id: created.id, status: 'completed' });
  });

  it('ends the injected number of predictions in error; the generation still completes', async () => {
    sim.errorPredictions(1);
    const created = await create('/generations/', {
      product_image: 'https://cdn.example.com/dress.jpg',
      shot_type: 'side_upper_body',
    });
    const done = await settle(created.id);
    expect(done.status).toBe('COMPLETED');
    expect(done.predictions.map((p) => p.status).sort()).toEqual(['completed', 'completed', 'completed', 'error']);
    const failed = done.predictions.find((p) => p.status === 'error');
    expect(failed).toMatchObject({
      result_image_url: null,
      error_message: expect.any(String),
      error_category: expect.any(String),
    });
    expect((await get(`/generations/${created.id}/stats`)).json).toMatchObject({ completed: 3, error: 1 });

    const next = await settle((await create('/generations/', { batch_size: 1 })).id);
    expect(next.predictions.map((p) => p.status)).toEqual(['completed']);

    sim.errorPredictions(5);
    const failedAll = await settle((await create('/generations/', { batch_size: 2 })).id);
    expect(failedAll.status).toBe('FAILED');
    expect(failedAll.predictions.map((p) => p.status)).toEqual(['error', 'error']);
  });

  it('makes a video whose result_video_url serves video/mp4', async () => {
    const source = await settle((await create('/generations/', { batch_size: 1, shot_type: 'front_full_body' })).id);
    const video = await create('/generations/videos', {
      prompt: 'the model turns slowly',
      prediction_id: source.predictions[0]?.id,
    });
    expect(video).toMatchObject({ status: 'PENDING', batch_size: 1, generation_strategy: 'VIDEO', width: 768, height: 1024 });
    expect(sim.generations().at(-1)?.endpoint).toBe('videos');
    const done = await settle(video.id);
    const [prediction] = done.predictions;
    expect(prediction?.result_image_url).toBeNull();
    const file = await call(prediction?.result_video_url ?? '');
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('video/mp4');
    expect(file.bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');

    const noSource = issues(await post('/generations/videos', { prompt: 'turn' }));
    expect(noSource).toEqual([expect.objectContaining({ type: 'value_error', loc: ['body'] })]);
  });

  it('refuses a video from base_image_path without its explicit metadata', async () => {
    const base = await upload('look.jpg', await productPhoto(), 'image/jpeg');
    const metadata = { subject_id: randomUUID(), product_id: randomUUID(), style_id: randomUUID(), shot_type: 'front_full_body' };
    const countBefore = sim.generationCount();
    const bare = issues(await post('/generations/videos', { prompt: 'turn', base_image_path: base }));
    expect(bare).toEqual([expect.objectContaining({ type: 'value_error', loc: ['body'] })]);
    expect(bare[0]?.msg).toContain('subject_id, product_id, style_id, shot_type');
    const partial = issues(
      await post('/generations/videos', { prompt: 'turn', base_image_path: base, ...metadata, style_id: null }),
    );
    expect(partial[0]?.msg).toMatch(/metadata: style_id must/);
    expect(sim.generationCount()).toBe(countBefore);

    const video = await create('/generations/videos', { prompt: 'turn', base_image_path: base, ...metadata });
    expect(video).toMatchObject({ generation_strategy: 'VIDEO', subject_id: metadata.subject_id, style_id: metadata.style_id });
    expect(sim.generations().at(-1)?.body).toMatchObject(metadata);
  });

  it('adjusts an uploaded image to the target size', async () => {
    const base = await upload('look.jpg', await productPhoto(), 'image/jpeg');
    const created = await create('/generations/image-adjuster', {
      base_img_path: base,
      target_width: 400,
      target_height: 300,
      mode: 'pad',
    });
    expect(created).toMatchObject({ batch_size: 1, width: 400, height: 300, generation_strategy: 'IMAGE_ADJUSTING' });
    const done = await settle(created.id);
    const image = await call(done.predictions[0]?.result_image_url ?? '');
    const metadata = await sharp(image.bytes).metadata();
    expect([metadata.width, metadata.height]).toEqual([400, 300]);

    const badMode = issues(await post('/generations/image-adjuster', { base_img_path: base, aspect_ratio: 1, mode: 'stretch' }));
    expect(badMode).toEqual([expect.objectContaining({ type: 'enum', loc: ['body', 'mode'] })]);
  });

  it('validates creation bodies with the FastAPI 422 shape and creates nothing', async () => {
    const countBefore = sim.generationCount();
    expect(issues(await post('/generations/edits', { batch_size: 'two' }))).toEqual([
      expect.objectContaining({ type: 'missing', loc: ['body', 'base_img_path'], msg: 'Field required' }),
      expect.objectContaining({ type: 'int_parsing', loc: ['body', 'batch_size'] }),
    ]);
    const notUploaded = `${new URL(sim.baseUrl).origin}/temp/${'0'.repeat(32)}_1_x.jpg`;
    expect(issues(await post('/generations/edits', { base_img_path: notUploaded }))).toEqual([
      expect.objectContaining({ type: 'value_error', loc: ['body', 'base_img_path'] }),
    ]);
    expect(issues(await post('/generations/', { product_image: 'not a url' }))).toEqual([
      expect.objectContaining({ type: 'value_error', loc: ['body', 'product_image'] }),
    ]);
    const asText = await call('/generations/', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
      body: JSON.stringify({ batch_size: 1 }),
    });
    expect(issues(asText)).toEqual([expect.objectContaining({ type: 'model_attributes_type', loc: ['body'] })]);
    expect(sim.generationCount()).toBe(countBefore);
  });

  it('takes as reference images only uploads it holds, each once, and keeps what it took', async () => {
    const countBefore = sim.generationCount();
    const base = await upload('base.jpg', await productPhoto(), 'image/jpeg');
    const markingBytes = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#ff0000' } })
      .png()
      .toBuffer();
    const marking = await upload('mark.png', markingBytes, 'image/png');
    const notUploaded = `${new URL(sim.baseUrl).origin}/temp/${'0'.repeat(32)}_1_x.png`;
    const refused = [
      ['/generations/edits', 'reference_images', ['https://elsewhere.example/mark.png']],
      ['/generations/edits', 'reference_images', [marking, marking]],
      ['/generations/', 'reference_images_paths', [notUploaded]],
      ['/generations/agentic', 'reference_images_paths', ['https://elsewhere.example/mark.png']],
    ] as const;
    for (const [path, field, references] of refused) {
      const body = path === '/generations/edits' ? { base_img_path: base } : { product_image: base };
      expect(issues(await post(path, { ...body, [field]: references })), `${path} ${references.join(' ')}`).toEqual([
        expect.objectContaining({ type: 'value_error', loc: ['body', field] }),
      ]);
    }
    expect(sim.generationCount()).toBe(countBefore);
    await create('/generations/edits', { base_img_path: base, reference_images: [marking] });
    expect(sim.generations().at(-1)?.body.reference_images).toEqual([marking]);
    expect(await sim.fileAt(marking)).toEqual(markingBytes);
    expect(await sim.fileAt('https://elsewhere.example/mark.png')).toBeUndefined();
  });

  it('answers 404 for an unknown generation, 403 for a foreign organization, 307 without the trailing slash', async () => {
    const missing = await get(`/generations/${randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ detail: 'Generation not found' });

    const foreign = await post(`/generations/?organization_id=${randomUUID()}`, { batch_size: 1 });
    expect(foreign.status).toBe(403);
    expect(foreign.json).toEqual({ detail: 'Not enough permissions' });
    const own = await create(`/generations/?organization_id=${organizationId}`, { batch_size: 1 });
    expect(own.organization_id).toBe(organizationId);

    const redirect = await post('/generations', { batch_size: 1 });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('location')).toBe(`${sim.baseUrl}/generations/`);
  });
});

describe('listing generations (GET /generations/)', () => {
  it("lists the user's personal generations, newest first, filtered by creation date, type and product", async () => {
    const ownOrganization = randomUUID();
    const lister = { email: 'lister@example.com', password: randomBytes(12).toString('hex'), organizationId: ownOrganization };
    sim.addAccount(lister);
    const answer = await loginCall({ username: lister.email, password: lister.password, grant_type: 'password' });
    const own = (answer.json as Json).access_token as string;
    const make = async (body: Json, query = '') => {
      const made = await post(`/generations/${query}`, body, own);
      expect(made.status, JSON.stringify(made.json)).toBe(200);
      return made.json as Generation;
    };
    const productId = randomUUID();
    const first = await make({ batch_size: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await make({ batch_size: 1, product_id: productId });
    const third = await make({ batch_size: 1, generation_type: 'AGENTIC' });
    const inOrganization = await make({ batch_size: 1 }, `?organization_id=${ownOrganization}`);
    const ids = async (query: string) => {
      const listed = await get(`/generations/${query}`, own);
      expect(listed.status, JSON.stringify(listed.json)).toBe(200);
      const body = listed.json as { data: Generation[]; count: number };
      return body.data.map((g) => g.id);
    };

    expect(await ids('')).toEqual([third.id, second.id, first.id]);
    expect(await ids(`?created_at_from=${encodeURIComponent(between)}`)).toEqual([third.id, second.id]);
    expect(await ids(`?created_at_to=${encodeURIComponent(between)}`)).toEqual([first.id]);
    expect(await ids('?generation_type=AGENTIC')).toEqual([third.id]);
    expect(await ids(`?product_id=${productId}`)).toEqual([second.id]);
    expect(await ids('?skip=1&limit=1')).toEqual([second.id]);
    expect(await ids(`?organization_id=${ownOrganization}`)).toEqual([inOrganization.id]);
    const counted = (await get('/generations/?limit=1', own)).json as { data: Generation[]; count: number };
    expect([counted.data.length, counted.count]).toEqual([1, 3]);
    // Others' generations are never listed.
    expect(await ids('')).not.toContain((await create('/generations/', { batch_size: 1 })).id);
  });

  it('refuses a bad date, a page over 100 and an unknown tool with the FastAPI 422 shape', async () => {
    for (const query of ['created_at_from=yesterday', 'limit=101', 'tools=PAINT']) {
      const answer = await get(`/generations/?${query}`);
      expect(answer.status, query).toBe(422);
      const [issue] = (answer.json as { detail: Issue[] }).detail;
      expect(issue?.loc[0], query).toBe('query');
    }
  });

  it('names the orchestration shot of an agentic generation in its shot_id', async () => {
    const created = await create('/generations/agentic', { batch_size: 1 });
    const shot = created.orchestration_shot_id as string;
    expect(created.shot_id).toBe(shot);
    const listed = (await get(`/generations/?shot_id=${encodeURIComponent(shot)}`)).json as { data: Generation[] };
    expect(listed.data.map((g) => g.id)).toEqual([created.id]);
  });
});

describe('refines', () => {
  it('refuses a scale_factor outside 2, 4, 8 with a 422 detail list', async () => {
    const countBefore = sim.generationCount();
    const refused = issues(await post('/generations/refines', { prediction_ids: [randomUUID()], scale_factor: 3 }));
    expect(refused).toEqual([
      {
        type: 'value_error',
        loc: ['body', 'scale_factor'],
        msg: expect.stringContaining('scale_factor'),
        input: 3,
        ctx: { error: {} },
      },
    ]);
    expect(sim.generationCount()).toBe(countBefore);
  });

  it('counts one generation per refined upload, none per refined prediction', async () => {
    const photo = await upload('shot.jpg', await productPhoto(), 'image/jpeg');
    const source = await settle((await create('/generations/', { batch_size: 1 })).id);
    const predictionId = source.predictions[0]?.id ?? '';
    const countBefore = sim.generationCount();
    const unknownPrediction = randomUUID();
    const answer = await post('/generations/refines', {
      base_image_urls: [photo, 'https://elsewhere.example.com/x.jpg'],
      prediction_ids: [predictionId, unknownPrediction],
      scale_factor: 2,
    });
    expect(answer.status).toBe(200);
    const mixed = answer.json as {
      generations: Generation[];
      refines: Json[];
      failed_uploads: Json[];
      failed_refines: Json[];
    } & Json;
    expect(mixed).toMatchObject({ total_success: 2, total_failed: 2 });
    expect(mixed.failed_uploads).toEqual([{ index: 1, url: 'https://elsewhere.example.com/x.jpg', error: expect.any(String) }]);
    expect(mixed.failed_refines).toEqual([{ prediction_id: unknownPrediction, error: 'Prediction not found' }]);
    expect(sim.generationCount()).toBe(countBefore + 1);
    expect(sim.generations().at(-1)?.endpoint).toBe('refines');

    const [generation] = mixed.generations;
    expect(generation).toMatchObject({ batch_size: 1, refine: true, generation_strategy: 'REFINE', width: 1200, height: 1600 });
    const refined = await settle(generation?.id ?? '');
    const metadata = await sharp((await call(refined.predictions[0]?.result_image_url ?? '')).bytes).metadata();
    expect([metadata.width, metadata.height]).toEqual([1200, 1600]);

    const [refine] = mixed.refines;
    expect(refine).toMatchObject({ prediction_id: predictionId, status: 'pending', width: 1536, height: 2048, scale_factor: 2 });
    const deadline = Date.now() + 10_000;
    let prediction = (await get(`/predictions/${predictionId}`)).json as Prediction;
    while (prediction.refined_image_url === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 40));
      prediction = (await get(`/predictions/${predictionId}`)).json as Prediction;
    }
    expect(prediction.refines).toEqual([expect.objectContaining({ id: refine?.id, status: 'completed' })]);
    expect((await get(`/refines/refines/${refine?.id}`)).json).toMatchObject({ status: 'completed' });
    const upscaled = await sharp((await call(prediction.refined_image_url ?? '')).bytes).metadata();
    expect([upscaled.width, upscaled.height]).toEqual([1536, 2048]);
  });
});

describe('agentic runs', () => {
  interface Attempt extends Json {
    attempt_number: number;
    image_url: string | null;
    evaluation_status: string | null;
    confidence_score: number | null;
  }
  interface ShotStatus extends Json {
    shot_id: string;
    status: string;
    total_attempts: number;
    final_image_url: string | null;
    best_confidence: number | null;
    error_message: string | null;
    attempts: Attempt[];
  }

  /** Polls the shot until it is completed or failed; notes the generation's status seen while it was processing. */
  async function settleShot(shotId: string, generationId: string, seenWhileProcessing: string[] = []): Promise<ShotStatus> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const answer = await get(`/generations/agentic/${shotId}/status`);
      expect(answer.status).toBe(200);
      const shot = answer.json as ShotStatus;
      if (shot.status !== 'processing') return shot;
      seenWhileProcessing.push(((await get(`/generations/${generationId}`)).json as Generation).status);
      if (Date.now() > deadline) throw new Error(`shot ${shotId} did not settle: ${JSON.stringify(shot)}`);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
  }

  it('retries the attempts the evaluator refuses and reports the first that passes as final', async () => {
    // Each attempt: 400 ms generating, then 200 ms evaluated, when the generation alone looks finished.
    sim.setPredictionDuration(400);
    try {
      sim.scoreAgenticAttempts([0.3, 0.5, 0.92]);
      const productImage = await upload('dress.jpg', await productPhoto(), 'image/jpeg');
      const created = (await create('/generations/agentic', {
        product_image: productImage,
        evaluation_provider: 'mock',
      })) as Generation & { orchestration_shot_id: string };
      expect(created).toMatchObject({
        orchestration_status: 'processing',
        message: 'Shot orchestration started',
        generation_type: 'AGENTIC',
        shot_type_string: 'front_upper_body',
        batch_size: 1,
      });
      expect(sim.generations().at(-1)?.endpoint).toBe('agentic');

      const seen: string[] = [];
      const shot = await settleShot(created.orchestration_shot_id, created.id, seen);
      // Between two attempts the generation looks finished, while the orchestration goes on.
      expect(seen).toContain('COMPLETED');
      expect(shot).toMatchObject({ status: 'completed', total_attempts: 3, max_attempts: 3, best_confidence: 0.92 });
      expect(shot.attempts.map((a) => [a.attempt_number, a.evaluation_status, a.confidence_score])).toEqual([
        [1, 'failed', 0.3],
        [2, 'failed', 0.5],
        [3, 'passed', 0.92],
      ]);
      expect(shot.final_image_url).toBe(shot.attempts[2]?.image_url);
      const final = await sharp((await call(shot.final_image_url ?? '')).bytes).metadata();
      expect(final.exif?.toString('latin1')).toContain('front_upper_body attempt #3');
      const generation = (await get(`/generations/${created.id}`)).json as Generation;
      expect(generation.predictions.map((p) => p.result_image_url)).toEqual(shot.attempts.map((a) => a.image_url));
    } finally {
      sim.setPredictionDuration(predictionDurationMs);
    }
  });

  it('ends failed, without a final image, when max_attempts attempts all fail', async () => {
    sim.setPredictionDuration(150);
    try {
      sim.scoreAgenticAttempts([0.2]);
      const created = (await create('/generations/agentic', { max_attempts: 2, min_confidence_score: 0.5 })) as Generation & {
        orchestration_shot_id: string;
      };
      const shot = await settleShot(created.orchestration_shot_id, created.id);
      expect(shot).toMatchObject({ status: 'failed', total_attempts: 2, final_image_url: null, best_confidence: 0.2 });
      expect(shot.error_message).toContain('0.5');
    } finally {
      sim.setPredictionDuration(predictionDurationMs);
    }
  });

  it('validates the agentic fields and guards the status route', async () => {
    const refused = issues(
      await post('/generations/agentic', { evaluation_provider: 'claude', shot_type: '', max_attempts: 21 }),
    );
    expect(refused.map((i) => [i.type, i.loc.join('.')])).toEqual([
      ['string_too_short', 'body.shot_type'],
      ['less_than_equal', 'body.max_attempts'],
      ['enum', 'body.evaluation_provider'],
    ]);
    const missing = await get('/generations/agentic/no-such-shot/status');
    expect(missing.status).toBe(404);
    const created = (await create('/generations/agentic', { batch_size: 1 })) as Generation & { orchestration_shot_id: string };
    const anonymous = await call(`/generations/agentic/${created.orchestration_shot_id}/status`);
    expect(anonymous.status).toBe(401);
  });
});

describe('fault injection', () => {
  it('loseAnswers creates and records the generation, then drops the connection instead of answering', async () => {
    const before = sim.generationCount();
    sim.loseAnswers({ method: 'POST', pathIncludes: '/api/v1/generations/' });
    await expect(post('/generations/', { batch_size: 1 })).rejects.toThrow();
    expect(sim.generationCount()).toBe(before + 1);
    expect((await post('/generations/', { batch_size: 1 })).status).toBe(200);
  });

  it('answers an injected failure once, then handles requests again', async () => {
    sim.failNext({ method: 'GET', pathIncludes: '/stats' }, { status: 503, body: { detail: 'Service Unavailable' } });
    const created = await create('/generations/', { batch_size: 1 });
    expect((await get(`/generations/${created.id}/stats`)).status).toBe(503);
    expect((await get(`/generations/${created.id}/stats`)).status).toBe(200);
    expect(
      sim
        .callLog()
        .filter((c) => c.path.endsWith('/stats'))
        .map((c) => c.status)
        .slice(-2),
    ).toEqual([503, 200]);
  });
});
