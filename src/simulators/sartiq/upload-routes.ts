/**
 * `POST /uploads/presigned-url` (Sartiq's product ingestion page). Its request body is not
 * documented, so the simulator is strict about the likeliest one: a JSON object with exactly
 * `filename` (1-255 characters) and `content_type` (a MIME type), anything else a 422 as pydantic
 * would give it (`missing`, `extra_forbidden`, …). A client whose field names are overridden
 * (SARTIQ_UPLOAD_FILENAME_FIELD, SARTIQ_UPLOAD_CONTENT_TYPE_FIELD) is refused here on purpose: the
 * simulator models the default reading, not the override.
 */
import type { Route } from './route.ts';
import { FieldReader, readJsonObject } from './validation.ts';

/** `type/subtype`, parameters not allowed (the PUT must send the same value). */
const mediaType = /^[A-Za-z0-9][\w.+-]*\/[A-Za-z0-9][\w.+-]*$/;

const presignedUrlRoute: Route = {
  method: 'POST',
  path: '/uploads/presigned-url',
  handle: (ctx, req) => {
    const json = readJsonObject(req);
    if (!json.ok) return json.reply;
    const reader = new FieldReader(json.value);
    reader.forbidOthers(['filename', 'content_type']);
    const fileName = reader.requiredString('filename', { minLength: 1, maxLength: 255 });
    const contentType = reader.requiredString('content_type');
    if (contentType !== null && !mediaType.test(contentType)) {
      reader.valueError('content_type must be a MIME type such as image/jpeg', 'content_type');
    }
    const problem = reader.problem();
    if (problem) return problem;
    return { status: 200, body: ctx.state.files.presign(fileName ?? '', contentType ?? '', req.now) };
  },
};

/** The upload route. */
export const uploadRoutes: readonly Route[] = [presignedUrlRoute];
