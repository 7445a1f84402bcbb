/**
 * The Adobe Firefly Workflow API simulator over real HTTP: the IMS token call, the four required
 * headers and `api-version`, `POST /batch/execute` with its validation and input-host policy, status
 * counters moving over time, executions whose outputs are real PNGs derived from the fetched inputs,
 * failed runs (continue-on-error), cancel, the per-(org, user) rate limit and the inspection API.
 * Input images are served by a small loopback "bucket" whose URLs carry `X-Amz-Signature`; images
 * are checked with sharp, independently of the simulator's rendering code.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleImage } from '../../src/simulators/creative-force/sample-images.ts';
import { FireflySimulator } from '../../src/simulators/firefly/index.ts';
import { LoopbackServer } from '../../src/simulators/harness/loopback-server.ts';

const scope = 'openid,AdobeID,session,additional_info,read_organizations,firefly_api,ff_apis';
const credential = {
  clientId: `client-${randomBytes(6).toString('hex')}`,
  clientSecret: randomBytes(16).toString('hex'),
  orgId: 'A1B2C3D4567890ABCDEFFEDA51@AdobeOrg',
  userId: 'TECHACCT1234567890@techacct.adobe.com',
};
const workflowId = randomUUID();
const imageNode = 'node_1775258981781_301b7cc7v_0_j5iaha';
const textNode = 'node_1775258991082_1lfvzsgqz_2_vhjjoc';
const outputNode = 'node_1775259058091_zzgybxfcg_5_j6g2al';

/** The bucket's images: name → color and size (all different, so outputs can be told apart). */
const bucketImages = {
  'red.png': { color: '#c83232', width: 320, height: 240 },
  'green.png': { color: '#32c832', width: 200, height: 300 },
  'blue.png': { color: '#3232c8', width: 256, height: 256 },
} as const;
type ImageName = keyof typeof bucketImages;

interface Answer {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: unknown;
}

type Json = Record<string, unknown>;
interface Counts {
  total: number;
  pending: number;
  processing: number;
  completed: number;
  failed: number;
}
interface Accepted {
  batchId: string;
  workflowId: string;
  status: string;
  assets: Counts;
  createdAt: string;
  links: Record<'result' | 'status' | 'cancel' | 'executions', { href: string }>;
}
interface Status {
  batchId: string;
  status: string;
  assets: Counts;
  executions: { total: number; completed: number; failed: number; allExecutionIds: string[]; failedExecutionIds: string[] };
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  links: Record<string, { href: string }>;
}
interface Output {
  node_id: string;
  status: string;
  content: { presignedUrl: string; mimeType: string; name: string };
}
interface Execution {
  executionId: string;
  batchId: string;
  assetIndex: number;
  inputAsset: { index: number; assetId: string; inputs: unknown[] };
  status: string;
  error: string | null;
  outputs: Output[];
  startedAt: string | null;
  completedAt: string | null;
  durationMs: number | null;
}
interface Executions {
  batchId: string;
  total: number;
  executions: Execution[];
  pagination: { limit: number; offset: number; count: number; hasMore: boolean };
}

let bucket: LoopbackServer;
const bucketBytes = new Map<string, Buffer>();
let sim: FireflySimulator;
let token: string;

