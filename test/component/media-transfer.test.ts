/**
 * downloadToFile / uploadFile against a real loopback HTTP server standing in for S3
 * (nock cannot intercept undici.request).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/errors.ts';
import { downloadToFile } from '../../src/media/download.ts';
import { uploadFile } from '../../src/media/upload.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  headerNames: string[];
  body: Buffer;
}

let server: Server;
let origin: string;
let handler: Handler;
let requests: ReceivedRequest[];
let dir: string;
const dispatcher = new Agent();

/** A pre-signed-looking URL: its query must never appear in an error. */
const signature = 'X-Amz-Signature=5ecre7deadbeef';
const signedUrl = (path: string) => `${origin}${path}?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Security-Token=T0KEN&${signature}`;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        headerNames: req.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase()),
        body: Buffer.concat(chunks),
      });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await dispatcher.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(async () => {
  requests = [];
  dir = await mkdtemp(join(tmpdir(), 'media-transfer-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `promise`, expecting a ConnectorError, and returns it. */
async function connectorError(promise: Promise<unknown>): Promise<ConnectorError> {
  const err = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectorError);
  return err as ConnectorError;
}

function expectNoSecrets(err: ConnectorError): void {
  const text = `${err.message} ${JSON.stringify(err.details)}`;
  expect(text).not.toContain('X-Amz-Signature');
  expect(text).not.toContain('5ecre7');
  expect(text).not.toContain('T0KEN');
}

describe('downloadToFile', () => {
  const payload = randomBytes(300 * 1024);
  const md5Hex = createHash('md5').update(payload).digest('hex');
  const md5Base64 = createHash('md5').update(payload).digest('base64');

  const servePayload: Handler = (_req, res) => {
    res.writeHead(200, { 'content-length': payload.length, 'content-type': 'image/jpeg' });
    res.end(payload);
  };

  it('streams the body to destPath and verifies size and hex MD5', async () => {
    handler = servePayload;
    const destPath = join(dir, 'input.jpg');
    const result = await downloadToFile({
      url: signedUrl('/bucket/input.jpg'),
      destPath,
      maxBytes: 1024 * 1024,
      expectedBytes: payload.length,
      expectedMd5: md5Hex,
      signal: AbortSignal.timeout(5000),
      dispatcher,
    });
    expect(result).toEqual({ path: destPath, bytes: 307_200, md5Hex });
    expect((await readFile(destPath)).equals(payload)).toBe(true);
    expect(await readdir(dir)).toEqual(['input.jpg']);
    expect(requests[0]?.url).toBe(`/bucket/input.jpg?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Security-Token=T0KEN&${signature}`);
  });

  it('accepts the MD5 in base64 and uses the global dispatcher when none is given', async () => {
    handler = servePayload;
    const result = await downloadToFile({
      url: signedUrl('/bucket/input.jpg'),
      destPath: join(dir, 'b64.jpg'),
      maxBytes: 1024 * 1024,
      expectedMd5: md5Base64,
      signal: AbortSignal.timeout(5000),
    });
    expect(result.md5Hex).toBe(md5Hex);
  });

  it('refuses an MD5 mismatch as retryable ASSET_CHECKSUM_MISMATCH and leaves no file', async () => {
    handler = servePayload;
    const err = await connectorError(
      downloadToFile({
        url: signedUrl('/bucket/input.jpg'),
        destPath: join(dir, 'input.jpg'),
        maxBytes: 1024 * 1024,
        expectedMd5: 'ffffffffffffffffffffffffffffffff',
        signal: AbortSignal.timeout(5000),
        dispatcher,
      }),
    );
    expect(err.code).toBe('ASSET_CHECKSUM_MISMATCH');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(md5Hex);
    expectNoSecrets(err);
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses a size that differs from the announced fileLength', async () => {
    handler = servePayload;
    const err = await connectorError(
      downloadToFile({
        url: signedUrl('/bucket/input.jpg'),
        destPath: join(dir, 'input.jpg'),
        maxBytes: 1024 * 1024,
        expectedBytes: 1000,
        signal: AbortSignal.timeout(5000),
        dispatcher,
      }),
    );
    expect(err.code).toBe('ASSET_CHECKSUM_MISMATCH');
    expect(err.message).toContain('Content-Length is 307200 bytes, Creative Force announced 1000');
  });

  it('refuses an announced fileLength above maxBytes without any request', async () => {
    handler = servePayload;
    const err = await connectorError(
      downloadToFile({
        url: signedUrl('/bucket/big.jpg'),
        destPath: join(dir, 'big.jpg'),
        maxBytes: 1000,
        expectedBytes: 5000,
        signal: AbortSignal.timeout(5000),
        dispatcher,
      }),
    );
    expect(err.code).toBe('ASSET_TOO_LARGE');
    expect(err.retryable).toBe(false);
    expect(requests).toHaveLength(0);
  });

  it('refuses from Content-Length alone, without waiting for the body', async () => {
    // Announces 50 MB, sends 1 KiB and stalls: only an early Content-Length check can answer
    // before the 5 s deadline (which would give ASSET_DOWNLOAD_FAILED instead).
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': 50 * 1024 * 1024 });
      res.write(Buffer.alloc(1024));
    };
    const started = Date.now();
    const err = await connectorError(
      downloadToFile({
        url: signedUrl('/bucket/huge.tif'),
        destPath: join(dir, 'huge.tif'),
        maxBytes: 1024 * 1024,
        signal: AbortSignal.timeout(5000),
        dispatcher,
      }),
    );
    expect(err.code).toBe('ASSET_TOO_LARGE');
    expect(err.details).toMatchObject({ bytes: 52_428_800, maxBytes: 1_048_576, source: 'Content-Length' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await readdir(dir)).toEqual([]);
  });

  it('counts streamed bytes when the length is not sent (chunked) and removes the partial file', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      for (let i = 0; i < 32; i += 1) res.write(Buffer.alloc(64 * 1024, i));
      res.end();
    };
    const err = await connectorError(
      downloadToFile({
        url: signedUrl('/bucket/chunked.jpg'),
        destPath: join(dir, 'chunked.jpg'),
        maxBytes: 1024 * 1024,
        // Creative Force announced a small file: the streamed count still wins.
        expectedBytes: 1000,
        signal: AbortSignal.timeout(5000),
        dispatcher,
      }),
    );
    expect(err.code).toBe('ASSET_TOO_LARGE');
    expect(err.details).toMatchObject({ maxBytes: 1_048_576, source: 'received' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('turns a 500 into retryable ASSET_DOWNLOAD_FAILED naming origin and path only', async () => {
    handler = (_req, res) => {
      res.writeHead(500, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>',
      );
    };
    const err = await connectorError(
      downloadToFile({
        url: signedUrl('/bucket/input.jpg'),
        destPath: join(dir, 'input.jpg'),
        maxBytes: 1024 * 1024,
        signal: AbortSignal.timeout(5000),
        dispatcher,
      }),
    );
    expect(err.code).toBe('ASSET_DOWNLOAD_FAILED');
    expect(err.retryable).toBe(true);
    expect(err.message).toBe(
      `download of ${origin}/bucket/input.jpg failed: HTTP 500 InternalError: We encountered an internal error.`,
    );
    expect(err.details).toMatchObject({ status: 500, url: `${origin}/bucket/input.jpg` });
    expectNoSecrets(err);
    expect(await readdir(dir)).toEqual([]);
  });

  it('treats an expired URL (403 AccessDenied) as retryable', async () => {
    handler = (_req, res) => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message><RequestId>R1</RequestId></Error>');
    };
    const err = await connectorError(
      downloadToFile({
        url: signedUrl('/bucket/input.jpg'),
        destPath: join(dir, 'input.jpg'),
        maxBytes: 1024 * 1024,
        signal: AbortSignal.timeout(5000),
        dispatcher,
      }),
    );
    expect(err.code).toBe('ASSET_DOWNLOAD_FAILED');
    expect(err.retryable).toBe(true);
    expect(err.details).toMatchObject({
      status: 403,
      s3: { code: 'AccessDenied', message: 'Request has expired', requestId: 'R1', excerpt: null },
    });
  });

  it('removes the partial file when the connection drops mid-body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': payload.length });
      res.write(payload.subarray(0, 100 * 1024), () => res.socket?.destroy());
    };
    const err = await connectorError(
      downloadToFile({
        url: signedUrl('/bucket/input.jpg'),
        destPath: join(dir, 'input.jpg'),
        maxBytes: 1024 * 1024,
        signal: AbortSignal.timeout(5000),
        dispatcher,
      }),
    );
    expect(err.code).toBe('ASSET_DOWNLOAD_FAILED');
    expect(err.retryable).toBe(true);
    expectNoSecrets(err);
    expect(await readdir(dir)).toEqual([]);
  });

  it('turns a deadline into retryable ASSET_DOWNLOAD_FAILED', async () => {
    handler = () => {
      // never answers
    };
    const err = await connectorError(
      downloadToFile({
        url: signedUrl('/bucket/slow.jpg'),
        destPath: join(dir, 'slow.jpg'),
        maxBytes: 1024 * 1024,
        signal: AbortSignal.timeout(200),
        dispatcher,
      }),
    );
    expect(err.code).toBe('ASSET_DOWNLOAD_FAILED');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('TimeoutError');
  });

  it('refuses an announced MD5 that is not an MD5 before any request', async () => {
    handler = servePayload;
    const err = await connectorError(
      downloadToFile({
        url: signedUrl('/bucket/input.jpg'),
        destPath: join(dir, 'input.jpg'),
        maxBytes: 1024 * 1024,
        expectedMd5: 'abc-3',
        signal: AbortSignal.timeout(5000),
        dispatcher,
      }),
    );
    expect(err.code).toBe('CF_BAD_RESPONSE');
    expect(requests).toHaveLength(0);
  });
});

