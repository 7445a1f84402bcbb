/**
 * The error bodies of AdCreative (its "Error Handling" and "Product Photoshoot API" pages): the
 * standard shape keyed `"<layer>: <function>"`, the model-binding validation shape with a
 * top-level `traceId`, and the background-removal errors (text prefix, then an `errors` array).
 */
import { randomBytes } from 'node:crypto';
import type { Reply } from '../harness/http-io.ts';

const problemJson = { 'content-type': 'application/problem+json; charset=utf-8' };

/** A W3C trace id as ASP.NET puts it in error bodies. */
export function traceId(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00`;
}

/** The standard error shape: `errors` keyed by `"business: <function>"` or `"engine: <function>"`. */
export function standardError(status: number, errors: Record<string, string[]>): Reply {
  return {
    status,
    headers: problemJson,
    body: {
      errors,
      type: 'https://tools.ietf.org/html/rfc7231#section-6.5.1',
      title: 'One or more errors occurred.',
      status,
      detail: null,
      instance: null,
      extensions: { traceId: traceId() },
    },
  };
}

/** The model-binding 400: `errors` keyed by field name, `traceId` at the top level. */
export function validationError(errors: Record<string, string[]>): Reply {
  return {
    status: 400,
    headers: problemJson,
    body: {
      errors,
      type: 'https://tools.ietf.org/html/rfc9110#section-15.5.1',
      title: 'One or more validation errors occurred.',
      status: 400,
      traceId: traceId(),
    },
  };
}

/** The documented 401 of a missing, invalid or expired token, or of wrong API credentials. */
export function unauthorized(): Reply {
  return standardError(401, { 'business:': ['Token is missing, invalid or ApplicationId is not found in the token.'] });
}

/**
 * The documented 400 of an application without credits, for the call `<area>/<action>`.
 * `failure` is the business-layer message (documented for Download).
 */
export function noCredits(area: string, action: string, applicationId: string, failure: string): Reply {
  return standardError(400, {
    [`engine: ${area}/${action}`]: [
      `Error decreasing Api Key Credits for Application ${applicationId}. ErrorMessage: API Key Credits for Application does not exist.`,
    ],
    [`business: ${area}/${action}`]: [failure],
  });
}

/** The documented 404 of a Download whose image does not exist (unknown or unfinished task). */
export function imageContentNotFound(area: string): Reply {
  return standardError(404, {
    [`engine: ${area}/Download`]: ['Image content not found.'],
    [`business: ${area}/Download`]: ['Not found error occurred while getting image content stream'],
  });
}

/** One entry of a background-removal error. */
interface BackgroundRemovalIssue {
  title: string;
  code: string;
  detail?: string;
}

/**
 * A background-removal failure as the docs show it: the text "Error while removing background:"
 * followed by the JSON `{"errors":[{title, code, detail?}]}`, answered 400 as plain text.
 */
function backgroundRemovalError(issue: BackgroundRemovalIssue): Reply {
  return { status: 400, body: `Error while removing background: \n${JSON.stringify({ errors: [issue] }, null, 2)}` };
}

/** The documented background-removal error of a file over the limit; `limit` is like `12MB`. */
export function fileTooLarge(limit: string): Reply {
  return backgroundRemovalError({ title: 'File too large', code: 'file_too_large', detail: `File exceeds limit of ${limit}` });
}

/** The documented background-removal error of an image without a recognizable product. */
export function unknownForeground(): Reply {
  return backgroundRemovalError({ title: 'Could not identify foreground in image', code: 'unknown_foreground' });
}

/** ASP.NET's answer to a body of the wrong media type. */
export function unsupportedMediaType(): Reply {
  return {
    status: 415,
    headers: problemJson,
    body: {
      type: 'https://tools.ietf.org/html/rfc9110#section-15.5.16',
      title: 'Unsupported Media Type',
      status: 415,
      traceId: traceId(),
    },
  };
}
