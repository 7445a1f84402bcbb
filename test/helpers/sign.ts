import { createHmac } from 'node:crypto';

/** The ASSUMED recipe, computed independently of our verifier: base64(HMAC-SHA256(b64decode(secret), body)). */
export function sign(body: string | Buffer, secretBase64: string): string {
  return createHmac('sha256', Buffer.from(secretBase64, 'base64')).update(body).digest('base64');
}