describe('uploadFile', () => {
  const s3Headers = {
    'x-amz-server-side-encryption': 'aws:kms',
    'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:eu-west-1:111122223333:key/k1',
  };

  async function outputFile(size: number): Promise<{ path: string; content: Buffer }> {
    const content = randomBytes(size);
    const path = join(dir, 'out_Front.jpg');
    await writeFile(path, content);
    return { path, content };
  }

  it('PUTs exactly the batch headers, Content-Type and an exact Content-Length, never chunked', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.end();
    };
    const { path, content } = await outputFile(200_001);
    await uploadFile({
      url: signedUrl('/bucket/temp/out_Front.jpg'),
      filePath: path,
      contentType: 'image/jpeg',
      headers: s3Headers,
      signal: AbortSignal.timeout(5000),
      dispatcher,
    });
    expect(requests).toHaveLength(1);
    const received = requests[0];
    expect(received?.method).toBe('PUT');
    expect(received?.url).toBe(`/bucket/temp/out_Front.jpg?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Security-Token=T0KEN&${signature}`);
    // host and connection (keep-alive) are the only headers undici adds itself: no user-agent,
    // no accept, no transfer-encoding.
    expect(received?.headerNames.toSorted()).toEqual([
      'connection',
      'content-length',
      'content-type',
      'host',
      'x-amz-server-side-encryption',
      'x-amz-server-side-encryption-aws-kms-key-id',
    ]);
    expect(received?.headers['transfer-encoding']).toBeUndefined();
    expect(received?.headers['content-length']).toBe('200001');
    expect(received?.headers['content-type']).toBe('image/jpeg');
    expect(received?.headers['x-amz-server-side-encryption']).toBe('aws:kms');
    expect(received?.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe('arn:aws:kms:eu-west-1:111122223333:key/k1');
    expect(received?.body.equals(content)).toBe(true);
  });

  it('accepts 204 and lets the file content type win over a batch Content-Type', async () => {
    handler = (_req, res) => {
      res.writeHead(204);
      res.end();
    };
    const { path } = await outputFile(10);
    await uploadFile({
      url: signedUrl('/bucket/temp/a.webp'),
      filePath: path,
      contentType: 'image/webp',
      headers: { 'Content-Type': 'application/octet-stream', 'x-amz-server-side-encryption': 'AES256' },
      signal: AbortSignal.timeout(5000),
      dispatcher,
    });
    expect(requests[0]?.headerNames.filter((name) => name === 'content-type')).toHaveLength(1);
    expect(requests[0]?.headers['content-type']).toBe('image/webp');
  });

  it('turns a 403 SignatureDoesNotMatch into UPLOAD_FAILED with the S3 code and no credentials', async () => {
    handler = (_req, res) => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code>' +
          '<Message>The request signature we calculated does not match the signature you provided.</Message>' +
          '<AWSAccessKeyId>AKIAEXAMPLE</AWSAccessKeyId><SignatureProvided>5ecre7deadbeef</SignatureProvided>' +
          '<CanonicalRequest>PUT /bucket/temp/out_Front.jpg X-Amz-Security-Token=T0KEN</CanonicalRequest>' +
          '<RequestId>REQ42</RequestId></Error>',
      );
    };
    const { path } = await outputFile(1000);
    const err = await connectorError(
      uploadFile({
        url: signedUrl('/bucket/temp/out_Front.jpg'),
        filePath: path,
        contentType: 'image/jpeg',
        headers: s3Headers,
        signal: AbortSignal.timeout(5000),
        dispatcher,
      }),
    );
    expect(err.code).toBe('UPLOAD_FAILED');
    expect(err.message).toBe(
      `upload of out_Front.jpg to ${origin}/bucket/temp/out_Front.jpg failed: HTTP 403 SignatureDoesNotMatch: ` +
        'The request signature we calculated does not match the signature you provided.',
    );
    expect(err.details).toMatchObject({ status: 403, bytes: 1000, s3: { code: 'SignatureDoesNotMatch', requestId: 'REQ42' } });
    expectNoSecrets(err);
    expect(requests).toHaveLength(1);
  });

  it('reports a refused connection as UPLOAD_FAILED', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { path } = await outputFile(10);
    const err = await connectorError(
      uploadFile({
        url: `http://127.0.0.1:${port}/bucket/x.jpg?${signature}`,
        filePath: path,
        contentType: 'image/jpeg',
        headers: {},
        signal: AbortSignal.timeout(5000),
        dispatcher,
      }),
    );
    expect(err.code).toBe('UPLOAD_FAILED');
    expect(err.message).toContain('ECONNREFUSED');
    expectNoSecrets(err);
  });
});