beforeAll(async () => {
  for (const [name, spec] of Object.entries(bucketImages)) {
    bucketBytes.set(name, await sampleImage({ ...spec, format: 'png' }));
  }
  bucket = await LoopbackServer.listen();
  bucket.serve(
    async (req, res) => {
      const url = new URL(req.url ?? '/', bucket.baseUrl);
      const data = bucketBytes.get(url.pathname.replace(/^\/bucket\//, ''));
      const signed = url.searchParams.has('X-Amz-Signature');
      const status = !signed ? 403 : data ? 200 : 404;
      res.writeHead(status, { 'content-type': status === 200 ? 'image/png' : 'application/xml' });
      res.end(status === 200 ? data : '<Error/>');
    },
    { onFailure: () => ({ status: 500 }) },
  );
  sim = await FireflySimulator.start({
    executionDurationMs: 600,
    allowHttpLoopbackInputs: true,
    rateLimit: { limit: 10_000, windowMs: 60_000 },
  });
  sim.addCredential(credential);
  sim.addWorkflow({
    workflowId,
    inputNodes: [
      { nodeId: imageNode, kind: 'image' },
      { nodeId: textNode, kind: 'text' },
    ],
    outputNodeIds: [outputNode],
  });
  token = await getToken(sim);
});

afterAll(async () => {
  await sim?.close();
  await bucket?.close();
});

/** A presigned-looking bucket URL; `tag` makes it unique, to find it in `fetchedInputs()`. */
function bucketUrl(name: ImageName | 'missing.png', tag = randomBytes(4).toString('hex')): string {
  const query = new URLSearchParams({
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Expires': '3600',
    'X-Amz-Signature': randomBytes(32).toString('hex'),
    tag,
  });
  return `${bucket.baseUrl}/bucket/${name}?${query}`;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const bytes = Buffer.from(await response.arrayBuffer());
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, bytes, json };
}

function tokenCall(target: FireflySimulator, fields: Record<string, string>, contentType = 'application/x-www-form-urlencoded') {
  return call(target.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: new URLSearchParams(fields).toString(),
  });
}

async function getToken(target: FireflySimulator, who = credential): Promise<string> {
  const answer = await tokenCall(target, {
    grant_type: 'client_credentials',
    client_id: who.clientId,
    client_secret: who.clientSecret,
    scope,
  });
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return (answer.json as Json).access_token as string;
}

function apiHeaders(bearer = token, who = credential): Record<string, string> {
  return {
    authorization: `Bearer ${bearer}`,
    'x-api-key': who.clientId,
    'x-gw-ims-org-id': who.orgId,
    'x-gw-ims-user-id': who.userId,
    'api-version': '1.0',
    accept: 'application/json',
  };
}

