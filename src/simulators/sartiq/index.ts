/** Public surface of the Sartiq simulator (tests, demo). Names carry `Sartiq` so `export *` next to other simulators cannot clash. */

export {
  type GenerationStatus as SartiqGenerationStatus,
  type PredictionStatus as SartiqPredictionStatus,
  predictionFailure as sartiqPredictionFailure,
} from './generation.ts';
export { SartiqSimulator } from './server.ts';
export type {
  CallLogEntry as SartiqCallLogEntry,
  FaultMatch as SartiqFaultMatch,
  FaultResponse as SartiqFaultResponse,
  GenerationEndpoint as SartiqGenerationEndpoint,
  GenerationRecord as SartiqGenerationRecord,
  RefineRecord as SartiqRefineRecord,
  SartiqAccount,
  SartiqSimulatorOptions,
  UploadRecord as SartiqUploadRecord,
} from './types.ts';
export { videoContentType as sartiqVideoContentType } from './video.ts';
