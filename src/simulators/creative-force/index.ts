/** Public surface of the Creative Force simulator (tests, demo, benchmarks). */

export { contentTypeOf } from './content-types.ts';
export { type SampleImageOptions, sampleImage } from './sample-images.ts';
export { CreativeForceSimulator } from './server.ts';
export { signWebhook } from './signing.ts';
export type {
  AnnotationSeed,
  CallLogEntry,
  CfSimulatorOptions,
  FaultMatch,
  FaultResponse,
  FileSeed,
  InputSeed,
  OutfitProductSeed,
  OutputAssetSeed,
  PresignCall,
  RecordedSubmission,
  SeededTask,
  SlotSeed,
  StatusUpdate,
  StoredOutput,
  SubmissionHold,
  TaskScenario,
} from './types.ts';
export type { SendWebhookOptions } from './webhook.ts';
