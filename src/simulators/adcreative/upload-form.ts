/**
 * Reading the multipart form of an endpoint: the size limit (checked while reading, then per
 * file), JPG/PNG detection from the bytes with sharp, the upload record, and binding errors.
 */

import type { Reply } from '../harness/http-io.ts';
import { unsupportedMediaType, validationError } from './error-bodies.ts';
import { FieldReader } from './field-reader.ts';
import { type FormFile, MultipartForm, multipartBoundary, parseMultipart } from './multipart.ts';
import { detectImageFormat } from './render-images.ts';
import type { RouteContext, SimRequest } from './route.ts';

/** Image formats the upload endpoints accept (detected from the bytes, not the file name). */
const acceptedFormats = new Set(['jpeg', 'png']);

/** The message of an upload that is not a JPG or PNG. */
const invalidImageMessage = 'Missing required fields or invalid image format. Only JPG and PNG images are accepted.';

/** A bound form, or the error reply refusing it. */
export type Bound<T> = { ok: true; value: T } | { ok: false; reply: Reply };

/** A bound text-only form. */
export interface BoundFields<T> {
  fields: T;
  form: MultipartForm;
}

/** A bound upload form. */
export interface BoundUpload<T> extends BoundFields<T> {
  file: FormFile;
}

/** How an upload endpoint's form is bound. */
export interface UploadSpec<T> {
  /** The file field. */
  fileField: string;
  /** The answer to a body or file over the limit; `limit` is like `12MB`. */
  tooLarge: (limit: string) => Reply;
  /** Reads the text fields; errors go to the reader. */
  bind: (reader: FieldReader) => T;
}

/**
 * Binds a text-only form (multipart or URL-encoded): 415 for another media type, the validation
 * shape for missing or invalid fields.
 */
export function bindFields<T>(req: SimRequest, bind: (reader: FieldReader) => T): Bound<BoundFields<T>> {
  if (req.overCap) return { ok: false, reply: { status: 413 } };
  const form = parseForm(req.headers['content-type'], req.body, false);
  if (!(form instanceof MultipartForm)) return { ok: false, reply: form };
  const reader = new FieldReader((name) => form.field(name));
  const fields = bind(reader);
  const problem = reader.problem();
  return problem ? { ok: false, reply: problem } : { ok: true, value: { fields, form } };
}

/**
 * Binds a multipart upload. Every file part read is recorded in `ctx.state.uploads`. Answers
 * `tooLarge` for a body or file over `ctx.maxUploadBytes`, 415 for another media type, and the
 * validation shape for missing or invalid fields and for a file that is not a JPG or PNG.
 */
export async function bindUpload<T>(ctx: RouteContext, req: SimRequest, spec: UploadSpec<T>): Promise<Bound<BoundUpload<T>>> {
  const limit = limitText(ctx.maxUploadBytes);
  if (req.overCap) return { ok: false, reply: spec.tooLarge(limit) };
  const form = parseForm(req.headers['content-type'], req.body, true);
  if (!(form instanceof MultipartForm)) return { ok: false, reply: form };
  const reader = new FieldReader((name) => form.field(name));
  const fields = spec.bind(reader);
  const file = form.file(spec.fileField);
  if (!file) {
    reader.fail(spec.fileField, `The ${spec.fileField} field is required.`);
    reader.fail(spec.fileField, 'The request does not contain a file. Please make sure to upload the file.');
    return { ok: false, reply: reader.problem() as Reply };
  }
  const format = await detectImageFormat(file.data);
  ctx.state.uploads.push({
    path: req.url.pathname,
    fileName: file.fileName,
    contentType: file.contentType,
    bytes: file.data.length,
    format,
  });
  if (file.data.length > ctx.maxUploadBytes) return { ok: false, reply: spec.tooLarge(limit) };
  if (format === null || !acceptedFormats.has(format)) reader.fail(spec.fileField, invalidImageMessage);
  const problem = reader.problem();
  return problem ? { ok: false, reply: problem } : { ok: true, value: { fields, form, file } };
}

/** `12MB` for whole mebibytes, else the byte count. */
function limitText(bytes: number): string {
  const mebibyte = 1024 * 1024;
  return bytes % mebibyte === 0 ? `${bytes / mebibyte}MB` : `${bytes} bytes`;
}

/** The form, or the reply to an unsupported media type (415) or a malformed body (400). */
function parseForm(contentType: string | undefined, body: Buffer, expectsFile: boolean): MultipartForm | Reply {
  const boundary = multipartBoundary(contentType);
  if (boundary !== undefined) {
    try {
      return parseMultipart(body, boundary);
    } catch (err) {
      return validationError({ '': [(err as Error).message] });
    }
  }
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (expectsFile || type !== 'application/x-www-form-urlencoded') return unsupportedMediaType();
  const fields = [...new URLSearchParams(body.toString('utf8'))].map(([name, value]) => ({ name, value }));
  return new MultipartForm(fields, []);
}
