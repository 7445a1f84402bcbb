/** Public surface of the AdCreative.ai simulator (tests, demo). */

export type { GenerationKind } from './features.ts';
export type { ImageFeatureName, ImageFeatureWireOptions } from './image-feature-wire.ts';
export { adCreativeSimulatorPaths, type ImageFeaturePaths } from './paths.ts';
export { generationFailureMessage, renderStates } from './render-process.ts';
export { AdCreativeSimulator } from './server.ts';
export type {
  AdCreativeApplication,
  AdCreativeSimulatorOptions,
  CallLogEntry as AdCreativeCallLogEntry,
  DownloadRecord,
  FaultMatch as AdCreativeFaultMatch,
  FaultResponse as AdCreativeFaultResponse,
  GenerationRecord,
  UploadRecord,
} from './types.ts';
