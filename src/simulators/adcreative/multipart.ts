/**
 * A small `multipart/form-data` parser (RFC 7578) over a body already in memory. Field names are
 * matched case-insensitively, as ASP.NET form binding does.
 */

/** A file part. */
export interface FormFile {
  name: string;
  fileName: string;
  contentType: string;
  data: Buffer;
}

/** A parsed form: text fields in order, and file parts. */
export class MultipartForm {
  readonly fields: readonly { name: string; value: string }[];
  readonly files: readonly FormFile[];

  constructor(fields: { name: string; value: string }[], files: FormFile[]) {
    this.fields = fields;
    this.files = files;
  }

  /** The first text field named `name` (any case). */
  field(name: string): string | undefined {
    const key = name.toLowerCase();
    return this.fields.find((f) => f.name.toLowerCase() === key)?.value;
  }

  /** The first file part named `name` (any case). */
  file(name: string): FormFile | undefined {
    const key = name.toLowerCase();
    return this.files.find((f) => f.name.toLowerCase() === key);
  }

  /** The text fields as a record, names as sent (the first value of a repeated name wins). */
  textFields(): Record<string, string> {
    const record: Record<string, string> = {};
    for (const { name, value } of this.fields) if (!(name in record)) record[name] = value;
    return record;
  }
}

/** The boundary of a `multipart/form-data` content type, or `undefined` for another type. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  const [type, ...params] = (contentType ?? '').split(';');
  if (type?.trim().toLowerCase() !== 'multipart/form-data') return undefined;
  for (const param of params) {
    const match = /^\s*boundary\s*=\s*(?:"([^"]+)"|(\S+))\s*$/i.exec(param);
    const boundary = match?.[1] ?? match?.[2];
    if (boundary) return boundary;
  }
  return undefined;
}

const crlf = Buffer.from('\r\n');
const headerEnd = Buffer.from('\r\n\r\n');

/** Parses a multipart body; throws an Error describing the first malformation found. */
export function parseMultipart(body: Buffer, boundary: string): MultipartForm {
  const delimiter = Buffer.from(`--${boundary}`);
  const partEnd = Buffer.from(`\r\n--${boundary}`);
  const fields: { name: string; value: string }[] = [];
  const files: FormFile[] = [];

  const first = body.indexOf(delimiter);
  if (first < 0) throw new Error('multipart body has no boundary');
  let pos = first + delimiter.length;
  for (;;) {
    if (body.subarray(pos, pos + 2).toString('latin1') === '--') break;
    if (!body.subarray(pos, pos + 2).equals(crlf)) throw new Error('malformed boundary line');
    const headersStart = pos + 2;
    const headersEnd = body.indexOf(headerEnd, headersStart);
    if (headersEnd < 0) throw new Error('part headers are not terminated');
    const headers = parseHeaders(body.subarray(headersStart, headersEnd).toString('utf8'));
    const dataStart = headersEnd + headerEnd.length;
    const dataEnd = body.indexOf(partEnd, dataStart);
    if (dataEnd < 0) throw new Error('multipart body is not terminated');
    const disposition = parseDisposition(headers.get('content-disposition'));
    const data = body.subarray(dataStart, dataEnd);
    if (disposition.fileName === undefined) {
      fields.push({ name: disposition.name, value: data.toString('utf8') });
    } else {
      files.push({
        name: disposition.name,
        fileName: disposition.fileName,
        contentType: headers.get('content-type') ?? 'application/octet-stream',
        data: Buffer.from(data),
      });
    }
    pos = dataEnd + partEnd.length;
  }
  return new MultipartForm(fields, files);
}

function parseHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** `form-data; name="x"; filename="y"`; quotes and line breaks in names come percent-encoded (WHATWG). */
function parseDisposition(value: string | undefined): { name: string; fileName: string | undefined } {
  if (!value || !/^form-data\s*(;|$)/i.test(value)) throw new Error('part without Content-Disposition: form-data');
  const params = new Map<string, string>();
  for (const match of value.matchAll(/;\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g)) {
    const raw = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '');
    params.set((match[1] ?? '').toLowerCase(), raw);
  }
  const name = params.get('name');
  if (name === undefined) throw new Error('part without a name');
  const encoded = params.get('filename*');
  const plain = params.get('filename');
  const fileName = encoded !== undefined ? decodeExtended(encoded) : plain === undefined ? undefined : decodeWhatwg(plain);
  return { name: decodeWhatwg(name), fileName };
}

function decodeWhatwg(text: string): string {
  return text.replace(/%22/g, '"').replace(/%0D/gi, '\r').replace(/%0A/gi, '\n');
}

/** RFC 5987 `UTF-8''name%20with%20spaces`. */
function decodeExtended(text: string): string {
  const quote = text.indexOf("''");
  const encoded = quote >= 0 ? text.slice(quote + 2) : text;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}
