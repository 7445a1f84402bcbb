/**
 * pino JSON logs. Secrets are redacted by configuration, not by discipline: credentials,
 * Authorization and X-CF-Signature headers, and the query string of any pre-signed URL.
 */
import { type Logger, type LoggerOptions, pino } from 'pino';

/** Keeps scheme, host and path of a URL and drops its query (where S3 signatures live). */
export function stripQuery(value: unknown): unknown {
  if (typeof value !== 'string') return '[Redacted]';
  const q = value.indexOf('?');
  return q === -1 ? value : `${value.slice(0, q)}?[Redacted]`;
}

const secretPaths = [
  'clientSecret',
  '*.clientSecret',
  '*.*.clientSecret',
  'webhookSecrets',
  '*.webhookSecrets',
  '*.*.webhookSecrets',
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
  'req.headers.authorization',
  'req.headers["x-cf-signature"]',
  'headers.authorization',
  'headers.Authorization',
  'headers["x-cf-signature"]',
  '*.headers.authorization',
  '*.headers.Authorization',
];
const urlPaths = ['url', '*.url', 'fileUrl', '*.fileUrl', 'presignedUrl', '*.presignedUrl', 'req.url'];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'cf-ai-connector' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [...secretPaths, ...urlPaths],
      // URL fields keep their origin and path; everything else matched is a secret. (pino may put
      // a Symbol in the path, so each key is turned into a string explicitly.)
      censor: (value, path) => (/url$/i.test(String(path.at(-1) ?? '')) ? stripQuery(value) : '[Redacted]'),
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
