/**
 * Where the AdCreative.ai API lives. Every path is configuration, because several are not
 * documented (docs/providers/adcreative.md, "Undocumented guesses"): those carry `Undocumented`
 * below and their defaults follow the documented Product Photoshoot and Background Remover patterns.
 */

/** The paths of one asynchronous job kind: start, poll, download. */
export interface AdCreativeJobPaths {
  /** Multipart POST that starts the job and answers a progress object. */
  start: string;
  /** GET answering an array of progress objects for the user, filtered by process id. */
  checkUserProgress: string;
  /** GET streaming one task's image. */
  download: string;
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
  /**
   * Background Remover. `start` and `checkUserProgress` are documented; `download` and
   * `processIdParam` are undocumented.
   */
  backgroundRemove: AdCreativeJobPaths;
  /** Image Upscaler. Only `start` is documented; `checkUserProgress`, `download` and `processIdParam` are not. */
  upscale: AdCreativeJobPaths;
  /**
   * Face Enhancer. `start` and `checkUserProgress` are documented; `download` and
   * `processIdParam` are undocumented.
   */
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
    processIdParam: 'imageProductGeneratorProcessId',
  },
  backgroundRemove: {
    start: '/api/v1/Image/BackgroundRemoving/AdCreative',
    checkUserProgress: '/api/v1/Image/BackgroundRemoving/CheckUserProgress',
    download: '/api/v1/Image/BackgroundRemoving/Download',
    processIdParam: 'imageRenderProcessId',
  },
  upscale: {
    start: '/api/v1/Image/Upscaling/AdCreative',
    checkUserProgress: '/api/v1/Image/Upscaling/CheckUserProgress',
    download: '/api/v1/Image/Upscaling/Download',
    processIdParam: 'imageRenderProcessId',
  },
  faceEnhance: {
    start: '/api/v1/Image/FaceEnhancing/AdCreative',
    checkUserProgress: '/api/v1/Image/FaceEnhancing/CheckUserProgress',
    download: '/api/v1/Image/FaceEnhancing/Download',
    processIdParam: 'imageRenderProcessId',
  },
};

/** Production origin of the API. */
export const defaultAdCreativeBaseUrl = 'https://api.adcreative.ai';

/** Configuration of the AdCreative client and JWT store (service-wide, not per connection). */
export interface AdCreativeConfig {
  /** Origin of the API, without a trailing slash (production: defaultAdCreativeBaseUrl). */
  baseUrl: string;
  /** Whole-request deadline of one call, body included (uploads and downloads too). */
  requestTimeoutMs: number;
  paths: AdCreativePaths;
}
