/**
 * Where the Sartiq Backend API lives (docs/providers/sartiq.md). The paths are documented and fixed; the
 * base URL and the deadline are service-wide configuration. The organization is per connection
 * (SartiqCredentials.organizationId), never service-wide.
 */

/** Production base URL of the Backend API (the Compute API is internal to Sartiq: not used). */
export const defaultSartiqBaseUrl = 'https://api.sartiq.com/api/v1';

/** Every Sartiq path the connector calls, relative to `SartiqConfig.baseUrl`. */
export const sartiqPaths = {
  /** OAuth2 password grant (x-www-form-urlencoded); answers `{ access_token, token_type, expires_in }`. */
  login: '/login/access-token',
  /** Answers `{ upload_url, file_url, expires_in_seconds }` for a two-phase upload (body undocumented). */
  presigned: '/uploads/presigned-url',
  /** Product/mannequin photo → on-model images. */
  generations: '/generations/',
  /** Like `generations`, with automatic quality evaluation and retries. */
  agentic: '/generations/agentic',
  /** Edit, garment placement, subject swap. */
  edits: '/generations/edits',
  backgroundFix: '/generations/background-fix',
  /** Resize, crop, pad. */
  imageAdjuster: '/generations/image-adjuster',
  faceFixer: '/generations/face-fixer',
  /** Refine / upscale; answers a MixedRefineResponse. */
  refines: '/generations/refines',
  /** Video from an image or a prediction. */
  videos: '/generations/videos',
  /** One generation; `{id}` is replaced by the URI-encoded id (see sartiqGenerationPath). */
  generation: '/generations/{id}',
} as const;

/**
 * Field names of the `POST /uploads/presigned-url` JSON body. Sartiq does not document that body
 * (docs/providers/sartiq.md, "Undocumented guesses"): these are the likeliest names, kept here so
 * they change in one place.
 */
export const sartiqPresignedUploadFields = {
  /** The name of the file to upload. */
  fileName: 'filename',
  /** Its MIME type; the PUT to `upload_url` sends the same Content-Type. */
  contentType: 'content_type',
} as const;

/** The path of one generation. */
export function sartiqGenerationPath(id: string): string {
  return sartiqPaths.generation.replace('{id}', encodeURIComponent(id));
}

/** Configuration of the Sartiq client and token store (service-wide, not per connection). */
export interface SartiqConfig {
  /** Base URL including `/api/v1`, without a trailing slash (production: defaultSartiqBaseUrl). */
  baseUrl: string;
  /**
   * Whole-request deadline of one call, body included: API calls, the login, the upload PUT and
   * result downloads alike.
   */
  requestTimeoutMs: number;
  /** Not here: the organization belongs to the connection (SartiqCredentials.organizationId). */
  organizationId?: never;
}
