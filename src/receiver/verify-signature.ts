/**
 * Webhook signature check on the raw request bytes, before anything is parsed.
 *
 * The recipe is ASSUMED (see creative-force/contract.ts): base64(HMAC-SHA256(base64decode(secret),
 * body)). A connection pins one variant, or uses `auto` to accept any member of the documented
 * family; every variant needs the secret, so `auto` lets no outsider in. Comparisons are constant
 * time, and the result never says which part was wrong.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type SignatureVariant, signatureVariants } from '../creative-force/contract.ts';

export type SignatureScheme = SignatureVariant | 'auto';

export type SignatureCheck = { ok: true; variant: SignatureVariant; secretIndex: number } | { ok: false };

/** Computes the signature of `body` for one variant (also used by the simulator's sender). */
export function computeSignature(body: Buffer | string, secret: string, variant: SignatureVariant): string {
  const [keyKind, algorithm, encoding] = variant.split('-') as ['b64key' | 'utf8key', 'sha256' | 'sha1', 'base64' | 'hex'];
  const key = keyKind === 'b64key' ? Buffer.from(secret, 'base64') : Buffer.from(secret, 'utf8');
  return createHmac(algorithm, key).update(body).digest(encoding);
}

/** The received value without an optional `sha256=` / `sha1=` prefix; hex compares in lower case. */
function normalise(header: string, encoding: 'base64' | 'hex'): Buffer {
  const value = header.trim().replace(/^sha(?:256|1)=/i, '');
  return Buffer.from(encoding === 'hex' ? value.toLowerCase() : value, 'utf8');
}

/**
 * Checks `header` against every secret of the connection (several during a rotation).
 * Every candidate is compared, so the time taken does not depend on which one matched.
 */
export function verifySignature(
  body: Buffer,
  header: string | undefined,
  secrets: readonly string[],
  scheme: SignatureScheme,
): SignatureCheck {
  if (!header || header.length > 512) return { ok: false };
  const variants: readonly SignatureVariant[] = scheme === 'auto' ? signatureVariants : [scheme];
  let match: SignatureCheck = { ok: false };
  secrets.forEach((secret, secretIndex) => {
    for (const variant of variants) {
      const encoding = variant.endsWith('hex') ? 'hex' : 'base64';
      const expected = Buffer.from(computeSignature(body, secret, variant), 'utf8');
      const received = normalise(header, encoding);
      if (received.length === expected.length && timingSafeEqual(received, expected) && !match.ok) {
        match = { ok: true, variant, secretIndex };
      }
    }
  });
  return match;
}
