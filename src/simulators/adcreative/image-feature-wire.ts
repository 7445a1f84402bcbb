/**
 * What this simulator cannot take from its source about the Background Remover, Image Upscaler and
 * Face Enhancer. The AdCreative page it follows ("Product Photoshoot API") documents only the
 * Product Photoshoot, so the three features' paths, the query parameter naming their process, and
 * the names of their form fields and query parameters are this simulator's choice: the likely
 * values below, which a test may move (AdCreativeSimulatorOptions.imageFeatureWire) to see a client
 * follow its configuration. Whatever is chosen is strict: another path is a 404, another name a
 * missing required field.
 */
import type { ImageJobKind } from './features.ts';
import { adCreativeSimulatorPaths, type ImageFeaturePaths } from './paths.ts';

/**
 * The names the three features' calls use, each under its default name: the start form's
 * `applicationId`, `userId`, `uploadedImage` (the image part) and, for the Face Enhancer,
 * `ariaRatio` and `maxFaceCount`; the progress query's `userId`; the download query's
 * `applicationId`, `taskId`, `lowResolution`, `format`.
 */
export type ImageFeatureName =
  | 'applicationId'
  | 'userId'
  | 'uploadedImage'
  | 'ariaRatio'
  | 'maxFaceCount'
  | 'taskId'
  | 'lowResolution'
  | 'format';

/** The wire of the three features as the simulator serves it. */
export interface ImageFeatureWire {
  paths: Readonly<Record<ImageJobKind, ImageFeaturePaths>>;
  /** The query parameter naming the process in progress and download calls. */
  processIdParam: string;
  /** The name sent for each of the names above. */
  names: Readonly<Record<ImageFeatureName, string>>;
}

/** What a test may move; the rest keeps its default. */
export interface ImageFeatureWireOptions {
  paths?: Partial<Record<ImageJobKind, Partial<ImageFeaturePaths>>>;
  processIdParam?: string;
  names?: Partial<Record<ImageFeatureName, string>>;
}

const defaultNames: Record<ImageFeatureName, string> = {
  applicationId: 'applicationId',
  userId: 'userId',
  uploadedImage: 'uploadedImage',
  ariaRatio: 'ariaRatio',
  maxFaceCount: 'maxFaceCount',
  taskId: 'taskId',
  lowResolution: 'lowResolution',
  format: 'format',
};

/** The wire with `options` applied over the defaults. */
export function imageFeatureWire(options: ImageFeatureWireOptions = {}): ImageFeatureWire {
  const path = (kind: ImageJobKind, defaults: ImageFeaturePaths): ImageFeaturePaths => ({
    ...defaults,
    ...options.paths?.[kind],
  });
  return {
    paths: {
      'background-remove': path('background-remove', adCreativeSimulatorPaths.backgroundRemoving),
      upscale: path('upscale', adCreativeSimulatorPaths.upscaling),
      'face-enhance': path('face-enhance', adCreativeSimulatorPaths.faceEnhancing),
    },
    processIdParam: options.processIdParam ?? 'imageRenderProcessId',
    names: { ...defaultNames, ...options.names },
  };
}
