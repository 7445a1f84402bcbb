import { describe, expect, it } from 'vitest';
import { capturedLogger } from '../helpers/captured-logger.ts';

function capture() {
  const { logger, lines } = capturedLogger('info');
  return { logger, text: () => lines.join('') };
}

describe('logger redaction', () => {
  it('removes secrets, Authorization, X-CF-Signature and pre-signed query strings', () => {
    const { logger, text } = capture();
    logger.info(
      {
        connection: { clientId: 'client-1', clientSecret: 'very-secret', webhookSecrets: ['hook-secret'] },
        req: { url: '/webhooks/creative-force/acme', headers: { authorization: 'Bearer tok-123', 'x-cf-signature': 'sig-abc' } },
        upload: { presignedUrl: 'https://bucket.s3.amazonaws.com/a/b.jpg?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA' },
        fileUrl: 'https://bucket.s3.amazonaws.com/in.jpg?X-Amz-Signature=cafe',
        access_token: 'tok-456',
      },
      'a line',
    );
    const out = text();
    for (const secret of ['very-secret', 'hook-secret', 'tok-123', 'sig-abc', 'deadbeef', 'AKIA', 'cafe', 'tok-456']) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('client-1');
    expect(out).toContain('https://bucket.s3.amazonaws.com/a/b.jpg?[Redacted]');
    expect(out).toContain('/webhooks/creative-force/acme');
  });
});

describe('logger redaction of Redis credentials', () => {
  it("removes a failed Redis command's arguments (ioredis puts AUTH's password there) and a URL's user:password", () => {
    const { logger, text } = capture();
    // The shape of an ioredis ReplyError for a refused AUTH (DataHandler sets `command`).
    const err = Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), {
      command: { name: 'auth', args: ['redis-pass-1'] },
    });
    logger.warn({ err }, 'redis connection error');
    logger.info({ config: { redisUrl: 'redis://:redis-pass-2@redis:6379/0' }, url: 'rediss://user:redis-pass-3@host:6380' }, 'b');
    const out = text();
    for (const secret of ['redis-pass-1', 'redis-pass-2', 'redis-pass-3']) expect(out).not.toContain(secret);
    expect(out).toContain('WRONGPASS');
    expect(out).toContain('"name":"auth"');
    expect(out).toContain('redis://[Redacted]@redis:6379/0');
    expect(out).toContain('rediss://[Redacted]@host:6380');
  });
});
