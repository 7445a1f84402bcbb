/**
 * Where the AdCreative.ai API lives, and the names its calls use. The Product Photoshoot page
 * documents the Photoshoot's paths and names; nothing documents the JWT refresh path, nor the
 * paths and names of the Background Remover, Image Upscaler and Face Enhancer as the service calls
 * them (docs/providers/adcreative.md, "To confirm with AdCreative"). Those are configuration, with
 * defaults that follow the Product Photoshoot's pattern.
 */

/** The paths of one asynchronous job kind: start, poll, download. */
export interface AdCreativeJobPaths {
  /** Multipart POST that starts the job and answers a progress object. */
  start: string;
  /** GET answering an array of progress objects for the user, filtered by process id. */
  checkUserProgress: string;
  /** GET streaming one task's image. */
  download: string;
  /** GET answering the progress objects of every user of the application (`CheckApplicationAllProgresses`). */
  allProgresses: string;
  /** Query parameter that names the process in `checkUserProgress` and `download`. */
  processIdParam: string;
}

/** Product Photoshoot paths: the job paths plus its two preparation calls. */
export interface AdCreativePhotoshootPaths extends AdCreativeJobPaths {
  /** GET of the preset styles (`PresetKeys`). */
  presetKeys: string;
  /** Multipart POST that removes the background and recommends prompts and presets. */
  recommendations: string;
}

/** Every AdCreative path the connector calls, relative to `AdCreativeConfig.baseUrl`. */
export interface AdCreativePaths {
  /** POST issuing a JWT from the application id and JWT private key. */
  generateJwt: string;
  /** Undocumented path (body and fields are documented): POST renewing a JWT with its refresh token. */
  refreshJwt: string;
  /** Product Photoshoot; `start` is `AdCreative`. All documented. */
  photoshoot: AdCreativePhotoshootPaths;
  /** Background Remover: undocumented, every path and `processIdParam`. */
  backgroundRemove: AdCreativeJobPaths;
  /** Image Upscaler: undocumented, every path and `processIdParam`. */
  upscale: AdCreativeJobPaths;
  /** Face Enhancer: undocumented, every path and `processIdParam`. */
  faceEnhance: AdCreativeJobPaths;
}

/** The documented paths, and best guesses for the undocumented ones (see AdCreativePaths). */
export const defaultAdCreativePaths: AdCreativePaths = {
  generateJwt: '/api/v1/Authorization/GenerateJwtToken',
  refreshJwt: '/api/v1/Authorization/RefreshJwtToken',
  photoshoot: {
    presetKeys: '/api/v1/Image/ProductGeneration/PresetKeys',
    recommendations: '/api/v1/Image/ProductGeneration/Recommendations',
    start: '/api/v1/Image/ProductGeneration/AdCreative',
    checkUserProgress: '/api/v1/Image/ProductGeneration/CheckUserProgress',
    download: '/api/v1/Image/ProductGeneration/Download',
    allProgresses: '/api/v1/Image/ProductGeneration/CheckApplicationAllProgresses',
    processIdParam: 'imageProductGeneratorProcessId',
  },
  backgroundRemove: {
    start: '/api/v1/Image/BackgroundRemoving/AdCreative',
    checkUserProgress: '/api/v1/Image/BackgroundRemoving/CheckUserProgress',
    download: '/api/v1/Image/BackgroundRemoving/Download',
    allProgresses: '/api/v1/Image/BackgroundRemoving/CheckApplicationAllProgresses',
    processIdParam: 'imageRenderProcessId',
  },
  upscale: {
    start: '/api/v1/Image/Upscaling/AdCreative',
    checkUserProgress: '/api/v1/Image/Upscaling/CheckUserProgress',
    download: '/api/v1/Image/Upscaling/Download',
    allProgresses: '/api/v1/Image/Upscaling/CheckApplicationAllProgresses',
    processIdParam: 'imageRenderProcessId',
  },
  faceEnhance: {
    start: '/api/v1/Image/FaceEnhancing/AdCreative',
    checkUserProgress: '/api/v1/Image/FaceEnhancing/CheckUserProgress',
    download: '/api/v1/Image/FaceEnhancing/Download',
    allProgresses: '/api/v1/Image/FaceEnhancing/CheckApplicationAllProgresses',
    processIdParam: 'imageRenderProcessId',
  },
};

/**
 * The names the Background Remover, Image Upscaler and Face Enhancer calls use besides the process
 * id (`processIdParam`), each undocumented: the start form's `applicationId`, `userId`, the image
 * part `uploadedImage` and the face enhancer's `ariaRatio` (spelled so) and `maxFaceCount`; the
 * progress query's `userId`; the download query's `applicationId`, `taskId`, `lowResolution` and
 * `format`. Each maps to the name actually sent; by default itself.
 */
export const imageJobNameKeys = [
  'applicationId',
  'userId',
  'uploadedImage',
  'ariaRatio',
  'maxFaceCount',
  'taskId',
  'lowResolution',
  'format',
] as const;
export type ImageJobNameKey = (typeof imageJobNameKeys)[number];
export type AdCreativeImageJobNames = Readonly<Record<ImageJobNameKey, string>>;

/** Every name as itself. */
export const defaultImageJobNames: AdCreativeImageJobNames = Object.freeze(
  Object.fromEntries(imageJobNameKeys.map((key) => [key, key])) as Record<ImageJobNameKey, string>,
);

/** Production origin of the API. */
export const defaultAdCreativeBaseUrl = 'https://api.adcreative.ai';

/** Configuration of the AdCreative client and JWT store (service-wide, not per connection). */
export interface AdCreativeConfig {
  /** Origin of the API, without a trailing slash (production: defaultAdCreativeBaseUrl). */
  baseUrl: string;
  /** Whole-request deadline of one call, body included (uploads and downloads too). */
  requestTimeoutMs: number;
  paths: AdCreativePaths;
  /** The names of the three image features' calls (see imageJobNameKeys). */
  imageJobNames: AdCreativeImageJobNames;
}
