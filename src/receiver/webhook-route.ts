/**
 * POST /webhooks/creative-force/:connectionId
 *
 * Order matters: the connection is looked up, then the signature header's length is checked (no
 * HMAC for a header that fits no variant), then the signature on the raw bytes, and only then is
 * the body validated, so an unauthenticated caller learns nothing. The connection-level keys need
 * no parsing; only when they do not match and subfunctions have keys of their own is the body
 * parsed as JSON, to read `SubfunctionId` and choose that subfunction's keys (webhook-keys.ts).
 * Whatever the body holds, one that matches no key gets the same 401.
 * 202 is sent only after the job is stored in Redis; a Redis failure is a 503 that CF retries, a
 * job the queue refuses (a bug) a 500.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ReceiverConnection } from '../config/connections.ts';
import { signatureHeader } from '../creative-force/contract.ts';
import type { WebhookPayload } from '../creative-force/schemas.ts';
import { webhookPayloadSchema } from '../creative-force/schemas.ts';
import { isConnectorError } from '../errors.ts';
import { plainLogger } from '../observability/logger.ts';
import type { ServiceMetrics } from '../observability/metrics.ts';
import { type ActiveSpan, type Tracing, tracingOff } from '../observability/tracing.ts';
import type { EnqueueResult } from '../queue/cycle-queue.ts';
import { plausibleSignature, type SignatureCheck, type SignatureScheme, verifySignature } from './verify-signature.ts';
import { type ConnectionWebhookKeys, connectionWebhookKeys } from './webhook-keys.ts';
import { webhookRoutePath } from './webhook-url.ts';

/** The largest webhook body accepted; a ReadyToWork event is about 1 KiB. */
export const webhookBodyLimit = 256 * 1024;

export interface WebhookRouteDeps {
  connections: ReadonlyMap<string, ReceiverConnection>;
  /** Stores the cycle's job; `seen` is what the task history shows of it until a worker takes it. */
  enqueue(
    connectionId: string,
    event: WebhookPayload,
    seen: { signatureVariant: string; recipe: string },
  ): Promise<EnqueueResult>;
  /** Told of each event answered 202 (a duplicate too), after the answer is sent; must not throw. */
  accepted?(info: { connectionId: string; signatureVariant: string }): void;
  logger: Logger;
  /** Counts every answer by connection and status. */
  metrics?: Pick<ServiceMetrics, 'webhookAnswered'>;
  /** Each request is a span, the root of its cycle's trace (`enqueue` runs inside it). */
  tracing?: Tracing;
}

/** The connection label of answers to a URL that names no configured connection. */
export const unknownConnectionLabel = '(unknown)';

/** What SubfunctionId of a body that is not authenticated yet can say. */
const subfunctionOnly = webhookPayloadSchema.pick({ SubfunctionId: true });

type ParsedBody = { ok: true; value: unknown } | { ok: false };

/** Parses the raw body as JSON the first time it is asked for, and remembers the result. */
function jsonOf(raw: Buffer): () => ParsedBody {
  let parsed: ParsedBody | undefined;
  return () => {
    if (parsed === undefined) {
      try {
        parsed = { ok: true, value: JSON.parse(raw.toString('utf8')) };
      } catch {
        parsed = { ok: false };
      }
    }
    return parsed;
  };
}

/** The subfunction a parsed body names, if it names one validly. */
function subfunctionOf(body: ParsedBody): string | undefined {
  const named = body.ok ? subfunctionOnly.safeParse(body.value) : undefined;
  return named?.success ? String(named.data.SubfunctionId) : undefined;
}

/**
 * The signature check of a request: undefined for a header that fits no variant (no HMAC at all);
 * otherwise the connection-level keys, then, if they do not match, the keys of the subfunction
 * the body names.
 */
function checkSignature(
  raw: Buffer,
  header: string | undefined,
  scheme: SignatureScheme,
  keys: ConnectionWebhookKeys,
  body: () => ParsedBody,
): SignatureCheck | undefined {
  if (!plausibleSignature(header, scheme)) return undefined;
  const shared = verifySignature(raw, header, keys.shared, scheme);
  if (shared.ok || !keys.hasSubfunctionKeys) return shared;
  return verifySignature(raw, header, keys.forSubfunction(subfunctionOf(body())), scheme);
}

/** What one line of the webhook's outcome says: ids, names and flags, never a header or a body. */
interface WebhookLine {
  connectionId: string;
  taskProcessId?: string;
  signatureVariant?: string;
  reason?: string;
  ignored?: string;
  jobId?: string;
  duplicate?: boolean;
}

/** Logs {@link WebhookLine}s, with no redaction pass: see `plainLogger`. */
type WebhookLog = (level: 'info' | 'warn', line: WebhookLine, message: string) => void;

const spanName = `POST ${webhookRoutePath}`;
const spanOptions = {
  kind: 'server',
  attributes: { 'http.request.method': 'POST', 'http.route': webhookRoutePath },
} as const;

