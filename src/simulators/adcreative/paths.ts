/**
 * Every path the AdCreative.ai simulator serves by default. Paths marked "documented" are spelled
 * as in AdCreative's "Product Photoshoot API" page (or, for GenerateJwtToken, named there:
 * "Authenticate via /Authorization/GenerateJwtToken"); the others are NOT documented there (the
 * JWT refresh path, every path of the image features: docs/providers/adcreative.md), so the
 * service reads them from its configuration, and a test may serve the image features elsewhere
 * (AdCreativeSimulatorOptions.imageFeatureWire).
 */

/** The paths of one image feature (Background Remover, Upscaler, Face Enhancer); none is documented. */
export interface ImageFeaturePaths {
  /** The multipart start call. */
  start: string;
  /** Query `userId`, `imageRenderProcessId`; answers an array of progress objects. */
  progress: string;
  /** Query `applicationId`, `taskId`, `imageRenderProcessId`, `lowResolution`, `format`. */
  download: string;
  /** Query `applicationId`; answers the progress objects of every user of the application (as the Photoshoot's). */
  allProgresses: string;
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
    allProgresses: '/api/v1/Image/BackgroundRemoving/CheckApplicationAllProgresses',
  } satisfies ImageFeaturePaths,
  upscaling: {
    start: '/api/v1/Image/Upscaling/AdCreative',
    progress: '/api/v1/Image/Upscaling/CheckUserProgress',
    download: '/api/v1/Image/Upscaling/Download',
    allProgresses: '/api/v1/Image/Upscaling/CheckApplicationAllProgresses',
  } satisfies ImageFeaturePaths,
  faceEnhancing: {
    start: '/api/v1/Image/FaceEnhancing/AdCreative',
    progress: '/api/v1/Image/FaceEnhancing/CheckUserProgress',
    download: '/api/v1/Image/FaceEnhancing/Download',
    allProgresses: '/api/v1/Image/FaceEnhancing/CheckApplicationAllProgresses',
  } satisfies ImageFeaturePaths,
  /** Where `publicImageUrl`s point (AdCreative uses a public storage bucket); no authentication. */
  publicImages: '/adcreative-bucket/images/',
  /** Where preset `previewImageUrl`s point; no authentication. */
  presetPreviews: '/assets/ai-product-preset/',
} as const;
