/**
 * Validation of the `POST /batch/execute` body, `BatchExecuteRequest` (the OpenAPI spec):
 *
 * ```jsonc
 * { "workflow": { "workflowId": "<uuid>", "inputs": [ [ <node input>, ... ], ... ] } }
 * ```
 *
 * A node input is exactly one of `{ node_id, content: [PresignedStorageRef, ...] }` (images),
 * `{ node_id, content: "text" }` or `{ node_id, template: PresignedStorageRef }`, without other
 * properties (the spec: `additionalProperties: false`); a `PresignedStorageRef` is
 * `{ presignedUrl, storageType? }` (held to the same strictness, the simulator's choice). Unknown
 * properties beside `workflow` and inside it are ignored: whether v1.0 takes `batchConfig` is
 * unknown (docs/providers/firefly.md).
 *
 * Then, against the registered workflow (not documented; the simulator's choices): every run maps
 * each input node exactly once, image nodes with a `content` array, text nodes with a `content`
 * string; `template` inputs are refused (no workflow of the simulator has a template node). Image
 * URLs must be HTTPS on an accepted storage host (`getting-started/usage`); with
 * `allowHttpLoopbackInputs`, `http://` loopback URLs carrying `X-Amz-Signature` pass too. A
 * `storageType`, when sent, must be one of the accepted storage types: the specification's only
 * example value is `AWS` and its list of values is not documented, so the simulator takes only the
 * values it is told (default `AWS`).
 */
import type { Reply } from '../harness/http-io.ts';
import { invalidRequest, notJson } from './errors.ts';
import type { FireflyInputKind, FireflyWorkflow } from './types.ts';

/** A node input of one run, after the shape check. */
export type NodeInput =
  | { nodeId: string; kind: 'image'; urls: string[]; storageTypes: (string | null)[] }
  | { nodeId: string; kind: 'text'; text: string }
  | { nodeId: string; kind: 'template'; url: string };

/** A well-formed request. */
export interface ExecuteRequest {
  /** `workflow.workflowId` as sent. */
  workflowId: string;
  /** `workflow.inputs` as sent. */
  rawRuns: unknown[][];
  /** The parsed node inputs of each run. */
  runs: NodeInput[][];
}

/** Which image URLs the simulator takes. */
export interface InputUrlPolicy {
  acceptedHosts: readonly string[];
  allowHttpLoopback: boolean;
  /** The `storageType` values taken (a reference may also leave it out). */
  acceptedStorageTypes: readonly string[];
}

/** A parse result: the value, or the 400 to answer. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reply: Reply };

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** True when `value` is a UUID (any version, any case). */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

/** Parses and shape-checks the raw body. */
export function parseExecuteRequest(body: Buffer): Parsed<ExecuteRequest> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reply: notJson() };
  }
  const fail = (message: string): Parsed<ExecuteRequest> => ({ ok: false, reply: invalidRequest(message) });
  if (!isObject(json)) return fail('Request body must be a JSON object');
  const { workflow } = json;
  if (workflow === undefined) return fail('workflow is required');
  if (!isObject(workflow)) return fail('workflow must be an object');
  const { workflowId, inputs } = workflow;
  if (workflowId === undefined) return fail('workflow.workflowId is required');
  if (typeof workflowId !== 'string' || !isUuid(workflowId)) return fail('workflow.workflowId must be a UUID');
  if (inputs === undefined) return fail('workflow.inputs is required');
  if (!Array.isArray(inputs)) return fail('workflow.inputs must be an array of runs');
  if (inputs.length === 0) return fail('workflow.inputs must contain at least one run');
  const runs: NodeInput[][] = [];
  for (const [runIndex, run] of inputs.entries()) {
    const where = `workflow.inputs[${runIndex}]`;
    if (!Array.isArray(run)) return fail(`${where} must be an array of node inputs`);
    if (run.length === 0) return fail(`${where} must contain at least one node input`);
    const parsedRun: NodeInput[] = [];
    for (const [inputIndex, input] of run.entries()) {
      const parsed = parseNodeInput(input, `${where}[${inputIndex}]`);
      if (typeof parsed === 'string') return fail(parsed);
      parsedRun.push(parsed);
    }
    runs.push(parsedRun);
  }
  return { ok: true, value: { workflowId, rawRuns: structuredClone(inputs as unknown[][]), runs } };
}

/** A node input, or the message saying what is wrong with it. */
function parseNodeInput(input: unknown, where: string): NodeInput | string {
  if (!isObject(input)) return `${where} must be an object`;
  const extra = Object.keys(input).filter((key) => key !== 'node_id' && key !== 'content' && key !== 'template');
  if (extra.length > 0) return `${where} has unknown properties: ${extra.join(', ')}`;
  const { node_id: nodeId, content, template } = input;
  if (typeof nodeId !== 'string' || nodeId === '') return `${where}.node_id must be a non-empty string`;
  if (content !== undefined && template !== undefined) return `${where} must have either content or template, not both`;
  if (template !== undefined) {
    const ref = parseRef(template, `${where}.template`);
    return 'error' in ref ? ref.error : { nodeId, kind: 'template', url: ref.url };
  }
  if (content === undefined) return `${where} must have content or template`;
  if (typeof content === 'string') return { nodeId, kind: 'text', text: content };
  if (!Array.isArray(content)) {
    return `${where}.content must be a text or an array of presigned storage references`;
  }
  if (content.length === 0) return `${where}.content must contain at least one presigned storage reference`;
  const urls: string[] = [];
  const storageTypes: (string | null)[] = [];
  for (const [refIndex, ref] of content.entries()) {
    const parsed = parseRef(ref, `${where}.content[${refIndex}]`);
    if ('error' in parsed) return parsed.error;
    urls.push(parsed.url);
    storageTypes.push(parsed.storageType);
  }
  return { nodeId, kind: 'image', urls, storageTypes };
}

