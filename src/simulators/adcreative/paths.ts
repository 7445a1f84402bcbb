/**
 * Every path the AdCreative.ai simulator serves. Paths marked "documented" are spelled as in the
 * AdCreative docs; the others are NOT documented by AdCreative (the JWT refresh path, and the
 * progress and download paths of the image features: docs/providers/adcreative.md), so the service
 * reads them from its configuration and tests pass these values to it.
 */

/** The progress and download paths of one image feature (Background Remover, Upscaler, Face Enhancer). */
export interface ImageFeaturePaths {
  /** Documented: the multipart start call. */
  start: string;
  /** Not documented: query `userId`, `imageRenderProcessId`; answers an array of progress objects. */
  progress: string;
  /** Not documented: query `applicationId`, `taskId`, `imageRenderProcessId`, `lowResolution`, `format`. */
  download: string;
}

/** The paths of the simulator, relative to its `baseUrl`. */
export const adCreativeSimulatorPaths = {
  /** Documented. */
  generateJwtToken: '/api/v1/Authorization/GenerateJwtToken',
  /** Not documented (the body and answer are); the likely path. */
  refreshJwtToken: '/api/v1/Authorization/RefreshJwtToken',
  /** Documented: the Product Photoshoot API. */
  productGeneration: {
    presetKeys: '/api/v1/Image/ProductGeneration/PresetKeys',
    recommendations: '/api/v1/Image/ProductGeneration/Recommendations',
    start: '/api/v1/Image/ProductGeneration/AdCreative',
    /** Query `userId`, `imageProductGeneratorProcessId`. */
    progress: '/api/v1/Image/ProductGeneration/CheckUserProgress',
    /** Query `applicationId`. */
    allProgresses: '/api/v1/Image/ProductGeneration/CheckApplicationAllProgresses',
    /** Query `applicationId`, `taskId`, `imageProductGeneratorProcessId`, `lowResolution`, `format`. */
    download: '/api/v1/Image/ProductGeneration/Download',
  },
  backgroundRemoving: {
    start: '/api/v1/Image/BackgroundRemoving/AdCreative',
    progress: '/api/v1/Image/BackgroundRemoving/CheckUserProgress',
    download: '/api/v1/Image/BackgroundRemoving/Download',
  } satisfies ImageFeaturePaths,
  upscaling: {
    start: '/api/v1/Image/Upscaling/AdCreative',
    progress: '/api/v1/Image/Upscaling/CheckUserProgress',
    download: '/api/v1/Image/Upscaling/Download',
  } satisfies ImageFeaturePaths,
  faceEnhancing: {
    start: '/api/v1/Image/FaceEnhancing/AdCreative',
    progress: '/api/v1/Image/FaceEnhancing/CheckUserProgress',
    download: '/api/v1/Image/FaceEnhancing/Download',
  } satisfies ImageFeaturePaths,
  /** Where `publicImageUrl`s point (AdCreative uses a public storage bucket); no authentication. */
  publicImages: '/adcreative-bucket/images/',
  /** Where preset `previewImageUrl`s point; no authentication. */
  presetPreviews: '/assets/ai-product-preset/',
} as const;
