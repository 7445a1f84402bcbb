/**
 * Webhook signatures of every variant of the contract's family (docs/creative-force-contract.md,
 * "The webhook"). The default is the ASSUMED recipe: base64(HMAC-SHA256(key =
 * base64decode(secret), raw body)).
 */
import { createHmac } from 'node:crypto';
import { defaultSignatureVariant, type SignatureVariant } from '../../creative-force/contract.ts';

/** Computes `X-CF-Signature` of a raw body with a Base64 webhook secret, in the given variant. */
export function signWebhook(
  rawBody: string | Buffer,
  secretBase64: string,
  variant: SignatureVariant = defaultSignatureVariant,
): string {
  const [keyForm, algorithm, encoding] = variant.split('-') as ['b64key' | 'utf8key', 'sha256' | 'sha1', 'base64' | 'hex'];
  const key = keyForm === 'b64key' ? Buffer.from(secretBase64, 'base64') : Buffer.from(secretBase64, 'utf8');
  return createHmac(algorithm, key).update(rawBody).digest(encoding);
}
