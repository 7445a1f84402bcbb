/** Public surface of the Adobe Firefly Workflow API simulator (tests, demo). Names carry `Firefly` so `export *` next to other simulators cannot clash. */

export {
  type FireflyAssetCounts,
  type FireflyBatchStatus,
  type FireflyExecutionOutput,
  type FireflyExecutionStatus,
  fireflyCancelledRunMessage,
  fireflyForcedFailureMessage,
} from './batch.ts';
export { FireflySimulator } from './server.ts';
export {
  type FireflyBatchRecord,
  type FireflyCallLogEntry,
  type FireflyCredential,
  type FireflyFaultMatch,
  type FireflyFaultResponse,
  type FireflyInputKind,
  type FireflyRateLimit,
  type FireflySimulatorOptions,
  type FireflyWorkflow,
  fireflyDocumentedInputHosts,
  fireflyDocumentedScopes,
} from './types.ts';
