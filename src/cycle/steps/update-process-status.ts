/**
 * Step 6 of the guide: tell Creative Force a cycle failed, so the task does not stay
 * "In Progress". The message is for a studio user: what went wrong and what to do about it.
 */

import { type ErrorCode, isConnectorError } from '../../errors.ts';
import type { GatewayClient } from '../cycle-context.ts';

const hints: Partial<Record<ErrorCode, string>> = {
  ASSET_UNREADABLE: 'Check that the input file opens as an image and upload it again.',
  ASSET_TOO_LARGE: 'Use a smaller input file, or ask the connector operator to raise MAX_ASSET_BYTES.',
  TASK_INPUT_MISSING: 'Add an input asset to the task before this step.',
  SLOT_UNFILLABLE: "Check the drop box quantity rules of this step against what the subfunction's recipe produces.",
  OUTPUT_CHECK_FAILED:
    "The AI service returned files that are not usable images or videos (or break this step's rules); send the task again, or check the recipe options.",
  SLOT_UNSUPPORTED: "Map this subfunction to a recipe that produces the drop box's content type (photo or video).",
  RECIPE_NOT_CONFIGURED: 'Ask the connector operator to configure a recipe for this subfunction.',
  CF_FORBIDDEN: 'Give the registered app\'s "On Behalf User" the permissions the connector needs.',
  CF_AUTH_FAILED: 'The client id / secret of the registered app were refused: share fresh credentials with the operator.',
  UPLOAD_REFUSED: 'Creative Force refused an output file type or size: check the recipe options.',
  PROVIDER_INPUT_REFUSED:
    'The AI service cannot use this input image: use another input (a clear product shot) and send the task again.',
  PROVIDER_NO_CREDITS:
    'The AI service account has no credits left: ask the connector operator to top it up, then send the task again.',
  PROVIDER_AUTH_FAILED: "The AI service refused the connector's credentials: ask the connector operator to check them.",
  PROVIDER_REJECTED:
    'The AI service refused the request: ask the connector operator to check the recipe options of this subfunction.',
  PROVIDER_GENERATION_FAILED: 'The AI service could not generate the images: send the task again, or use another input.',
  PROVIDER_START_AMBIGUOUS:
    'The AI service may already have started this work, but the connector cannot tell which of its generations is it, so it started none again (that would be paid twice): ask the connector operator to check the AI service account, then send the task again.',
  PROVIDER_RESULT_REFUSED:
    "The AI service answered with a result from a place or of a size the connector does not accept: ask the connector operator to check the connection's result hosts and PROVIDER_RESULT_MAX_BYTES.",
  CHECKPOINT_VERSION_UNKNOWN: 'Send the task to this step again: the connector starts it afresh.',
  CHECKPOINT_INVALID: 'Send the task to this step again: the connector starts it afresh.',
  CYCLE_ABANDONED:
    'Send the task to this step again to retry; if it happens again, the input may be too large for the connector.',
};

/** A remote system's error code (e.g. `ErrorCode-1554`, `invalid_client`) that a studio user may quote. */
const quotableCode = /^[A-Za-z0-9_.-]{1,64}$/;
const url = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*/gi;

/**
 * The status message shown in Creative Force, at most 1000 characters: the error's own message
 * (never what a remote system said: see ConnectorError.remoteText) with any URL removed, the remote
 * error code when it is a plain token, our code, and a hint. No secrets, no URLs, no remote text.
 */
export function studioMessage(err: unknown): string {
  if (!isConnectorError(err)) return 'cf-ai-connector failed on an unexpected error; the operator has the details in the logs.';
  const hint =
    hints[err.code] ?? (err.retryable ? 'The connector retried several times; send the task to this step again to retry.' : '');
  const remoteCode = [err.details?.cfErrorCode, err.details?.oauthError].find(
    (value): value is string => typeof value === 'string' && quotableCode.test(value),
  );
  const what = `${err.ownMessage.replace(url, '(link removed)')}${remoteCode ? ` (${remoteCode})` : ''}`;
  return `cf-ai-connector could not complete this task: ${what} [${err.code}]. ${hint}`.trim().slice(0, 1000);
}

export async function updateProcessStatus(
  client: GatewayClient,
  taskProcessId: string,
  message: string,
  signal?: AbortSignal,
): Promise<void> {
  await client.updateProcessStatus(taskProcessId, message, signal);
}