function api(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const url = path.startsWith('http') ? path : sim.baseUrl + path;
  const headers = init.headers ?? apiHeaders();
  if (init.body === undefined) return call(url, { method: init.method ?? 'GET', headers });
  return call(url, {
    method: init.method ?? 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
}

/** A run mapping the image node to `urls` and the text node to `text`. */
function run(urls: string[], text = 'white seamless background'): unknown[] {
  return [
    { node_id: imageNode, content: urls.map((presignedUrl) => ({ presignedUrl, storageType: 'AWS' })) },
    { node_id: textNode, content: text },
  ];
}

async function execute(runs: unknown[][]): Promise<Accepted> {
  const answer = await api('/batch/execute', { body: { workflow: { workflowId, inputs: runs } } });
  expect(answer.status, JSON.stringify(answer.json)).toBe(202);
  return answer.json as Accepted;
}

async function status(batchId: string): Promise<Status> {
  const answer = await api(`/batch/${batchId}/status`);
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json as Status;
}

/** Polls until the batch is no longer pending or running, noting each status seen; fails after 10 s. */
async function settle(batchId: string, seen: Status[] = []): Promise<Status> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const current = await status(batchId);
    seen.push(current);
    if (current.status !== 'pending' && current.status !== 'running') return current;
    if (Date.now() > deadline) throw new Error(`batch ${batchId} still ${current.status} after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
}

async function executions(batchId: string, query = ''): Promise<Executions> {
  const answer = await api(`/batch/${batchId}/executions${query}`);
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json as Executions;
}

/** The RGB of pixel (x, y) of an encoded image. */
async function pixel(image: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * info.channels;
  return [data[at] ?? -1, data[at + 1] ?? -1, data[at + 2] ?? -1];
}

function rgbOf(hex: string): [number, number, number] {
  return [Number.parseInt(hex.slice(1, 3), 16), Number.parseInt(hex.slice(3, 5), 16), Number.parseInt(hex.slice(5, 7), 16)];
}

describe('IMS token', () => {
  it('issues a bearer token for client credentials with the Firefly scopes', async () => {
    const answer = await tokenCall(sim, {
      grant_type: 'client_credentials',
      client_id: credential.clientId,
      client_secret: credential.clientSecret,
      scope,
    });
    expect(answer.status).toBe(200);
    const body = answer.json as Json;
    expect(body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 86399 });
    expect(body.access_token).not.toBe(token);
  });

  it('refuses bad credentials, a missing scope and a non-form body in the OAuth error shape', async () => {
    const base = {
      grant_type: 'client_credentials',
      client_id: credential.clientId,
      client_secret: credential.clientSecret,
      scope,
    };
    const wrongSecret = await tokenCall(sim, { ...base, client_secret: 'nope' });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.json).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
    const unknownClient = await tokenCall(sim, { ...base, client_id: 'someone-else' });
    expect(unknownClient.status).toBe(400);
    expect((unknownClient.json as Json).error).toBe('invalid_client');
    const narrowScope = await tokenCall(sim, { ...base, scope: 'openid,AdobeID,firefly_api' });
    expect(narrowScope.status).toBe(400);
    expect((narrowScope.json as Json).error).toBe('invalid_scope');
    // Which scopes IMS requires is undocumented: by default the whole documented list (strict).
    const allButSession = await tokenCall(sim, { ...base, scope: scope.replace('session,', '') });
    expect([allButSession.status, (allButSession.json as Json).error]).toEqual([400, 'invalid_scope']);
    const password = await tokenCall(sim, { ...base, grant_type: 'password' });
    expect(password.status).toBe(400);
    expect((password.json as Json).error).toBe('unsupported_grant_type');
    const json = await call(sim.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(base),
    });
    expect(json.status).toBe(400);
  });
});

describe('authentication headers and api-version', () => {
  it('requires all four headers of the token credential (401 documented body, 403 for another org)', async () => {
    const before = sim.batchCount();
    const body = { workflow: { workflowId, inputs: [run([bucketUrl('red.png')])] } };
    const unauthorized = { error: 'Unauthorized', message: 'Missing or invalid authentication', status: 'failed' };
    for (const header of ['authorization', 'x-api-key', 'x-gw-ims-org-id', 'x-gw-ims-user-id']) {
      const headers = apiHeaders();
      delete headers[header];
      const answer = await api('/batch/execute', { body, headers });
      expect(answer.status, header).toBe(401);
      expect(answer.json, header).toEqual(unauthorized);
      expect(answer.headers.get('api-version')).toBe('1.0');
      expect(answer.headers.get('x-ratelimit-limit')).toBe('10000');
    }
    const badToken = await api('/batch/execute', { body, headers: apiHeaders('not-a-token') });
    expect(badToken.status).toBe(401);
    const otherKey = await api('/batch/execute', { body, headers: { ...apiHeaders(), 'x-api-key': 'another-client' } });
    expect(otherKey.status).toBe(401);
    const otherUser = await api('/batch/execute', { body, headers: { ...apiHeaders(), 'x-gw-ims-user-id': 'someone@techacct' } });
    expect(otherUser.status).toBe(401);
    const otherOrg = await api('/batch/execute', { body, headers: { ...apiHeaders(), 'x-gw-ims-org-id': 'FFFF0000@AdobeOrg' } });
    expect(otherOrg.status).toBe(403);
    expect(otherOrg.json).toEqual({
      error: 'Forbidden',
      message: 'The caller is not a member of the organization identified by x-gw-ims-org-id',
      status: 'failed',
    });
    expect(sim.batchCount()).toBe(before);
  });

  it('answers 401 once tokens expire, and accepts a fresh token', async () => {
    sim.expireTokens();
    const expired = await api('/batches');
    expect(expired.status).toBe(401);
    token = await getToken(sim);
    const fresh = await api('/batches');
    expect(fresh.status).toBe(200);
  });

  it('rejects an unsupported api-version as documented and echoes 1.0 otherwise', async () => {
    const unsupported = await api('/batches', { headers: { ...apiHeaders(), 'api-version': '2.0' } });
    expect(unsupported.status).toBe(400);
    expect(unsupported.json).toEqual({
      status: 'error',
      error: 'The api-version value is not supported. Supported version: 1.0',
    });
    const headers = apiHeaders();
    delete headers['api-version'];
    const omitted = await api('/batches', { headers });
    expect(omitted.status).toBe(200);
    expect(omitted.headers.get('api-version')).toBe('1.0');
    expect(omitted.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
    expect(omitted.headers.get('x-ratelimit-reset')).toMatch(/^\d{10}$/);
  });
});

describe('batch execution', () => {
  const names: ImageName[] = ['red.png', 'green.png', 'blue.png'];
  let accepted: Accepted;
  let urls: string[];
  let runs: unknown[][];

  it('accepts three runs with 202, the documented ids and absolute links', async () => {
    const before = sim.batchCount();
    urls = names.map((name) => bucketUrl(name));
    runs = urls.map((url, index) => run([url], `prompt ${index}`));
    accepted = await execute(runs);
    expect(accepted.batchId).toMatch(new RegExp(`^batch-run-workflow_${workflowId}-\\d{8}-[0-9a-f]{8}$`));
    expect(accepted.batchId).toContain(new Date().toISOString().slice(0, 10).replaceAll('-', ''));
    expect(accepted.workflowId).toBe(`run-workflow_${workflowId}`);
    expect(accepted.status).toBe('pending');
    expect(accepted.assets).toEqual({ total: 3, pending: 3, processing: 0, completed: 0, failed: 0 });
    expect(Math.abs(Date.parse(accepted.createdAt) - Date.now())).toBeLessThan(5000);
    const root = `${sim.baseUrl}/batch/${accepted.batchId}`;
    expect(accepted.links).toEqual({
      result: { href: `${root}/status?format=preview` },
      status: { href: `${root}/status` },
      cancel: { href: `${root}/cancel` },
      executions: { href: `${root}/executions` },
    });
    expect(sim.batchCount()).toBe(before + 1);
    const record = sim.batches().at(-1);
    expect(record).toMatchObject({ batchId: accepted.batchId, workflowId, runs, cancelled: false });
  });

  it('moves the counters from pending through running to completed', async () => {
    const seen: Status[] = [];
    const final = await settle(accepted.batchId, seen);
    expect(seen[0]?.status).toBe('pending');
    expect(seen.some((s) => s.status === 'running' && s.assets.completed > 0 && s.assets.completed < 3)).toBe(true);
    expect(seen.some((s) => s.assets.processing > 0)).toBe(true);
    for (const s of seen) {
      const { total, pending, processing, completed, failed } = s.assets;
      expect(pending + processing + completed + failed).toBe(total);
    }
    const completedCounts = seen.map((s) => s.assets.completed);
    expect(completedCounts).toEqual([...completedCounts].sort((a, b) => a - b));
    expect(final.status).toBe('completed');
    expect(final.assets).toEqual({ total: 3, pending: 0, processing: 0, completed: 3, failed: 0 });
    expect(final.executions).toEqual({
      total: 3,
      completed: 3,
      failed: 0,
      allExecutionIds: [0, 1, 2].map((i) => `${accepted.batchId}_exec-${i}`),
      failedExecutionIds: [],
    });
    expect(final.completedAt).not.toBeNull();
    expect(Date.parse(final.completedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(final.createdAt) + 500);
    expect(Object.keys(final.links).sort()).toEqual(['cancel', 'executions']);
    for (const url of urls) expect(sim.fetchedInputs()).toContain(url);
  });

  it('lists executions whose outputs are real PNGs derived from each input', async () => {
    const list = await executions(accepted.batchId);
    expect(list.total).toBe(3);
    expect(list.pagination).toEqual({ limit: 100, offset: 0, count: 3, hasMore: false });
    const seenBytes = new Set<string>();
    for (const [index, execution] of list.executions.entries()) {
      const name = names[index] as ImageName;
      expect(execution).toMatchObject({
        executionId: `${accepted.batchId}_exec-${index}`,
        batchId: accepted.batchId,
        assetIndex: index,
        inputAsset: { index, inputs: runs[index] },
        status: 'success',
        error: null,
      });
      expect(execution.durationMs).toBeGreaterThan(0);
      expect(Date.parse(execution.completedAt ?? '')).toBeGreaterThan(Date.parse(execution.startedAt ?? ''));
      expect(execution.outputs).toHaveLength(1);
      const output = execution.outputs[0] as Output;
      expect(output).toMatchObject({ node_id: outputNode, status: 'success', content: { mimeType: 'image/png' } });
      const download = await call(output.content.presignedUrl);
      expect(download.status).toBe(200);
      expect(download.headers.get('content-type')).toBe('image/png');
      const meta = await sharp(download.bytes).metadata();
      expect(meta.format).toBe('png');
      const spec = bucketImages[name];
      expect([meta.width, meta.height]).toEqual([spec.width, spec.height]);
      expect(meta.exif?.toString('latin1')).toContain(`run ${index}`);
      // Below the label band, the output shows the input's color.
      const [r, g, b] = await pixel(download.bytes, Math.floor(spec.width / 2), spec.height - 2);
      const [er, eg, eb] = rgbOf(spec.color);
      expect(Math.abs(r - er) + Math.abs(g - eg) + Math.abs(b - eb)).toBeLessThan(12);
      seenBytes.add(download.bytes.toString('base64'));
    }
    expect(seenBytes.size).toBe(3);
    const tampered = (list.executions[0]?.outputs[0]?.content.presignedUrl ?? '').replace(/sig=[0-9a-f]/, 'sig=x');
    expect((await call(tampered)).status).toBe(403);
  });

  it('includes the outputs in the result link (format=preview, assumed shape)', async () => {
    const answer = await api(accepted.links.result.href);
    expect(answer.status).toBe(200);
    const body = answer.json as Status & { outputs: { executionId: string; status: string; outputs: Output[] }[] };
    expect(body.status).toBe('completed');
    expect(body.outputs.map((o) => o.executionId)).toEqual(body.executions.allExecutionIds);
    expect(body.outputs.every((o) => o.status === 'success' && o.outputs[0]?.node_id === outputNode)).toBe(true);
    expect(await status(accepted.batchId)).not.toHaveProperty('outputs');
  });

  it('paginates and filters executions', async () => {
    const firstPage = await executions(accepted.batchId, '?limit=2');
    expect(firstPage.executions.map((e) => e.assetIndex)).toEqual([0, 1]);
    expect(firstPage.pagination).toEqual({ limit: 2, offset: 0, count: 2, hasMore: true });
    const secondPage = await executions(accepted.batchId, '?limit=2&offset=2');
    expect(secondPage.executions.map((e) => e.assetIndex)).toEqual([2]);
    expect(secondPage.pagination.hasMore).toBe(false);
    expect((await executions(accepted.batchId, '?status=failed')).executions).toEqual([]);
    expect((await api(`/batch/${accepted.batchId}/executions?limit=501`)).status).toBe(400);
    expect((await api(`/batch/${accepted.batchId}/executions?status=done`)).status).toBe(400);
  });

  it('lists the caller’s batches newest first', async () => {
    const answer = await api('/batches?limit=1');
    expect(answer.status).toBe(200);
    const body = answer.json as { orgId: string; batches: Json[]; pagination: Json };
    expect(body.orgId).toBe(credential.orgId);
    expect(body.batches[0]).toMatchObject({ batchId: accepted.batchId, status: 'completed', endpoint: 'batch' });
    expect(body.pagination).toMatchObject({ limit: 1, offset: 0, count: 1 });
  });

  it('cannot cancel a completed batch', async () => {
    const answer = await api(`/batch/${accepted.batchId}/cancel`, { method: 'POST' });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({
      error: 'Invalid request',
      status: 'failed',
      message: expect.stringContaining('completed'),
    });
  });
});

describe('several output nodes', () => {
  it('lists one output per output node of the workflow, in order, each its own image', async () => {
    const twoOutputs = randomUUID();
    sim.addWorkflow({
      workflowId: twoOutputs,
      inputNodes: [
        { nodeId: imageNode, kind: 'image' },
        { nodeId: textNode, kind: 'text' },
      ],
      outputNodeIds: [outputNode, 'node_second'],
    });
    const answer = await api('/batch/execute', {
      body: { workflow: { workflowId: twoOutputs, inputs: [run([bucketUrl('red.png')])] } },
    });
    expect(answer.status, JSON.stringify(answer.json)).toBe(202);
    const { batchId } = answer.json as Accepted;
    await settle(batchId);
    const [execution] = (await executions(batchId)).executions;
    expect(execution?.outputs.map((o) => o.node_id)).toEqual([outputNode, 'node_second']);
    const labels = await Promise.all(
      (execution?.outputs ?? []).map(async (o) =>
        (await sharp((await call(o.content.presignedUrl)).bytes).metadata()).exif?.toString('latin1'),
      ),
    );
    expect(labels[0]).toContain('run 0');
    expect(labels[0]).not.toContain('node_second');
    expect(labels[1]).toContain('run 0 node_second');
  });

  it('refuses a workflow with an empty or repeated output node list', () => {
    const inputNodes = [{ nodeId: imageNode, kind: 'image' as const }];
    expect(() => sim.addWorkflow({ workflowId: randomUUID(), inputNodes, outputNodeIds: [] })).toThrow(/output node/);
    expect(() => sim.addWorkflow({ workflowId: randomUUID(), inputNodes, outputNodeIds: ['a', 'a'] })).toThrow(/unique/);
  });
});

describe('failed runs (continue on error)', () => {
  it('fails the chosen run of the next batch; the others succeed and the batch completes', async () => {
    sim.failRun(undefined, 1);
    const accepted = await execute([run([bucketUrl('red.png')]), run([bucketUrl('green.png')]), run([bucketUrl('blue.png')])]);
    const final = await settle(accepted.batchId);
    expect(final.status).toBe('completed');
    expect(final.assets).toMatchObject({ completed: 2, failed: 1 });
    expect(final.executions.failedExecutionIds).toEqual([`${accepted.batchId}_exec-1`]);
    const list = await executions(accepted.batchId);
    expect(list.executions.map((e) => e.status)).toEqual(['success', 'failed', 'success']);
    const failed = list.executions[1] as Execution;
    expect(failed.error).toEqual(expect.any(String));
    expect(failed.error?.length).toBeGreaterThan(0);
    expect(failed.outputs).toEqual([]);
    const onlyFailed = await executions(accepted.batchId, '?status=failed');
    expect(onlyFailed.executions.map((e) => e.assetIndex)).toEqual([1]);
    expect(onlyFailed.total).toBe(3);
  });

  it('fails a run of a given batch while it runs', async () => {
    const accepted = await execute([run([bucketUrl('red.png')]), run([bucketUrl('green.png')])]);
    sim.failRun(accepted.batchId, 0);
    expect(() => sim.failRun(accepted.batchId, 5)).toThrow();
    await settle(accepted.batchId);
    const list = await executions(accepted.batchId);
    expect(list.executions.map((e) => e.status)).toEqual(['failed', 'success']);
  });

  it('fails runs whose input cannot be fetched, and the batch when all fail', async () => {
    const missing = bucketUrl('missing.png');
    const accepted = await execute([run([missing]), run([bucketUrl('missing.png')])]);
    const final = await settle(accepted.batchId);
    expect(final.status).toBe('failed');
    expect(final.assets).toMatchObject({ completed: 0, failed: 2 });
    expect(sim.fetchedInputs()).toContain(missing);
    const list = await executions(accepted.batchId);
    expect(list.executions[0]?.error).toContain('404');
  });
});

describe('request validation', () => {
  it('takes a storageType only when it is an accepted one (default AWS, the one documented example)', async () => {
    const withType = (storageType?: string) => [
      {
        node_id: imageNode,
        content: [{ presignedUrl: bucketUrl('red.png'), ...(storageType === undefined ? {} : { storageType }) }],
      },
      { node_id: textNode, content: 'white seamless background' },
    ];
    const before = sim.batchCount();
    const refused = await api('/batch/execute', { body: { workflow: { workflowId, inputs: [withType('GCS')] } } });
    expect(refused.status).toBe(400);
    expect((refused.json as Json).message).toMatch(/storageType GCS is not supported \(AWS\)/);
    expect(sim.batchCount()).toBe(before);
    await execute([withType('AWS'), withType()]);
    expect(sim.batchCount()).toBe(before + 1);
  });

  it('refuses an image input that is not a presigned URL on an accepted storage host', async () => {
    const before = sim.batchCount();
    const cases = [
      'https://example.com/images/red.png?X-Amz-Signature=abc',
      'http://bucket.s3.amazonaws.com/red.png?X-Amz-Signature=abc',
      `${bucket.baseUrl}/bucket/red.png?tag=unsigned`,
      'https://amazonaws.com.evil.example/red.png',
    ];
    for (const bad of cases) {
      const answer = await api('/batch/execute', {
        body: { workflow: { workflowId, inputs: [run([bucketUrl('red.png')]), run([bucketUrl('green.png'), bad])] } },
      });
      expect(answer.status, bad).toBe(400);
      const body = answer.json as Json;
      expect(body.error).toBe('Invalid request');
      expect(body.status).toBe('failed');
      expect(body.message).toContain('workflow.inputs[1][0].content[1].presignedUrl');
      expect(body.message).toContain('accepted storage host');
    }
    expect(sim.batchCount()).toBe(before);
  });

  it('answers malformed bodies, unknown workflows and unknown batches as documented', async () => {
    const before = sim.batchCount();
    const notJson = await api('/batch/execute', { body: '{"workflow":' });
    expect(notJson.status).toBe(400);
    expect(notJson.json).toEqual({ error: 'Invalid request', message: 'Request body is not valid JSON', status: 'failed' });
    const malformed: unknown[] = [
      {},
      { workflow: { workflowId: 'not-a-uuid', inputs: [run([bucketUrl('red.png')])] } },
      { workflow: { workflowId, inputs: [] } },
      { workflow: { workflowId, inputs: [[]] } },
      { workflow: { workflowId, inputs: [[{ node_id: imageNode, content: { presignedUrl: bucketUrl('red.png') } }]] } },
      { workflow: { workflowId, inputs: [[...run([bucketUrl('red.png')]), { node_id: 'x', content: 'y', name: 'z' }]] } },
      {
        workflow: {
          workflowId,
          inputs: [[{ node_id: imageNode, content: [{ presignedUrl: bucketUrl('red.png'), name: 'a' }] }]],
        },
      },
      { workflow: { workflowId, inputs: [[run([bucketUrl('red.png')])[0]]] } },
      { workflow: { workflowId, inputs: [[{ node_id: imageNode, content: 'text' }, run([])[1]]] } },
    ];
    for (const body of malformed) {
      const answer = await api('/batch/execute', { body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.json).toMatchObject({ error: 'Invalid request', status: 'failed', message: expect.any(String) });
    }
    const notFound = { error: 'Not found', message: 'Workflow or batch not found', status: 'failed' };
    const unknownWorkflow = await api('/batch/execute', {
      body: { workflow: { workflowId: randomUUID(), inputs: [run([bucketUrl('red.png')])] } },
    });
    expect(unknownWorkflow.status).toBe(404);
    expect(unknownWorkflow.json).toEqual(notFound);
    const unknownBatch = await api('/batch/batch-run-workflow_nope/status');
    expect(unknownBatch.status).toBe(404);
    expect(unknownBatch.json).toEqual(notFound);
    expect(sim.batchCount()).toBe(before);
  });
});

describe('cancel', () => {
  it('cancels a pending batch: nothing starts, nothing is fetched, and it cannot be cancelled twice', async () => {
    sim.setExecutionDuration(5000);
    const urls = [bucketUrl('red.png'), bucketUrl('green.png')];
    let accepted: Accepted;
    try {
      accepted = await execute(urls.map((url) => run([url])));
    } finally {
      sim.setExecutionDuration(600);
    }
    const answer = await api(`/batch/${accepted.batchId}/cancel`, { method: 'POST' });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      batchId: accepted.batchId,
      status: 'cancelled',
      message: expect.any(String),
      previousStatus: 'pending',
      assets: { total: 2, pending: 0, processing: 0, completed: 0, failed: 2 },
    });
    expect(answer.headers.get('api-version')).toBe('1.0');
    const after = await status(accepted.batchId);
    expect(after.status).toBe('cancelled');
    expect(after.completedAt).not.toBeNull();
    const again = await api(`/batch/${accepted.batchId}/cancel`, { method: 'POST' });
    expect(again.status).toBe(400);
    expect((again.json as Json).message).toContain('cancelled');
    expect(sim.batches().find((b) => b.batchId === accepted.batchId)?.cancelled).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const url of urls) expect(sim.fetchedInputs()).not.toContain(url);
    const list = await executions(accepted.batchId);
    expect(list.executions.every((e) => e.status === 'failed' && e.startedAt === null)).toBe(true);
  });

  it('lets runs in flight complete when a running batch is cancelled', async () => {
    sim.setExecutionDuration(3000);
    let accepted: Accepted;
    try {
      accepted = await execute([run([bucketUrl('red.png')]), run([bucketUrl('green.png')]), run([bucketUrl('blue.png')])]);
    } finally {
      sim.setExecutionDuration(600);
    }
    // Run 0 runs from 500 ms to 1000 ms; run 1 would start at 1500 ms.
    await new Promise((resolve) => setTimeout(resolve, 700));
    const answer = await api(`/batch/${accepted.batchId}/cancel`, { method: 'POST' });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ previousStatus: 'running', assets: { processing: 1, failed: 2 } });
    const deadline = Date.now() + 5000;
    let list = await executions(accepted.batchId);
    while (list.executions[0]?.status === 'running' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      list = await executions(accepted.batchId);
    }
    expect(list.executions.map((e) => e.status)).toEqual(['success', 'failed', 'failed']);
    expect(list.executions[0]?.outputs).toHaveLength(1);
    expect((await status(accepted.batchId)).status).toBe('cancelled');
  });
});

describe('rate limit', () => {
  it('answers 429 with x-ratelimit-reset (Unix seconds) above the per-(org, user) limit', async () => {
    const limited = await FireflySimulator.start({ rateLimit: { limit: 3, windowMs: 60_000 } });
    try {
      limited.addCredential(credential);
      const other = { ...credential, clientId: `${credential.clientId}-2`, userId: 'OTHER@techacct.adobe.com' };
      limited.addCredential(other);
      const limitedToken = await getToken(limited);
      const headers = apiHeaders(limitedToken);
      const remaining: (string | null)[] = [];
      for (let i = 0; i < 3; i++) {
        const answer = await call(`${limited.baseUrl}/batches`, { headers });
        expect(answer.status).toBe(200);
        remaining.push(answer.headers.get('x-ratelimit-remaining'));
      }
      expect(remaining).toEqual(['2', '1', '0']);
      const startedAt = Date.now();
      const refused = await call(`${limited.baseUrl}/batches`, { headers });
      expect(refused.status).toBe(429);
      expect(refused.json).toMatchObject({ error: 'Rate limit exceeded', status: 'failed', message: expect.any(String) });
      expect(refused.headers.get('x-ratelimit-limit')).toBe('3');
      expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
      const reset = Number(refused.headers.get('x-ratelimit-reset'));
      expect(reset).toBeGreaterThan(startedAt / 1000 + 55);
      expect(reset).toBeLessThanOrEqual(Math.ceil(startedAt / 1000) + 61);
      const otherUser = await call(`${limited.baseUrl}/batches`, { headers: apiHeaders(await getToken(limited, other), other) });
      expect(otherUser.status).toBe(200);
      expect(limited.batchCount()).toBe(0);
    } finally {
      await limited.close();
    }
  });
});
