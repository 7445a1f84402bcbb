/**
 * A small in-memory S3: pre-signed GET URLs for inputs and files, pre-signed PUT URLs for outputs,
 * and the checks a real pre-signed PUT applies (Vendor Guide, step 7b): signed
 * query, exactly the issued encryption headers, the issued Content-Type, an exact Content-Length
 * and no chunked transfer. Errors are S3's XML documents. S3 traffic is outside the gateway's rate
 * limit.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Reply } from '../harness/http-io.ts';

/** Path prefix of every S3 URL of the simulator: `/s3/<bucket>/<key>`. */
export const s3PathPrefix = '/s3/';

/** The S3 encryption headers every pre-signed upload batch carries (and every PUT must send). */
export const uploadEncryptionHeaders: readonly { key: string; value: string }[] = Object.freeze([
  { key: 'x-amz-server-side-encryption', value: 'aws:kms' },
  { key: 'x-amz-server-side-encryption-aws-kms-key-id', value: 'arn:aws:kms:eu-west-1:000000000000:key/sim' },
]);

/** An object held by the fake S3. */
export interface S3Object {
  contentType: string;
  body: Buffer;
  md5: string;
  lastModified: number;
}

/** What the PUT of an upload key must carry; returned by the owner of the key. */
export interface PutPolicy {
  contentType: string;
}