/** Registers the webhook route in its own encapsulated context with a raw-bytes body parser. */
export async function webhookRoute(app: FastifyInstance, deps: WebhookRouteDeps): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: webhookBodyLimit }, (_req, body, done) => done(null, body));
  // No per-request child logger (with request logging off, its request id would be on no line):
  // what the route logs, it logs on the service's logger with the connection and task as fields.
  app.setChildLoggerFactory((logger) => logger);
  // Key objects are made once, here, not per request.
  const keys = new Map<string, ConnectionWebhookKeys>(
    [...deps.connections].map(([id, connection]) => [id, connectionWebhookKeys(connection)]),
  );
  const plain = plainLogger(deps.logger);
  const log: WebhookLog = (level, line, message) => plain[level](line, message);

  const { metrics, tracing = tracingOff } = deps;
  if (metrics) {
    app.addHook('onResponse', (request, reply, done) => {
      const { connectionId } = request.params as { connectionId?: string };
      const known = connectionId !== undefined && deps.connections.has(connectionId);
      metrics.webhookAnswered(known ? connectionId : unknownConnectionLabel, reply.statusCode);
      done();
    });
  }

  app.post<{ Params: { connectionId: string } }>(webhookRoutePath, { bodyLimit: webhookBodyLimit }, (request, reply) =>
    tracing.span(spanName, spanOptions, async (span) => {
      const answer = await answerWebhook(deps, keys, log, request, reply, span);
      span.setAttributes({ 'http.response.status_code': reply.statusCode });
      return answer;
    }),
  );
}

/** The answer to one webhook request, in the order the top of this file gives. */
async function answerWebhook(
  deps: WebhookRouteDeps,
  keys: ReadonlyMap<string, ConnectionWebhookKeys>,
  log: WebhookLog,
  request: FastifyRequest<{ Params: { connectionId: string } }>,
  reply: FastifyReply,
  span: ActiveSpan,
): Promise<FastifyReply> {
  const { connectionId } = request.params;
  const connection = deps.connections.get(connectionId);
  const connectionKeys = keys.get(connectionId);
  if (!connection || !connectionKeys) return reply.code(404).send({ error: 'unknown connection' });

  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const value = request.headers[signatureHeader];
  const header = typeof value === 'string' ? value : undefined;
  const body = jsonOf(raw);
  const check = checkSignature(raw, header, connection.creativeForce.signatureScheme, connectionKeys, body);
  if (!check?.ok) {
    const reason = header === undefined ? 'missing' : check === undefined ? 'malformed' : 'mismatch';
    log('warn', { connectionId, reason }, 'webhook refused: signature');
    return reply.code(401).send({ error: 'invalid signature' });
  }

  const json = body();
  if (!json.ok) return reply.code(400).send({ error: 'body is not JSON' });
  const parsed = webhookPayloadSchema.safeParse(json.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || '(body)';
    return reply.code(400).send({ error: 'not a ReadyToWork payload', field, message: `${field}: ${issue?.message}` });
  }
  const event = parsed.data;
  span.setAttributes({ 'cfc.connection_id': connectionId, 'cfc.task_process_id': event.TaskProcessId });
  const line = { connectionId, taskProcessId: event.TaskProcessId, signatureVariant: check.variant };

  const ignored = ignoreReason(connection, event);
  if (ignored) {
    log('info', { ...line, ignored }, 'webhook ignored');
    return reply.code(200).send({ ignored });
  }
  return accept(reply, deps, connection, event, log, line);
}

function ignoreReason(connection: ReceiverConnection, event: WebhookPayload): string | null {
  if (event.Action !== 'ReadyToWork') return `action ${event.Action} is not handled`;
  if (!connection.stepIds.includes(event.StepId)) return `step ${event.StepId} is not one of this connection's steps`;
  if (!connection.subfunctions[String(event.SubfunctionId)]) return `subfunction ${event.SubfunctionId} has no recipe`;
  return null;
}

async function accept(
  reply: FastifyReply,
  deps: WebhookRouteDeps,
  connection: ReceiverConnection,
  event: WebhookPayload,
  log: WebhookLog,
  line: WebhookLine & { signatureVariant: string },
): Promise<FastifyReply> {
  const { signatureVariant } = line;
  const recipe = connection.subfunctions[String(event.SubfunctionId)]?.recipe ?? '(none)';
  let result: EnqueueResult;
  try {
    result = await deps.enqueue(connection.id, event, { signatureVariant, recipe });
  } catch (err) {
    // An error can carry what must not be logged (a failed Redis command's arguments): the
    // service's logger, with its redaction.
    const errorLine = { connectionId: line.connectionId, taskProcessId: line.taskProcessId, err };
    if (isConnectorError(err) && err.code === 'QUEUE_UNAVAILABLE') {
      deps.logger.error(errorLine, 'webhook not queued: Redis unavailable');
      return reply.code(503).header('retry-after', '5').send({ error: 'queue unavailable, retry later' });
    }
    // Not Redis: retrying the same event cannot help, so no 503.
    deps.logger.error(errorLine, 'webhook not queued: the queue refused the job');
    return reply.code(500).send({ error: 'webhook not queued' });
  }
  const sent = reply.code(202).send({ jobId: result.jobId, duplicate: result.duplicate });
  // After the answer has gone to the socket (Node writes it out on a tick queued before this one):
  // the log line and the connection's last webhook are not the webhook's business. Measured with
  // bench/intake.ts: the synchronous log write before the answer left cost about 0.1x of the
  // minimal receiver's requests per second.
  process.nextTick(() => {
    log(
      'info',
      { ...line, jobId: result.jobId, duplicate: result.duplicate },
      result.duplicate ? 'webhook duplicate of a queued cycle' : 'webhook accepted',
    );
    deps.accepted?.({ connectionId: connection.id, signatureVariant });
  });
  return sent;
}
