/**
 * Webhook signature check on the raw request bytes, before anything is parsed.
 *
 * The recipe is ASSUMED (see creative-force/contract.ts): base64(HMAC-SHA256(base64decode(secret),
 * body)). A connection pins one variant, or uses `auto` to accept any member of the documented
 * family; every variant needs the secret, so `auto` lets no outsider in. Comparisons are constant
 * time, and the result never says which part was wrong.
 *
 * The cost is bounded and small: a header whose length fits no variant of the scheme costs no
 * HMAC at all, and each distinct HMAC (secret, key form, algorithm) is computed at most once and
 * compared in every output encoding that fits. The four (algorithm, encoding) pairs have four
 * different lengths, so a header that matches nothing costs one HMAC per secret and key form (2
 * with `auto`, 1 pinned), and the check stops at the first match: a webhook signed with the
 * current secret in the family's first variant costs one HMAC whatever the scheme.
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { type SignatureVariant, signatureVariants } from '../creative-force/contract.ts';

export type SignatureScheme = SignatureVariant | 'auto';

export type SignatureCheck = { ok: true; variant: SignatureVariant; secretIndex: number } | { ok: false };

type KeyForm = 'b64key' | 'utf8key';
type Algorithm = 'sha256' | 'sha1';
type Encoding = 'base64' | 'hex';

interface Variant {
  name: SignatureVariant;
  keyForm: KeyForm;
  algorithm: Algorithm;
  encoding: Encoding;
  /** Characters of the encoded digest. */
  length: number;
}

const digestBytes: Record<Algorithm, number> = { sha256: 32, sha1: 20 };

function describe(name: SignatureVariant): Variant {
  const [keyForm, algorithm, encoding] = name.split('-') as [KeyForm, Algorithm, Encoding];
  const bytes = digestBytes[algorithm];
  const length = encoding === 'hex' ? bytes * 2 : Math.ceil(bytes / 3) * 4;
  return { name, keyForm, algorithm, encoding, length };
}

const allVariants: readonly Variant[] = signatureVariants.map(describe);

/**
 * One webhook secret made ready for HMAC: its key objects, built once when the connections are
 * loaded rather than on every request.
 */
export interface WebhookKey {
  readonly b64key: KeyObject;
  readonly utf8key: KeyObject;
}

/** The key objects of a Base64 webhook secret, in both key forms of the family. */
export function webhookKey(secret: string): WebhookKey {
  return {
    b64key: createSecretKey(Buffer.from(secret, 'base64')),
    utf8key: createSecretKey(Buffer.from(secret, 'utf8')),
  };
}

/** Computes the signature of `body` for one variant (the tests sign with it). */
export function computeSignature(body: Buffer | string, secret: string, variant: SignatureVariant): string {
  const { keyForm, algorithm, encoding } = describe(variant);
  return createHmac(algorithm, webhookKey(secret)[keyForm]).update(body).digest(encoding);
}

/** The received value without an optional `sha256=` / `sha1=` prefix. */
function received(header: string | undefined): string | undefined {
  if (!header || header.length > 512) return undefined;
  return header.trim().replace(/^sha(?:256|1)=/i, '');
}

/** The variants of `scheme` whose length the received value has; none means no HMAC can match it. */
function fittingVariants(value: string | undefined, scheme: SignatureScheme): readonly Variant[] {
  if (value === undefined) return [];
  return allVariants.filter((v) => (scheme === 'auto' || v.name === scheme) && v.length === value.length);
}

/** Whether `header` could be a signature of `scheme` at all (present, and of a fitting length). Costs no HMAC. */
export function plausibleSignature(header: string | undefined, scheme: SignatureScheme): boolean {
  return fittingVariants(received(header), scheme).length > 0;
}

/**
 * Checks `header` against the keys (several during a rotation), in order, and stops at the first
 * match. Each comparison is constant time; that a match ends the check early tells the sender
 * only what the answer does, and a header that matches nothing (all an outsider can send) is
 * compared with every candidate.
 */
export function verifySignature(
  body: Buffer,
  header: string | undefined,
  keys: readonly WebhookKey[],
  scheme: SignatureScheme,
): SignatureCheck {
  const value = received(header);
  const variants = fittingVariants(value, scheme);
  if (value === undefined || variants.length === 0) return { ok: false };
  // The header's bytes in each encoding a fitting variant uses, made once per request.
  const receivedAs: Partial<Record<Encoding, Buffer>> = {};
  const bytesAs = (encoding: Encoding) =>
    (receivedAs[encoding] ??= Buffer.from(encoding === 'hex' ? value.toLowerCase() : value, 'utf8'));
  for (const [secretIndex, key] of keys.entries()) {
    const digests = new Map<string, Buffer>();
    for (const variant of variants) {
      const id = `${variant.keyForm}-${variant.algorithm}`;
      let digest = digests.get(id);
      if (digest === undefined) {
        digest = createHmac(variant.algorithm, key[variant.keyForm]).update(body).digest();
        digests.set(id, digest);
      }
      const expected = Buffer.from(digest.toString(variant.encoding), 'utf8');
      const got = bytesAs(variant.encoding);
      if (got.length === expected.length && timingSafeEqual(got, expected)) {
        return { ok: true, variant: variant.name, secretIndex };
      }
    }
  }
  return { ok: false };
}