function amzDate(now: number): string {
  return new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** S3's XML error document. */
export function s3Error(status: number, code: string, message: string, extra: Record<string, string> = {}): Reply {
  const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const fields = Object.entries(extra)
    .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
    .join('');
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${fields}<RequestId>${requestId}</RequestId><HostId>${randomBytes(24).toString('base64')}</HostId></Error>`;
  return { status, headers: { 'content-type': 'application/xml' }, body };
}

const signatureMismatch = () =>
  s3Error(
    403,
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  );

const signedGetHeaders = 'host';
const signedPutHeaders = ['content-type', 'host', ...uploadEncryptionHeaders.map((h) => h.key)].join(';');

/** The fake S3: objects, URL signing and request handling. */
export class FakeS3 {
  readonly #key = randomBytes(32);
  readonly #objects = new Map<string, S3Object>();
  readonly #urlTtlSeconds: number;
  gets = 0;
  puts = 0;

  constructor(urlTtlSeconds: number) {
    this.#urlTtlSeconds = urlTtlSeconds;
  }

  /** Stores an object under `bucket/key`. */
  putObject(objectKey: string, contentType: string, body: Buffer, now: number): S3Object {
    const object = { contentType, body, md5: createHash('md5').update(body).digest('hex'), lastModified: now };
    this.#objects.set(objectKey, object);
    return object;
  }

  getObject(objectKey: string): S3Object | undefined {
    return this.#objects.get(objectKey);
  }

  /** A pre-signed GET URL of an object. */
  presignGet(baseUrl: string, objectKey: string, now: number): string {
    return this.#presign(baseUrl, 'GET', objectKey, signedGetHeaders, now);
  }

  /** A pre-signed PUT URL of an upload key. */
  presignPut(baseUrl: string, objectKey: string, now: number): string {
    return this.#presign(baseUrl, 'PUT', objectKey, signedPutHeaders, now);
  }

  #presign(baseUrl: string, method: string, objectKey: string, signedHeaders: string, now: number): string {
    const path = s3PathPrefix + objectKey.split('/').map(encodeURIComponent).join('/');
    const query = new URLSearchParams({
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': `ASIASIMULATOR/${amzDate(now).slice(0, 8)}/eu-west-1/s3/aws4_request`,
      'X-Amz-Date': amzDate(now),
      'X-Amz-Expires': String(this.#urlTtlSeconds),
      'X-Amz-SignedHeaders': signedHeaders,
    });
    query.set('X-Amz-Signature', this.#sign(method, objectKey, query));
    return `${baseUrl}${path}?${query.toString()}`;
  }

  /** HMAC over method, object key and every query parameter but the signature (sorted). */
  #sign(method: string, objectKey: string, query: URLSearchParams): string {
    const canonicalQuery = [...query.entries()]
      .filter(([name]) => name !== 'X-Amz-Signature')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => `${name}=${value}`)
      .join('&');
    return createHmac('sha256', this.#key).update(`${method}\n${objectKey}\n${canonicalQuery}`).digest('hex');
  }

  /** Checks the query authentication of a request; `undefined` when it is valid. */
  #checkQueryAuth(method: string, objectKey: string, query: URLSearchParams, now: number): Reply | undefined {
    const required = [
      'X-Amz-Algorithm',
      'X-Amz-Credential',
      'X-Amz-Signature',
      'X-Amz-Date',
      'X-Amz-SignedHeaders',
      'X-Amz-Expires',
    ];
    if (required.some((name) => !query.get(name))) {
      return s3Error(
        403,
        'AccessDenied',
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
    const expected = Buffer.from(this.#sign(method, objectKey, query), 'utf8');
    const given = Buffer.from(query.get('X-Amz-Signature') ?? '', 'utf8');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return signatureMismatch();
    const signedAt = parseAmzDate(query.get('X-Amz-Date') ?? '');
    const expires = Number(query.get('X-Amz-Expires'));
    if (signedAt === undefined || !Number.isFinite(expires) || now > signedAt + expires * 1000) {
      return s3Error(403, 'AccessDenied', 'Request has expired');
    }
    return undefined;
  }

  /**
   * Answers an S3 request. `putPolicy` tells what a PUT of a key must carry (undefined: the key
   * does not accept uploads); `onPut` is called after a successful upload.
   */
  handle(
    request: { method: string; url: URL; headers: IncomingHttpHeaders; body: Buffer },
    now: number,
    putPolicy: (objectKey: string) => PutPolicy | undefined,
    onPut: (objectKey: string, object: S3Object) => void,
  ): Reply {
    const { method, url, headers, body } = request;
    let objectKey: string;
    try {
      objectKey = url.pathname.slice(s3PathPrefix.length).split('/').map(decodeURIComponent).join('/');
    } catch {
      return s3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
    }
    if (method === 'GET' || method === 'HEAD') {
      const denied = this.#checkQueryAuth(method, objectKey, url.searchParams, now);
      if (denied) return denied;
      const object = this.#objects.get(objectKey);
      if (!object) return s3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: objectKey });
      this.gets++;
      return {
        status: 200,
        headers: {
          'content-type': object.contentType,
          etag: `"${object.md5}"`,
          'last-modified': new Date(object.lastModified).toUTCString(),
          'accept-ranges': 'bytes',
        },
        body: object.body,
      };
    }
    if (method !== 'PUT') return s3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    // S3 refuses chunked uploads on pre-signed PUTs before anything else.
    if (headers['transfer-encoding'] !== undefined) {
      return s3Error(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented', {
        Header: 'Transfer-Encoding',
      });
    }
    if (headers['content-length'] === undefined) {
      return s3Error(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
    }
    const denied = this.#checkQueryAuth('PUT', objectKey, url.searchParams, now);
    if (denied) return denied;
    const policy = putPolicy(objectKey);
    if (!policy) return s3Error(403, 'AccessDenied', 'Access Denied');
    const amzHeaders = Object.keys(headers).filter((name) => name.startsWith('x-amz-'));
    const expectedNames = uploadEncryptionHeaders.map((h) => h.key);
    if (amzHeaders.some((name) => !expectedNames.includes(name))) {
      return s3Error(403, 'AccessDenied', 'There were headers present in the request which were not signed', {
        HeadersNotSigned: amzHeaders.filter((name) => !expectedNames.includes(name)).join(', '),
      });
    }
    if (uploadEncryptionHeaders.some((h) => headers[h.key] !== h.value)) return signatureMismatch();
    if (headers['content-type'] !== policy.contentType) return signatureMismatch();
    if (Number(headers['content-length']) !== body.length) {
      return s3Error(
        400,
        'IncompleteBody',
        'You did not provide the number of bytes specified by the Content-Length HTTP header',
      );
    }
    const object = this.putObject(objectKey, policy.contentType, body, now);
    this.puts++;
    onPut(objectKey, object);
    return { status: 200, headers: { etag: `"${object.md5}"`, 'x-amz-server-side-encryption': 'aws:kms' } };
  }
}

/** The object key of a seeded input, file or output in the assets bucket. */
export function inputObjectKey(id: string, fileName: string): string {
  return `cf-sim-assets/${id}/${fileName}`;
}

/** The object key of an upload in the temporary bucket. */
export function uploadObjectKey(tempAssetId: string, fileName: string): string {
  return `cf-sim-temp/${tempAssetId}/${fileName}`;
}
