/**
 * Where the Sartiq Backend API lives and how its undocumented parts are read (docs/providers/sartiq.md).
 * The paths are documented and fixed; the base URL, the deadline, the presigned-upload body fields,
 * the status values and how a lost start is found are service-wide configuration. The organization is per connection
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
  /** The list of generations (filters, newest first, `skip` / `limit`). */
  listGenerations: '/generations/',
  /** One generation; `{id}` is replaced by the URI-encoded id (see sartiqGenerationPath). */
  generation: '/generations/{id}',
  /** The orchestration of an agentic generation (AgenticShotStatus); documented as temporary. */
  agenticStatus: '/generations/agentic/{shot_id}/status',
} as const;

/** The path of one generation. */
export function sartiqGenerationPath(id: string): string {
  return sartiqPaths.generation.replace('{id}', encodeURIComponent(id));
}

/** The status path of an agentic generation's orchestration shot (`orchestration_shot_id`). */
export function sartiqAgenticStatusPath(shotId: string): string {
  return sartiqPaths.agenticStatus.replace('{shot_id}', encodeURIComponent(shotId));
}

/**
 * Field names of the `POST /uploads/presigned-url` JSON body. Sartiq does not document that body:
 * the defaults are the likeliest names (SARTIQ_UPLOAD_FILENAME_FIELD, SARTIQ_UPLOAD_CONTENT_TYPE_FIELD).
 */
export interface SartiqUploadFields {
  /** The name of the file to upload. */
  fileName: string;
  /** Its MIME type; the PUT to `upload_url` sends the same Content-Type. */
  contentType: string;
}

export const defaultSartiqUploadFields: SartiqUploadFields = { fileName: 'filename', contentType: 'content_type' };

/** The status values that end a piece of work: it succeeded, or it failed. Anything else means "not finished". */
export interface SartiqStatusWords {
  completed: readonly string[];
  failed: readonly string[];
}

/**
 * The status values of each kind of Sartiq work, compared case-insensitively. The API reference
 * types GenerationStatus, PredictionStatus and RefineStatus as strings without listing values, and
 * the agentic status endpoint's `status` as "Current orchestration status"; the defaults are the
 * domain-concepts page's states (generation Completed / Failed, prediction Completed / Error) and
 * the `orchestration_status` values of the agentic answer ("processing, completed, failed").
 */
export interface SartiqStatuses {
  generation: SartiqStatusWords;
  prediction: SartiqStatusWords;
  /** RefineStatus: undocumented; read like PredictionStatus by default. */
  refine: SartiqStatusWords;
  /** The `status` of `GET /generations/agentic/{shot_id}/status`. */
  agentic: SartiqStatusWords;
}

export const defaultSartiqStatuses: SartiqStatuses = {
  generation: { completed: ['COMPLETED'], failed: ['FAILED'] },
  prediction: { completed: ['completed'], failed: ['error', 'failed'] },
  refine: { completed: ['completed'], failed: ['error', 'failed'] },
  agentic: { completed: ['completed'], failed: ['failed'] },
};

/** The paid start calls that make a generation: each generation kind, and `upscale` (refines of uploaded images). */
export const sartiqStartKinds = [
  'generate',
  'agentic',
  'edit',
  'background-fix',
  'image-adjust',
  'face-fix',
  'video',
  'upscale',
] as const;
export type SartiqStartKind = (typeof sartiqStartKinds)[number];

/**
 * How a start whose answer was lost is found in `GET /generations/` (lost-start.ts). The reference
 * documents the list's filters and GenerationPublic's fields, but not which field shows the input an
 * endpoint was given (only `product_image` → `product_image_url` pairs by name), nor which
 * `generation_strategy` each endpoint's generations carry (the strategy names are documented:
 * GENERATE, EDITING, REFINE, VIDEO, BACKGROUND_FIXING, IMAGE_ADJUSTING, FACE_FIXING).
 */
export interface SartiqLostStarts {
  /** How much earlier than our clock Sartiq may date a generation (`created_at`): the clock skew allowed. */
  clockSkewMs: number;
  /** Per kind, the GenerationPublic field that shows the input URL sent; '' when none is known to (SARTIQ_INPUT_FIELDS). */
  inputFields: Readonly<Record<SartiqStartKind, string>>;
  /** Per kind, the `generation_strategy` of the generations it makes (SARTIQ_GENERATION_STRATEGIES). */
  strategies: Readonly<Record<SartiqStartKind, string>>;
}

export const defaultSartiqLostStarts: SartiqLostStarts = {
  clockSkewMs: 60_000,
  inputFields: {
    generate: 'product_image_url',
    agentic: 'product_image_url',
    edit: '',
    'background-fix': '',
    'image-adjust': '',
    'face-fix': '',
    video: '',
    upscale: '',
  },
  strategies: {
    generate: 'GENERATE',
    agentic: 'GENERATE',
    edit: 'EDITING',
    'background-fix': 'BACKGROUND_FIXING',
    'image-adjust': 'IMAGE_ADJUSTING',
    'face-fix': 'FACE_FIXING',
    video: 'VIDEO',
    upscale: 'REFINE',
  },
};

/** Configuration of the Sartiq client and token store (service-wide, not per connection). */
export interface SartiqConfig {
  /** Base URL including `/api/v1`, without a trailing slash (production: defaultSartiqBaseUrl). */
  baseUrl: string;
  /**
   * Whole-request deadline of one call, body included: API calls, the login, the upload PUT and
   * result downloads alike.
   */
  requestTimeoutMs: number;
  uploadFields: SartiqUploadFields;
  statuses: SartiqStatuses;
  lostStarts: SartiqLostStarts;
  /** Not here: the organization belongs to the connection (SartiqCredentials.organizationId). */
  organizationId?: never;
}
