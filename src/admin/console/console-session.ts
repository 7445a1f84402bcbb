/**
 * The console's session: the admin token itself, in the `cfc_admin` cookie (HttpOnly, so no
 * script reads it; SameSite=Strict, so no other site's request carries it; Secure over HTTPS;
 * Path=/admin). The admin API accepts the same cookie as its bearer token.
 *
 * Every form that changes something also carries a CSRF token derived from the session token
 * (HMAC-SHA256 keyed by it): a page of another site cannot know it without the token, and every
 * receiver replica derives the same one, so no session store is needed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** The form field of the CSRF token. */
export const csrfField = 'csrf';

/** How long the browser keeps the session cookie: a working day. */
const sessionSeconds = 12 * 3600;

/** The value of cookie `name` in the request, if any. */
export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  const cookie = request.headers.cookie;
  if (typeof cookie !== 'string') return undefined;
  for (const part of cookie.split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key !== name) continue;
    try {
      return decodeURIComponent(value.join('='));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The CSRF token of a session. */
export function csrfTokenOf(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('cf-ai-connector console csrf').digest('base64url');
}

/** Whether `given` is the CSRF token of the session (compared in constant time). */
export function csrfValid(sessionToken: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const expected = Buffer.from(csrfTokenOf(sessionToken));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Whether the cookie must be Secure: the request came over HTTPS, or the public URL is HTTPS (TLS ends at a proxy). */
export function secureCookies(request: FastifyRequest, publicUrl: string | undefined): boolean {
  return request.protocol === 'https' || publicUrl?.startsWith('https:') === true;
}

/** The Set-Cookie value that signs the browser in. */
export function sessionCookie(name: string, token: string, secure: boolean): string {
  return `${name}=${encodeURIComponent(token)}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${sessionSeconds}${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that signs the browser out. */
export function clearedCookie(name: string, secure: boolean): string {
  return `${name}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}
