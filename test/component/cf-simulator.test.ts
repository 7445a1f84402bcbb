/**
 * The Creative Force simulator over real HTTP: token endpoint, gateway, fake S3, submission rules,
 * rate limit, fault injection and webhook signing. Signatures are verified with node:crypto here,
 * independently of the simulator's own signing code.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureVariants } from '../../src/creative-force/contract.ts';
import { processDetailSchema } from '../../src/creative-force/schemas.ts';
import { CreativeForceSimulator, type SeededTask, sampleImage } from '../../src/simulators/index.ts';

const app = { clientId: 'vendor-app', clientSecret: 'vendor-secret' };

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

async function getToken(sim: CreativeForceSimulator): Promise<string> {
  const answer = await call(sim.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...toForm(app), scope: 'cfgateway' }).toString(),
  });
  expect(answer.status).toBe(200);
  return (answer.json as { access_token: string }).access_token;
}

function toForm(a: { clientId: string; clientSecret: string }): Record<string, string> {
  return { client_id: a.clientId, client_secret: a.clientSecret };
}

function api(sim: CreativeForceSimulator, token: string, method: string, path: string, body?: unknown): Promise<Answer> {
  return call(sim.apiBaseUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

interface Presigned {
  headers: { key: string; value: string }[];
  files: { localId: string; contentType: string; tempFileId: string; tempAssetId: string; presignedUrl: string }[];
  errorFiles: { localId: string; fileName: string; errorCode: string }[];
}

async function presign(
  sim: CreativeForceSimulator,
  token: string,
  clientId: string,
  files: { fileName: string; fileLength: number }[],
) {
  const answer = await api(sim, token, 'POST', '/assets/get-presigned-url', {
    clientId,
    physicalFileTypeId: 2,
    files: files.map((f, i) => ({ ...f, localId: `local-${i}` })),
  });
  expect(answer.status).toBe(200);
  return answer.json as Presigned;
}

function uploadHeaders(presigned: Presigned, contentType: string): Record<string, string> {
  return { ...Object.fromEntries(presigned.headers.map((h) => [h.key, h.value])), 'content-type': contentType };
}

/** Presigns and uploads one file; returns its tempAssetId. */
async function upload(
  sim: CreativeForceSimulator,
  token: string,
  clientId: string,
  fileName: string,
  body: Buffer,
): Promise<string> {
  const presigned = await presign(sim, token, clientId, [{ fileName, fileLength: body.length }]);
  const file = presigned.files[0];
  if (!file) throw new Error('no presigned file');
  const put = await call(file.presignedUrl, { method: 'PUT', headers: uploadHeaders(presigned, file.contentType), body });
  expect(put.status).toBe(200);
  return file.tempAssetId;
}

