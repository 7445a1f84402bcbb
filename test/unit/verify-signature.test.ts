import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signatureVariants } from '../../src/creative-force/contract.ts';
import { computeSignature, verifySignature } from '../../src/receiver/verify-signature.ts';

const secret = randomBytes(32).toString('base64');
const body = Buffer.from('{"Action":"ReadyToWork","TaskProcessId":"ee55d091"}');

describe('verifySignature', () => {
  it('accepts the assumed recipe: base64(HMAC-SHA256(base64decode(secret), body))', () => {
    const header = createHmac('sha256', Buffer.from(secret, 'base64')).update(body).digest('base64');
    expect(verifySignature(body, header, [secret], 'b64key-sha256-base64')).toEqual({
      ok: true,
      variant: 'b64key-sha256-base64',
      secretIndex: 0,
    });
  });

  it.each(signatureVariants)('auto recognises %s and reports it', (variant) => {
    const header = computeSignature(body, secret, variant);
    expect(verifySignature(body, header, [secret], 'auto')).toMatchObject({ ok: true, variant });
    expect(verifySignature(body, `sha256=${header}`, [secret], 'auto')).toMatchObject({ ok: true, variant });
  });

  it('a pinned scheme refuses the other variants', () => {
    const header = computeSignature(body, secret, 'utf8key-sha1-hex');
    expect(verifySignature(body, header, [secret], 'b64key-sha256-base64')).toEqual({ ok: false });
  });

  it('refuses a missing header, a wrong secret, and a changed body', () => {
    const header = computeSignature(body, secret, 'b64key-sha256-base64');
    const other = randomBytes(32).toString('base64');
    expect(verifySignature(body, undefined, [secret], 'auto')).toEqual({ ok: false });
    expect(verifySignature(body, '', [secret], 'auto')).toEqual({ ok: false });
    expect(verifySignature(body, header, [other], 'auto')).toEqual({ ok: false });
    expect(verifySignature(Buffer.concat([body, Buffer.from(' ')]), header, [secret], 'auto')).toEqual({ ok: false });
  });

  it('accepts either secret during a rotation and says which one matched', () => {
    const old = randomBytes(32).toString('base64');
    const header = computeSignature(body, secret, 'b64key-sha256-base64');
    expect(verifySignature(body, header, [old, secret], 'auto')).toMatchObject({ ok: true, secretIndex: 1 });
  });
});
