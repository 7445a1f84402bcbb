/**
 * pino JSON logs. Secrets are redacted by configuration, not by discipline: credentials,
 * Authorization and X-CF-Signature headers, the query string of any pre-signed URL, the
 * user:password of any URL (REDIS_URL carries one), and the arguments of a failed Redis command
 * (ioredis puts them on its errors: AUTH's is the password, SET's a cached token).
 */
import { type Logger, type LoggerOptions, pino } from 'pino';

/**
 * Keeps scheme, host and path of a URL; drops its query (where S3 signatures live) and its
 * user:password.
 */
export function redactUrl(value: unknown): unknown {
  if (typeof value !== 'string') return '[Redacted]';
  const q = value.indexOf('?');
  const withoutQuery = q === -1 ? value : `${value.slice(0, q)}?[Redacted]`;
  return withoutQuery.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1[Redacted]@');
}

const secretPaths = [
  'clientSecret',
  '*.clientSecret',
  '*.*.clientSecret',
  'webhookSecrets',
  '*.webhookSecrets',
  '*.*.webhookSecrets',
  '*.*.*.webhookSecrets',
  'access_token',
  '*.access_token',
  'token',
  '*.token',
  'password',
  '*.password',
  '*.jwtPrivateKey',
  '*.*.jwtPrivateKey',
  '*.apiSecret',
  '*.*.apiSecret',
  '*.apiKey',
  '*.*.apiKey',
  '*.accessToken',
  '*.refreshToken',
  'err.command.args',
  '*.err.command.args',
  'req.headers.authorization',
  'req.headers["x-cf-signature"]',
  'headers.authorization',
  'headers.Authorization',
  'headers["x-cf-signature"]',
  '*.headers.authorization',
  '*.headers.Authorization',
];
const urlPaths = ['url', '*.url', 'redisUrl', '*.redisUrl', 'fileUrl', '*.fileUrl', 'presignedUrl', '*.presignedUrl', 'req.url'];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'cf-ai-connector' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [...secretPaths, ...urlPaths],
      // URL fields keep their origin and path; everything else matched is a secret. (pino may put
      // a Symbol in the path, so each key is turned into a string explicitly.)
      censor: (value, path) => (/url$/i.test(String(path.at(-1) ?? '')) ? redactUrl(value) : '[Redacted]'),
    },
  };
  // Synchronous writes to stdout: a line is out before the call returns, so the last lines of a
  // process that exits (a fatal error, the end of a shutdown) are never left in a buffer. A
  // service logs tens of lines a second at most; the cost does not show.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}

/**
 * A child of `logger` without redaction, for the one line per webhook whose fields are all plain
 * values of known meaning (configured ids, the task's ids, variant names, flags), never a header,
 * a body, a URL or an error. Redaction walks every field of every line through the wildcard paths
 * above, which at hundreds of webhooks a second is a real share of the receiver's time; a caller
 * gives this logger only fields it has typed to be plain (see webhook-route.ts).
 */
export function plainLogger(logger: Logger): Logger {
  return logger.child({}, { redact: [] });
}