/** Sends a request without any body framing header over a plain socket; returns the raw answer. */
function rawRequest(url: string, method: string, headers: Record<string, string>): Promise<string> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(target.port), target.hostname, () => {
      const lines = [`${method} ${target.pathname}${target.search} HTTP/1.1`, `host: ${target.host}`, 'connection: close'];
      for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

function newAsset(assetId: string, assetAttributeId = 0) {
  return { oldOutputAssetId: null, assetId, outputResultTypeId: 1, assetAttributeId, resourceIds: null, specId: null };
}

describe('Creative Force simulator', () => {
  let sim: CreativeForceSimulator;
  let token: string;
  let frontJpeg: Buffer;
  let colorRef: Buffer;
  let task: SeededTask;

  beforeAll(async () => {
    // A generous limit here: the default limit has its own simulator below.
    sim = await CreativeForceSimulator.start({ rateLimitPerSecond: 100_000 });
    sim.addApp(app);
    frontJpeg = await sampleImage({ width: 64, height: 48, format: 'jpeg', label: 'Front' });
    colorRef = await sampleImage({ width: 16, height: 16, format: 'png', color: '#ff0000' });
    task = sim.addTask({
      productCode: 'AW2130146',
      inputs: [{ positionName: 'Front', fileName: 'front.jpg', body: frontJpeg }],
      colorReferences: [{ fileName: 'swatch.png', body: colorRef }],
      slots: [
        { mappingKeyId: '1_Front', positionName: 'Front' },
        { mappingKeyId: '3_Detail', isRequired: false, minQuantity: 0 },
      ],
      annotations: [{ comment: 'sleeve too long' }],
    });
    token = await getToken(sim);
  });

  afterAll(async () => {
    await sim.close();
  });

  describe('token endpoint', () => {
    it('issues a bearer token for registered client credentials', async () => {
      const answer = await call(sim.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=client_credentials&client_id=${app.clientId}&client_secret=${app.clientSecret}&scope=cfgateway`,
      });
      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({
        access_token: expect.any(String),
        expires_in: 3600,
        token_type: 'Bearer',
        scope: 'cfgateway',
      });
    });

    it('refuses a wrong secret with invalid_client and a wrong grant with unsupported_grant_type', async () => {
      const bad = await call(sim.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: app.clientId,
          client_secret: 'nope',
        }).toString(),
      });
      expect(bad.status).toBe(400);
      expect(bad.json).toEqual({ error: 'invalid_client' });
      const grant = await call(sim.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', ...toForm(app) }).toString(),
      });
      expect(grant.status).toBe(400);
      expect(grant.json).toEqual({ error: 'unsupported_grant_type' });
    });

    it('answers 401 with an empty body without a valid token, and after tokens expire', async () => {
      const none = await call(`${sim.apiBaseUrl}/cloud-automation/task-processes/${task.taskProcessId}`);
      expect(none.status).toBe(401);
      expect(none.text).toBe('');
      const forged = await api(sim, 'forged-token', 'GET', `/cloud-automation/task-processes/${task.taskProcessId}`);
      expect(forged.status).toBe(401);
      expect(forged.text).toBe('');

      const fresh = await getToken(sim);
      expect((await api(sim, fresh, 'GET', `/products/${task.productId}`)).status).toBe(200);
      sim.expireTokens();
      expect((await api(sim, fresh, 'GET', `/products/${task.productId}`)).status).toBe(401);
      token = await getToken(sim);
    });

    it('lets tokens expire after tokenTtlSeconds', async () => {
      const short = await CreativeForceSimulator.start({ tokenTtlSeconds: 1 });
      try {
        short.addApp(app);
        const t = await getToken(short);
        const seeded = short.addTask({ inputs: [], slots: [{ mappingKeyId: 'k' }] });
        const path = `/cloud-automation/task-processes/${seeded.taskProcessId}`;
        expect((await api(short, t, 'GET', path)).status).toBe(200);
        await new Promise((r) => setTimeout(r, 1100));
        expect((await api(short, t, 'GET', path)).status).toBe(401);
      } finally {
        await short.close();
      }
    });
  });

  describe('gateway', () => {
    it('serves the process detail in the shape of the contract, and 404 with a business error for an unknown id', async () => {
      const answer = await api(sim, token, 'GET', `/cloud-automation/task-processes/${task.taskProcessId}`);
      expect(answer.status).toBe(200);
      const detail = processDetailSchema.parse(answer.json);
      expect(detail.taskProcessId).toBe(task.taskProcessId);
      expect(detail.taskId).toBe(task.taskId);
      expect(detail.clientId).toBe(task.clientId);
      expect(detail.colorReferenceFiles).toEqual(task.colorReferenceFileIds);
      expect(detail.inputAssets).toEqual([
        {
          assetId: task.inputAssetIds[0],
          fileName: 'front.jpg',
          positionTagId: null,
          positionName: 'Front',
          assetAttributeId: 0,
        },
      ]);
      expect(detail.outputAssets).toEqual([]);
      expect(detail.taskProcessExpectedOutputs.map((s) => [s.mappingKeyId, s.isRequired, s.minQuantity, s.maxQuantity])).toEqual([
        ['1_Front', true, 1, 1],
        ['3_Detail', false, 0, 1],
      ]);
      expect(detail.taskProcessExpectedOutputs[0]?.assetContentTypeId).toBe(1);

      const unknown = await api(sim, token, 'GET', `/cloud-automation/task-processes/${randomUUID()}`);
      expect(unknown.status).toBe(404);
      expect((unknown.json as { errors: { code: string }[] }).errors[0]?.code).toBe('GEN-404');
    });

    it('resolves input assets to pre-signed S3 GET URLs that serve the bytes, and refuses tampered signatures', async () => {
      const answer = await api(sim, token, 'POST', '/assets/bulk-get-assets', [task.inputAssetIds[0], randomUUID()]);
      expect(answer.status).toBe(200);
      const assets = answer.json as { assetId: string; fileName: string; fileUrl: string; fileLength: number }[];
      expect(assets).toHaveLength(1);
      expect(assets[0]).toMatchObject({ assetId: task.inputAssetIds[0], fileName: 'front.jpg', fileLength: frontJpeg.length });
      const url = assets[0]?.fileUrl ?? '';
      expect(url.startsWith(`${sim.baseUrl}/s3/`)).toBe(true);
      expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('3600');

      const gets = sim.s3Stats().gets;
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-length')).toBe(String(frontJpeg.length));
      expect(Buffer.from(await response.arrayBuffer()).equals(frontJpeg)).toBe(true);
      expect(sim.s3Stats().gets).toBe(gets + 1);

      const tampered = new URL(url);
      const signature = tampered.searchParams.get('X-Amz-Signature') ?? '';
      tampered.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);
      const refused = await call(tampered.toString());
      expect(refused.status).toBe(403);
      expect(refused.text).toContain('<Code>SignatureDoesNotMatch</Code>');

      const unsigned = await call(url.split('?')[0] ?? '');
      expect(unsigned.status).toBe(403);
      expect(unsigned.text).toContain('<Code>AccessDenied</Code>');
    });

    it('hands out S3 URLs under its public origin (a proxy in front of it), and serves them at its own', async () => {
      const proxied = await CreativeForceSimulator.start({ publicOrigin: 'http://127.0.0.1:9' });
      try {
        proxied.addApp(app);
        const seeded = proxied.addTask({
          inputs: [{ positionName: 'Front', fileName: 'front.jpg', body: frontJpeg }],
          slots: [{ mappingKeyId: '1_Front' }],
        });
        const proxiedToken = await getToken(proxied);
        const answer = await api(proxied, proxiedToken, 'POST', '/assets/bulk-get-assets', seeded.inputAssetIds);
        const [asset] = answer.json as { fileUrl: string }[];
        const url = new URL(asset?.fileUrl ?? '');
        expect(url.origin).toBe('http://127.0.0.1:9');
        const bytes = Buffer.from(await (await fetch(`${proxied.baseUrl}${url.pathname}${url.search}`)).arrayBuffer());
        expect(bytes.equals(frontJpeg)).toBe(true);
        const presigned = await api(proxied, proxiedToken, 'POST', '/assets/get-presigned-url', {
          clientId: seeded.clientId,
          physicalFileTypeId: 2,
          files: [{ fileName: 'out.jpg', localId: 'l1', fileLength: 10 }],
        });
        const [file] = (presigned.json as { files: { presignedUrl: string }[] }).files;
        expect(new URL(file?.presignedUrl ?? '').origin).toBe('http://127.0.0.1:9');
      } finally {
        await proxied.close();
      }
    });

    it('resolves files with size and MD5, and refuses more than 100 ids', async () => {
      const answer = await api(sim, token, 'POST', '/files/bulk-get-files', task.colorReferenceFileIds);
      expect(answer.status).toBe(200);
      const [file] = answer.json as { fileId: string; fileName: string; fileUrl: string; fileLength: number; md5: string }[];
      expect(file).toMatchObject({
        fileId: task.colorReferenceFileIds[0],
        fileName: 'swatch.png',
        fileLength: colorRef.length,
        md5: createHash('md5').update(colorRef).digest('hex'),
      });
      const bytes = Buffer.from(await (await fetch(file?.fileUrl ?? '')).arrayBuffer());
      expect(bytes.equals(colorRef)).toBe(true);

      const tooMany = await api(
        sim,
        token,
        'POST',
        '/files/bulk-get-files',
        Array.from({ length: 101 }, () => randomUUID()),
      );
      expect(tooMany.status).toBe(400);
      expect((tooMany.json as { errors: { code: string }[] }).errors[0]?.code).toBe('GEN-4');

      const notAList = await api(sim, token, 'POST', '/files/bulk-get-files', { fileIds: task.colorReferenceFileIds });
      expect(notAList.status).toBe(400);
      expect(notAList.json).toMatchObject({ title: 'One or more validation errors occurred.', status: 400 });
    });

    it('serves product, job, annotations and outfit defaults', async () => {
      const product = await api(sim, token, 'GET', `/products/${task.productId}`);
      expect(product.json).toMatchObject({ productId: task.productId, productCode: 'AW2130146' });
      const job = await api(sim, token, 'GET', `/jobs/${task.jobId}`);
      expect(job.json).toMatchObject({ jobId: task.jobId, jobCode: 'Summer 2026' });
      const annotations = await api(sim, token, 'GET', `/tasks/${task.taskId}/annotations`);
      expect(annotations.json).toEqual([
        { annotationId: task.annotationIds[0], assetId: null, comment: 'sleeve too long', markingFileId: null },
      ]);
      expect((await api(sim, token, 'GET', `/tasks/${randomUUID()}/annotations`)).json).toEqual([]);
      expect((await api(sim, token, 'GET', `/outfits/${randomUUID()}/products`)).json).toEqual([]);
      expect((await api(sim, token, 'POST', '/outfits/styling-assets', { productIds: [randomUUID()] })).json).toEqual([]);
    });

    it('records status updates and refuses one without a message', async () => {
      const seeded = sim.addTask({ inputs: [], slots: [{ mappingKeyId: 'k' }] });
      const path = `/cloud-automation/task-processes/${seeded.taskProcessId}/status`;
      const ok = await api(sim, token, 'PUT', path, { status: 'Failed', message: 'model refused the input' });
      expect(ok.status).toBe(200);
      expect(ok.json).toEqual({});
      const missing = await api(sim, token, 'PUT', path, { status: 'Failed' });
      expect(missing.status).toBe(400);
      expect(missing.json).toMatchObject({ errors: { Message: ['The Message field is required.'] } });
      expect(sim.statusUpdates(seeded.taskProcessId)).toEqual([
        { taskProcessId: seeded.taskProcessId, status: 'Failed', message: 'model refused the input', at: expect.any(Number) },
      ]);
    });
  });

  describe('pre-signed upload and S3 PUT', () => {
    it('mints URLs with the encryption headers, content types and errorFiles', async () => {
      const presigned = await presign(sim, token, task.clientId, [
        { fileName: 'out.JPG', fileLength: 10 },
        { fileName: 'clip.mp4', fileLength: 10 },
        { fileName: 'anim.gif', fileLength: 10 },
        { fileName: 'empty.png', fileLength: 0 },
      ]);
      expect(presigned.headers).toEqual([
        { key: 'x-amz-server-side-encryption', value: 'aws:kms' },
        { key: 'x-amz-server-side-encryption-aws-kms-key-id', value: 'arn:aws:kms:eu-west-1:000000000000:key/sim' },
      ]);
      expect(presigned.files.map((f) => [f.localId, f.contentType])).toEqual([
        ['local-0', 'image/jpeg'],
        ['local-1', 'video/mp4'],
      ]);
      expect(presigned.errorFiles.map((f) => [f.localId, f.fileName])).toEqual([
        ['local-2', 'anim.gif'],
        ['local-3', 'empty.png'],
      ]);
      expect(presigned.errorFiles.every((f) => typeof f.errorCode === 'string' && f.errorCode.length > 0)).toBe(true);

      const wrongType = await api(sim, token, 'POST', '/assets/get-presigned-url', {
        clientId: task.clientId,
        physicalFileTypeId: 1,
        files: [{ fileName: 'a.jpg', localId: 'a', fileLength: 1 }],
      });
      expect(wrongType.status).toBe(400);
      expect((wrongType.json as { errors: { code: string }[] }).errors[0]?.code).toBe('GEN-4');
      const malformed = await api(sim, token, 'POST', '/assets/get-presigned-url', { clientId: task.clientId, files: 'x' });
      expect(malformed.status).toBe(400);
      expect(malformed.json).toMatchObject({ status: 400, errors: { '$.physicalFileTypeId': expect.any(Array) } });
      const unknownWorkspace = await api(sim, token, 'POST', '/assets/get-presigned-url', {
        clientId: randomUUID(),
        physicalFileTypeId: 2,
        files: [{ fileName: 'a.jpg', localId: 'a', fileLength: 1 }],
      });
      expect(unknownWorkspace.status).toBe(400);
    });

    it('accepts an exact PUT and stores the object; refuses chunked, wrong type, missing or extra headers', async () => {
      const body = await sampleImage({ width: 32, height: 32, format: 'png', label: 'out' });
      const presigned = await presign(sim, token, task.clientId, [{ fileName: 'out.png', fileLength: body.length }]);
      const file = presigned.files[0];
      if (!file) throw new Error('no presigned file');
      const headers = uploadHeaders(presigned, file.contentType);

      const chunked = await call(file.presignedUrl, {
        method: 'PUT',
        headers,
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new Uint8Array(body));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(chunked.status).toBe(501);
      expect(chunked.text).toContain('<Code>NotImplemented</Code>');

      const wrongType = await call(file.presignedUrl, {
        method: 'PUT',
        headers: { ...headers, 'content-type': 'image/jpeg' },
        body,
      });
      expect(wrongType.status).toBe(403);
      expect(wrongType.text).toContain('<Code>SignatureDoesNotMatch</Code>');

      const { 'x-amz-server-side-encryption-aws-kms-key-id': _kms, ...missingKms } = headers;
      const missing = await call(file.presignedUrl, { method: 'PUT', headers: missingKms, body });
      expect(missing.status).toBe(403);

      const extra = await call(file.presignedUrl, { method: 'PUT', headers: { ...headers, 'x-amz-meta-origin': 'x' }, body });
      expect(extra.status).toBe(403);
      expect(extra.text).toContain('<Code>AccessDenied</Code>');

      // fetch and node:http always frame a PUT body; a raw request can omit Content-Length.
      const noLength = await rawRequest(file.presignedUrl, 'PUT', headers);
      expect(noLength).toMatch(/^HTTP\/1\.1 411 /);
      expect(noLength).toContain('<Code>MissingContentLength</Code>');

      expect(sim.uploadedObject(file.tempAssetId)).toBeUndefined();
      const puts = sim.s3Stats().puts;
      const ok = await call(file.presignedUrl, { method: 'PUT', headers, body });
      expect(ok.status).toBe(200);
      expect(ok.text).toBe('');
      expect(sim.s3Stats().puts).toBe(puts + 1);
      const stored = sim.uploadedObject(file.tempAssetId);
      expect(stored?.contentType).toBe('image/png');
      expect(stored?.body.equals(body)).toBe(true);
    });
  });

  describe('submit output', () => {
    it('answers ErrorCode-1554 when a mappingKeyId is missing, then accepts a correct submission once', async () => {
      const seeded = sim.addTask({
        clientId: task.clientId,
        inputs: [{ fileName: 'in.jpg', body: frontJpeg }],
        slots: [{ mappingKeyId: '1_Front' }, { mappingKeyId: '3_Detail', isRequired: false, minQuantity: 0 }],
      });
      const path = `/cloud-automation/task-processes/${seeded.taskProcessId}/submit-output`;
      const tempAssetId = await upload(sim, token, seeded.clientId, 'front.jpg', frontJpeg);

      const missing = await api(sim, token, 'POST', path, {
        submitAssets: [{ mappingKeyId: '1_Front', assets: [newAsset(tempAssetId)] }],
      });
      expect(missing.status).toBe(400);
      expect(missing.json).toEqual({ errors: [{ code: 'ErrorCode-1554', message: 'SubmitMappingKeyMismatch' }] });

      const unknownKey = await api(sim, token, 'POST', path, {
        submitAssets: [
          { mappingKeyId: '1_Front', assets: [newAsset(tempAssetId)] },
          { mappingKeyId: '9_Other', assets: [] },
        ],
      });
      expect((unknownKey.json as { errors: { code: string }[] }).errors[0]?.code).toBe('ErrorCode-1554');

      const requiredEmpty = await api(sim, token, 'POST', path, {
        submitAssets: [
          { mappingKeyId: '1_Front', assets: [] },
          { mappingKeyId: '3_Detail', assets: [] },
        ],
      });
      expect(requiredEmpty.status).toBe(400);
      expect((requiredEmpty.json as { errors: { code: string; message: string }[] }).errors[0]?.code).toBe('GEN-4');

      const body = {
        submitAssets: [
          { mappingKeyId: '1_Front', assets: [newAsset(tempAssetId)] },
          { mappingKeyId: '3_Detail', assets: [] },
        ],
      };
      const accepted = await api(sim, token, 'POST', path, body);
      expect(accepted.status).toBe(200);
      const response = accepted.json as { assets: { assetId: string; fileId: string }[] };
      expect(response.assets).toEqual([{ assetId: tempAssetId, fileId: expect.any(String) }]);

      const recorded = sim.submissions(seeded.taskProcessId);
      expect(recorded).toHaveLength(1);
      expect(recorded[0]?.body).toEqual(body);
      expect(recorded[0]?.response).toEqual(response);
      expect(sim.rejectedSubmissions(seeded.taskProcessId).map((s) => s.error?.code)).toEqual([
        'ErrorCode-1554',
        'ErrorCode-1554',
        'GEN-4',
      ]);
      expect(sim.taskState(seeded.taskProcessId)).toBe('submitted');

      const again = await api(sim, token, 'POST', path, body);
      expect(again.status).toBe(400);
      expect(again.json).toEqual({ errors: [{ code: 'GEN-4', message: 'InvalidData: task process is not in progress' }] });

      // The temp asset is single-use: another task process of the workspace cannot reuse it.
      const other = sim.addTask({ clientId: task.clientId, inputs: [], slots: [{ mappingKeyId: 'k' }] });
      const reuse = await api(sim, token, 'POST', `/cloud-automation/task-processes/${other.taskProcessId}/submit-output`, {
        submitAssets: [{ mappingKeyId: 'k', assets: [newAsset(tempAssetId)] }],
      });
      expect(reuse.status).toBe(400);
      expect((reuse.json as { errors: { message: string }[] }).errors[0]?.message).toContain('already submitted');
    });

    it('refuses assets that were never uploaded, do not fit the slot, or exceed the quantities', async () => {
      const seeded = sim.addTask({
        clientId: task.clientId,
        inputs: [],
        slots: [{ mappingKeyId: 'video', assetContentTypeId: 2 }],
      });
      const path = `/cloud-automation/task-processes/${seeded.taskProcessId}/submit-output`;
      const presigned = await presign(sim, token, seeded.clientId, [{ fileName: 'x.mp4', fileLength: 5 }]);
      const notUploaded = await api(sim, token, 'POST', path, {
        submitAssets: [{ mappingKeyId: 'video', assets: [newAsset(presigned.files[0]?.tempAssetId ?? '')] }],
      });
      expect((notUploaded.json as { errors: { message: string }[] }).errors[0]?.message).toContain('has not been uploaded');

      const photo = await upload(sim, token, seeded.clientId, 'p.jpg', frontJpeg);
      const wrongKind = await api(sim, token, 'POST', path, {
        submitAssets: [{ mappingKeyId: 'video', assets: [newAsset(photo)] }],
      });
      expect((wrongKind.json as { errors: { message: string }[] }).errors[0]?.message).toContain('does not fit');

      const v1 = await upload(sim, token, seeded.clientId, 'a.mp4', Buffer.from('video-1'));
      const v2 = await upload(sim, token, seeded.clientId, 'b.mp4', Buffer.from('video-2'));
      const tooMany = await api(sim, token, 'POST', path, {
        submitAssets: [{ mappingKeyId: 'video', assets: [newAsset(v1), newAsset(v2)] }],
      });
      expect((tooMany.json as { errors: { message: string }[] }).errors[0]?.message).toContain('at most 1');
      const alternate = await api(sim, token, 'POST', path, {
        submitAssets: [{ mappingKeyId: 'video', assets: [newAsset(v1), newAsset(v2, 4)] }],
      });
      expect((alternate.json as { errors: { message: string }[] }).errors[0]?.message).toContain('does not accept alternates');

      const ok = await api(sim, token, 'POST', path, { submitAssets: [{ mappingKeyId: 'video', assets: [newAsset(v2)] }] });
      expect(ok.status).toBe(200);
      expect(sim.rejectedSubmissions(seeded.taskProcessId)).toHaveLength(4);
    });

    it('supports a rework pass with KeepOldAsset and RedoAsset', async () => {
      const seeded = sim.addTask({
        clientId: task.clientId,
        inputs: [],
        slots: [{ mappingKeyId: 'front', maxQuantity: 2 }],
      });
      const path = `/cloud-automation/task-processes/${seeded.taskProcessId}/submit-output`;
      const a = await upload(sim, token, seeded.clientId, 'a.jpg', frontJpeg);
      const b = await upload(sim, token, seeded.clientId, 'b.jpg', frontJpeg);
      expect(
        (await api(sim, token, 'POST', path, { submitAssets: [{ mappingKeyId: 'front', assets: [newAsset(a), newAsset(b)] }] }))
          .status,
      ).toBe(200);

      sim.rejectOutputs(seeded.taskProcessId, [b]);
      const detail = processDetailSchema.parse(
        (await api(sim, token, 'GET', `/cloud-automation/task-processes/${seeded.taskProcessId}`)).json,
      );
      expect(detail.outputAssets.map((o) => [o.assetId, o.isRejected])).toEqual([
        [a, false],
        [b, true],
      ]);
      expect(detail.taskProcessExpectedOutputs[0]).toMatchObject({ isRejected: true, outputAssetIds: [a, b] });

      const c = await upload(sim, token, seeded.clientId, 'c.jpg', frontJpeg);
      const keepRejected = await api(sim, token, 'POST', path, {
        submitAssets: [{ mappingKeyId: 'front', assets: [{ ...newAsset(b), outputResultTypeId: 2 }] }],
      });
      expect(keepRejected.status).toBe(400);
      const rework = await api(sim, token, 'POST', path, {
        submitAssets: [
          {
            mappingKeyId: 'front',
            assets: [
              { ...newAsset(a), outputResultTypeId: 2 },
              { ...newAsset(c), outputResultTypeId: 3, oldOutputAssetId: b },
            ],
          },
        ],
      });
      expect(rework.status).toBe(200);
      expect(sim.outputs(seeded.taskProcessId).map((o) => [o.assetId, o.isRejected])).toEqual([
        [a, false],
        [c, false],
      ]);
    });

    it('holds a submission until released, and drops it when the client leaves meanwhile', async () => {
      const seeded = sim.addTask({ clientId: task.clientId, inputs: [], slots: [{ mappingKeyId: 'k' }] });
      const path = `/cloud-automation/task-processes/${seeded.taskProcessId}/submit-output`;
      const tempAssetId = await upload(sim, token, seeded.clientId, 'k.jpg', frontJpeg);
      const body = { submitAssets: [{ mappingKeyId: 'k', assets: [newAsset(tempAssetId)] }] };

      const dropped = sim.holdSubmissions();
      const abort = new AbortController();
      const abandoned = fetch(`${sim.apiBaseUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: abort.signal,
      }).catch((err: unknown) => err);
      expect(await dropped.arrived).toBe(seeded.taskProcessId);
      abort.abort();
      expect(await abandoned).toBeInstanceOf(Error);
      await new Promise((r) => setTimeout(r, 50));
      dropped.release();
      await new Promise((r) => setTimeout(r, 50));
      expect(sim.submissions(seeded.taskProcessId)).toHaveLength(0);
      expect(sim.taskState(seeded.taskProcessId)).toBe('inProgress');

      const held = sim.holdSubmissions();
      const pending = api(sim, token, 'POST', path, body);
      expect(await held.arrived).toBe(seeded.taskProcessId);
      await new Promise((r) => setTimeout(r, 50));
      expect(sim.submissions(seeded.taskProcessId)).toHaveLength(0);
      held.release();
      const answer = await pending;
      expect(answer.status).toBe(200);
      expect(sim.submissions(seeded.taskProcessId)).toHaveLength(1);
    });
  });

  describe('fault injection', () => {
    it('forces 429 for a while, with or without Retry-After', async () => {
      const path = `/products/${task.productId}`;
      sim.forceRateLimit(300, { retryAfterSeconds: null });
      const noHeader = await api(sim, token, 'GET', path);
      expect(noHeader.status).toBe(429);
      expect(noHeader.headers.get('retry-after')).toBeNull();
      expect(noHeader.json).toEqual({ errors: [{ code: 'GEN-429', message: 'TooManyRequests' }] });
      await new Promise((r) => setTimeout(r, 320));
      sim.forceRateLimit(300, { retryAfterSeconds: 7 });
      expect((await api(sim, token, 'GET', path)).headers.get('retry-after')).toBe('7');
      await new Promise((r) => setTimeout(r, 320));
      expect((await api(sim, token, 'GET', path)).status).toBe(200);
    });

    it('answers injected faults the given number of times, then behaves normally', async () => {
      const path = `/jobs/${task.jobId}`;
      const before = sim.callLog().length;
      sim.failNext(
        { method: 'GET', pathIncludes: '/jobs/' },
        { status: 503, body: { errors: [{ code: 'GEN-503', message: 'Down' }] }, headers: { 'x-fault': 'yes' } },
        2,
      );
      const first = await api(sim, token, 'GET', path);
      expect([first.status, first.headers.get('x-fault'), first.json]).toEqual([
        503,
        'yes',
        { errors: [{ code: 'GEN-503', message: 'Down' }] },
      ]);
      expect((await api(sim, token, 'GET', path)).status).toBe(503);
      expect((await api(sim, token, 'GET', path)).status).toBe(200);
      const logged = sim.callLog().slice(before);
      expect(logged.map((c) => c.status)).toEqual([503, 503, 200]);
    });
  });

  describe('webhooks', () => {
    let receiver: Server;
    let receiverUrl: string;
    const received: { headers: Record<string, string | string[] | undefined>; body: Buffer }[] = [];

    beforeAll(async () => {
      receiver = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push({ headers: req.headers, body: Buffer.concat(chunks) });
          res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true}');
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhook`;
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    });

    it('signs with every variant of the family exactly as node:crypto computes it', () => {
      const secret = randomBytes(32).toString('base64');
      const body = JSON.stringify(sim.webhookPayload(task.taskProcessId));
      const expected: Record<string, string> = {
        'b64key-sha256-base64': createHmac('sha256', Buffer.from(secret, 'base64')).update(body).digest('base64'),
        'b64key-sha256-hex': createHmac('sha256', Buffer.from(secret, 'base64')).update(body).digest('hex'),
        'b64key-sha1-base64': createHmac('sha1', Buffer.from(secret, 'base64')).update(body).digest('base64'),
        'b64key-sha1-hex': createHmac('sha1', Buffer.from(secret, 'base64')).update(body).digest('hex'),
        'utf8key-sha256-base64': createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('base64'),
        'utf8key-sha256-hex': createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('hex'),
        'utf8key-sha1-base64': createHmac('sha1', Buffer.from(secret, 'utf8')).update(body).digest('base64'),
        'utf8key-sha1-hex': createHmac('sha1', Buffer.from(secret, 'utf8')).update(body).digest('hex'),
      };
      for (const variant of signatureVariants) expect(sim.signWebhook(body, secret, variant)).toBe(expected[variant]);
      expect(sim.signWebhook(Buffer.from(body), secret)).toBe(expected['b64key-sha256-base64']);
      expect(new Set(Object.values(expected)).size).toBe(8);
    });

    it('builds the ReadyToWork body like the guide and POSTs it signed', async () => {
      const payload = sim.webhookPayload(task.taskProcessId, { StepId: '26', StyleGuideName: undefined });
      expect(payload).toMatchObject({
        Action: 'ReadyToWork',
        TaskId: task.taskId,
        TaskProcessId: task.taskProcessId,
        SubfunctionId: 54,
        ClientId: task.clientId,
        ProductId: task.productId,
        ProductCode: 'AW2130146',
        JobId: task.jobId,
        StepId: '26',
        StepStatusId: '2000',
        StepStatusName: 'Ready To Work',
      });
      expect('StyleGuideName' in payload).toBe(false);

      const secret = randomBytes(24).toString('base64');
      const answer = await sim.sendWebhook(receiverUrl, task.taskProcessId, secret, { variant: 'utf8key-sha1-hex' });
      expect(answer).toEqual({ status: 202, body: { accepted: true } });
      const last = received.at(-1);
      expect(last?.headers['content-type']).toBe('application/json');
      const raw = last?.body ?? Buffer.alloc(0);
      expect(last?.headers['x-cf-signature']).toBe(createHmac('sha1', Buffer.from(secret, 'utf8')).update(raw).digest('hex'));
      expect(JSON.parse(raw.toString('utf8'))).toEqual(sim.webhookPayload(task.taskProcessId));
    });
  });

  describe('sample images', () => {
    it('renders each format at the requested size', async () => {
      for (const format of ['jpeg', 'png', 'tiff', 'webp'] as const) {
        const meta = await sharp(await sampleImage({ width: 120, height: 80, format, label: format })).metadata();
        expect([meta.format, meta.width, meta.height]).toEqual([format, 120, 80]);
      }
    });
  });
});

describe('Creative Force simulator rate limit and lifecycle', () => {
  it('answers 429 once 20 requests arrived within a second, and counts every arrival', async () => {
    const sim = await CreativeForceSimulator.start();
    try {
      sim.addApp(app);
      const seeded = sim.addTask({ inputs: [{ fileName: 'in.png', body: Buffer.from('png') }], slots: [{ mappingKeyId: 'k' }] });
      const token = await getToken(sim);
      await new Promise((r) => setTimeout(r, 1100));
      const path = `/cloud-automation/task-processes/${seeded.taskProcessId}`;
      const answers = await Promise.all(Array.from({ length: 25 }, () => api(sim, token, 'GET', path)));
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(20);
      expect(statuses.filter((s) => s === 429)).toHaveLength(5);
      const refused = answers.find((a) => a.status === 429);
      expect(refused?.headers.get('retry-after')).toBe('1');
      expect(refused?.json).toEqual({ errors: [{ code: 'GEN-429', message: 'TooManyRequests' }] });
      expect(sim.count429()).toBe(5);
      expect(sim.maxRequestsInWindow()).toBe(25);
      expect(sim.maxRequestsInWindow(1)).toBeGreaterThanOrEqual(1);
      expect(sim.callLog()).toHaveLength(26);
      expect(sim.callLog()[0]).toMatchObject({ method: 'POST', path: '/connect/token', clientIp: '127.0.0.1', status: 200 });

      // S3 traffic is outside the limit and the call log.
      await new Promise((r) => setTimeout(r, 1100));
      const assets = await api(sim, token, 'POST', '/assets/bulk-get-assets', seeded.inputAssetIds);
      const [asset] = assets.json as { fileUrl: string }[];
      expect((await call(asset?.fileUrl ?? '')).text).toBe('png');
      expect(sim.s3Stats().gets).toBe(1);
      expect(sim.callLog()).toHaveLength(27);
    } finally {
      await sim.close();
    }
  });

  it('serves the gateway at overridden paths', async () => {
    const sim = await CreativeForceSimulator.start({ paths: { processDetail: '/v2/tp/{taskProcessId}/detail' } });
    try {
      sim.addApp(app);
      const seeded = sim.addTask({ inputs: [], slots: [{ mappingKeyId: 'k' }] });
      const token = await getToken(sim);
      expect((await api(sim, token, 'GET', `/v2/tp/${seeded.taskProcessId}/detail`)).status).toBe(200);
      expect((await api(sim, token, 'GET', `/cloud-automation/task-processes/${seeded.taskProcessId}`)).status).toBe(404);
      expect(sim.paths.processDetail).toBe('/v2/tp/{taskProcessId}/detail');
    } finally {
      await sim.close();
    }
  });

  it('expects the Update Process Status field names it was started with, strictly', async () => {
    const sim = await CreativeForceSimulator.start({ statusBodyFields: { status: 'state', message: 'comment' } });
    try {
      sim.addApp(app);
      const seeded = sim.addTask({ inputs: [], slots: [{ mappingKeyId: 'k' }] });
      const token = await getToken(sim);
      const path = `/cloud-automation/task-processes/${seeded.taskProcessId}/status`;
      const usual = await api(sim, token, 'PUT', path, { status: 'Failed', message: 'why' });
      expect(usual.status).toBe(400);
      expect(usual.json).toMatchObject({
        errors: { State: ['The State field is required.'], Comment: ['The Comment field is required.'] },
      });
      expect((await api(sim, token, 'PUT', path, { state: 'Failed', comment: 'why' })).status).toBe(200);
      expect(sim.statusUpdates(seeded.taskProcessId)).toEqual([
        { taskProcessId: seeded.taskProcessId, status: 'Failed', message: 'why', at: expect.any(Number) },
      ]);
    } finally {
      await sim.close();
    }
  });

  it('closes cleanly and refuses connections afterwards', async () => {
    const sim = await CreativeForceSimulator.start();
    sim.addApp(app);
    await getToken(sim);
    await sim.close();
    await sim.close();
    await expect(fetch(sim.tokenUrl, { method: 'POST' })).rejects.toThrow();
  });
});