/** The URL and storage type of a `PresignedStorageRef`, or what is wrong with it. */
function parseRef(ref: unknown, where: string): { url: string; storageType: string | null } | { error: string } {
  if (!isObject(ref)) return { error: `${where} must be an object with presignedUrl` };
  const extra = Object.keys(ref).filter((key) => key !== 'presignedUrl' && key !== 'storageType');
  if (extra.length > 0) return { error: `${where} has unknown properties: ${extra.join(', ')}` };
  const { presignedUrl, storageType } = ref;
  if (typeof presignedUrl !== 'string' || !URL.canParse(presignedUrl)) return { error: `${where}.presignedUrl must be a URL` };
  if (storageType !== undefined && typeof storageType !== 'string') return { error: `${where}.storageType must be a string` };
  return { url: presignedUrl, storageType: storageType ?? null };
}

/**
 * Checks the runs against the workflow's input nodes and the image URLs against the policy;
 * `undefined` when all is well, else the 400.
 */
export function checkRuns(request: ExecuteRequest, workflow: FireflyWorkflow, policy: InputUrlPolicy): Reply | undefined {
  const kinds = new Map<string, FireflyInputKind>(workflow.inputNodes.map((node) => [node.nodeId, node.kind]));
  for (const [runIndex, run] of request.runs.entries()) {
    const seen = new Set<string>();
    for (const [inputIndex, input] of run.entries()) {
      const where = `workflow.inputs[${runIndex}][${inputIndex}]`;
      const kind = kinds.get(input.nodeId);
      if (kind === undefined) {
        return invalidRequest(`${where}.node_id ${input.nodeId} is not an input node of workflow ${workflow.workflowId}`);
      }
      if (seen.has(input.nodeId)) return invalidRequest(`${where}.node_id ${input.nodeId} is mapped twice in run ${runIndex}`);
      seen.add(input.nodeId);
      if (input.kind !== kind) {
        const wanted = kind === 'image' ? 'an array of presigned storage references' : 'a text';
        return invalidRequest(`${where}: node ${input.nodeId} takes ${wanted} as content`);
      }
    }
    const missing = workflow.inputNodes.filter((node) => !seen.has(node.nodeId)).map((node) => node.nodeId);
    if (missing.length > 0) return invalidRequest(`workflow.inputs[${runIndex}] does not map input nodes: ${missing.join(', ')}`);
  }
  for (const [runIndex, run] of request.runs.entries()) {
    for (const [inputIndex, input] of run.entries()) {
      if (input.kind !== 'image') continue;
      for (const [refIndex, url] of input.urls.entries()) {
        const storageType = input.storageTypes[refIndex] ?? null;
        if (storageType !== null && !policy.acceptedStorageTypes.includes(storageType)) {
          return invalidRequest(
            `workflow.inputs[${runIndex}][${inputIndex}].content[${refIndex}].storageType ${storageType} is not supported ` +
              `(${policy.acceptedStorageTypes.join(', ')})`,
          );
        }
        if (isAcceptedInputUrl(url, policy)) continue;
        return invalidRequest(
          `workflow.inputs[${runIndex}][${inputIndex}].content[${refIndex}].presignedUrl is not a presigned URL on an accepted ` +
            `storage host (HTTPS on ${policy.acceptedHosts.join(', ')}): ${redact(url)}`,
        );
      }
    }
  }
  return undefined;
}

/**
 * True when `raw` is an HTTPS URL whose host is an accepted host or a subdomain of one, or (with
 * `allowHttpLoopback`) an `http://` loopback URL whose path or query carries `X-Amz-Signature`.
 */
export function isAcceptedInputUrl(raw: string, policy: InputUrlPolicy): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  const host = url.hostname.toLowerCase();
  if (url.protocol === 'https:') {
    return policy.acceptedHosts.some((accepted) => {
      const suffix = accepted.toLowerCase().replace(/^\.+/, '');
      return host === suffix || host.endsWith(`.${suffix}`);
    });
  }
  if (url.protocol === 'http:' && policy.allowHttpLoopback && loopbackHosts.has(host)) {
    return /x-amz-signature/i.test(url.pathname + url.search);
  }
  return false;
}

/** The URL without its query (a presigned URL's query is a credential). */
function redact(raw: string): string {
  const queryAt = raw.indexOf('?');
  return queryAt < 0 ? raw : `${raw.slice(0, queryAt)}?…`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
