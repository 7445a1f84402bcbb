/**
 * The ReadyToWork webhook as Creative Force sends it: the PascalCase body of the vendor guide's
 * example (several numbers as strings), signed into `X-CF-Signature`.
 */
import { type SignatureVariant, signatureHeader } from '../../creative-force/contract.ts';
import { signWebhook } from './signing.ts';
import { type SimTask, stepNameOf } from './state.ts';

/** The ReadyToWork body of a task process; an override set to `undefined` removes the field. */
export function buildWebhookPayload(task: SimTask, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    Action: 'ReadyToWork',
    TaskId: task.taskId,
    TaskProcessId: task.taskProcessId,
    SubfunctionId: task.subfunctionId,
    SubFunctionName: task.subfunctionName,
    JobId: task.jobId,
    JobCode: task.jobCode,
    ClientId: task.clientId,
    ClientName: task.clientName,
    ProductId: task.productId,
    ProductCode: task.productCode,
    StepId: String(task.stepId),
    StepName: stepNameOf(task.stepId),
    StepStatusId: '2000',
    StepStatusName: 'Ready To Work',
    ShootingTypeId: '1',
    ShootingTypeName: 'AI On Model',
    StyleGuideId: task.styleGuideId,
    StyleGuideName: task.styleGuideName,
  };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete payload[key];
    else payload[key] = value;
  }
  return payload;
}

/** Options of `sendWebhook`. */
export interface SendWebhookOptions {
  overrides?: Record<string, unknown>;
  /** Signature variant; default the ASSUMED `b64key-sha256-base64`. */
  variant?: SignatureVariant;
  /** Sends this header value instead of the computed signature; `null` sends no header. */
  signature?: string | null;
  /** Sends these exact bytes instead of the JSON of the payload (signed unless `signature` is set). */
  rawBody?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/** POSTs a webhook body like CF does and returns the receiver's answer (JSON when it parses). */
export async function postWebhook(
  url: string,
  payload: Record<string, unknown>,
  secretBase64: string,
  opts: SendWebhookOptions = {},
): Promise<{ status: number; body: unknown }> {
  const rawBody = opts.rawBody ?? JSON.stringify(payload);
  const signature = opts.signature === undefined ? signWebhook(rawBody, secretBase64, opts.variant) : opts.signature;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(opts.headers ?? {}) };
  if (signature !== null) headers[signatureHeader] = signature;
  const response = await fetch(url, { method: 'POST', headers, body: rawBody });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, body };
}
