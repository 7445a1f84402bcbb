/**
 * `POST /uploads/presigned-url` (Sartiq's product ingestion page). Its real request body is not
 * documented: the simulator reads `filename` (or `file_name`) and `content_type` when present and
 * tolerates any other field, or an empty body.
 */
import type { Route } from './route.ts';
import { FieldReader, readJsonObject } from './validation.ts';

const presignedUrlRoute: Route = {
  method: 'POST',
  path: '/uploads/presigned-url',
  handle: (ctx, req) => {
    const json = readJsonObject(req, true);
    if (!json.ok) return json.reply;
    const reader = new FieldReader(json.value);
    const fileName = reader.string('filename') ?? reader.string('file_name') ?? 'upload';
    const contentType = reader.string('content_type');
    const problem = reader.problem();
    if (problem) return problem;
    return { status: 200, body: ctx.state.files.presign(fileName, contentType, req.now) };
  },
};

/** The upload route. */
export const uploadRoutes: readonly Route[] = [presignedUrlRoute];
