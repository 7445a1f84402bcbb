import crypto, { createHmac, randomBytes } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { signatureVariants } from '../../src/creative-force/contract.ts';
import {
  computeSignature,
  plausibleSignature,
  type SignatureScheme,
  verifySignature,
  webhookKey,
} from '../../src/receiver/verify-signature.ts';

const secret = randomBytes(32).toString('base64');
const key = webhookKey(secret);
const body = Buffer.from('{"Action":"ReadyToWork","TaskProcessId":"ee55d091"}');

describe('verifySignature', () => {
  it('accepts the assumed recipe: base64(HMAC-SHA256(base64decode(secret), body))', () => {
    const header = createHmac('sha256', Buffer.from(secret, 'base64')).update(body).digest('base64');
    expect(verifySignature(body, header, [key], 'b64key-sha256-base64')).toEqual({
      ok: true,
      variant: 'b64key-sha256-base64',
      secretIndex: 0,
    });
  });

  it.each(signatureVariants)('auto recognises %s and reports it', (variant) => {
    const header = computeSignature(body, secret, variant);
    expect(verifySignature(body, header, [key], 'auto')).toMatchObject({ ok: true, variant });
    expect(verifySignature(body, `sha256=${header}`, [key], 'auto')).toMatchObject({ ok: true, variant });
  });

  it('a pinned scheme refuses the other variants', () => {
    const header = computeSignature(body, secret, 'utf8key-sha1-hex');
    expect(verifySignature(body, header, [key], 'b64key-sha256-base64')).toEqual({ ok: false });
  });

  it('refuses a missing header, a wrong secret, and a changed body', () => {
    const header = computeSignature(body, secret, 'b64key-sha256-base64');
    const other = randomBytes(32).toString('base64');
    expect(verifySignature(body, undefined, [key], 'auto')).toEqual({ ok: false });
    expect(verifySignature(body, '', [key], 'auto')).toEqual({ ok: false });
    expect(verifySignature(body, header, [webhookKey(other)], 'auto')).toEqual({ ok: false });
    expect(verifySignature(Buffer.concat([body, Buffer.from(' ')]), header, [key], 'auto')).toEqual({ ok: false });
  });

  it('accepts either secret during a rotation and says which one matched', () => {
    const old = randomBytes(32).toString('base64');
    const header = computeSignature(body, secret, 'b64key-sha256-base64');
    expect(verifySignature(body, header, [webhookKey(old), key], 'auto')).toMatchObject({ ok: true, secretIndex: 1 });
  });
});

describe('the cost of a signature check', () => {
  // createHmac calls are counted on node:crypto itself; syncBuiltinESMExports makes the module's
  // named import see the spy.
  let hmacs: MockInstance<typeof crypto.createHmac>;
  const bigBody = randomBytes(256 * 1024);
  const tenKeys = Array.from({ length: 10 }, () => webhookKey(randomBytes(32).toString('base64')));
  /** "<secret index> <key form> <algorithm>" of a createHmac call. */
  const hmacOf = ([algorithm, key]: Parameters<typeof crypto.createHmac>) => {
    const index = tenKeys.findIndex((k) => k.b64key === key || k.utf8key === key);
    return `${index} ${tenKeys[index]?.b64key === key ? 'b64key' : 'utf8key'} ${algorithm}`;
  };

  beforeEach(() => {
    hmacs = vi.spyOn(crypto, 'createHmac');
    syncBuiltinESMExports();
  });
  afterEach(() => {
    hmacs.mockRestore();
    syncBuiltinESMExports();
  });

  it.each(signatureVariants)('auto, a wrong %s header: one HMAC per secret and key form (at most 4 per secret)', (variant) => {
    const header = computeSignature(bigBody, randomBytes(32).toString('base64'), variant);
    hmacs.mockClear();
    expect(verifySignature(bigBody, header, tenKeys, 'auto')).toEqual({ ok: false });
    const calls = hmacs.mock.calls.map(hmacOf);
    expect(calls.length).toBeLessThanOrEqual(4 * tenKeys.length);
    // The header's length names the algorithm and the encoding: one HMAC per key form is left.
    expect(calls).toHaveLength(2 * tenKeys.length);
    expect(new Set(calls).size).toBe(calls.length);
    expect(calls.every((call) => !call.startsWith('-1'))).toBe(true);
  });

  it('auto, the right signature: found with the same count, and with the prefix too', () => {
    const header = computeSignature(bigBody, secret, 'utf8key-sha1-hex');
    const keys = [...tenKeys.slice(0, 9), key];
    hmacs.mockClear();
    expect(verifySignature(bigBody, `sha1=${header.toUpperCase()}`, keys, 'auto')).toEqual({
      ok: true,
      variant: 'utf8key-sha1-hex',
      secretIndex: 9,
    });
    expect(hmacs).toHaveBeenCalledTimes(20);
  });

  it('auto stops at the first match: the first secret in the first variant costs one HMAC', () => {
    const header = computeSignature(bigBody, secret, 'b64key-sha256-base64');
    hmacs.mockClear();
    expect(verifySignature(bigBody, header, [key, ...tenKeys], 'auto')).toEqual({
      ok: true,
      variant: 'b64key-sha256-base64',
      secretIndex: 0,
    });
    expect(hmacs).toHaveBeenCalledTimes(1);
  });

  it('a pinned variant costs one HMAC per secret', () => {
    const header = computeSignature(bigBody, randomBytes(32).toString('base64'), 'b64key-sha256-base64');
    hmacs.mockClear();
    expect(verifySignature(bigBody, header, tenKeys, 'b64key-sha256-base64')).toEqual({ ok: false });
    expect(hmacs).toHaveBeenCalledTimes(10);
  });

  it('a header whose length fits no variant costs no HMAC, and is not plausible', () => {
    const pinnedOnly = computeSignature(bigBody, secret, 'b64key-sha256-hex');
    const cases: [string | undefined, SignatureScheme][] = [
      [undefined, 'auto'],
      ['', 'auto'],
      ['x', 'auto'],
      ['sha256=', 'auto'],
      ['a'.repeat(43), 'auto'],
      ['a'.repeat(45), 'auto'],
      ['a'.repeat(600), 'auto'],
      [pinnedOnly, 'b64key-sha256-base64'],
    ];
    hmacs.mockClear();
    for (const [header, scheme] of cases) {
      expect(plausibleSignature(header, scheme), String(header)).toBe(false);
      expect(verifySignature(bigBody, header, tenKeys, scheme)).toEqual({ ok: false });
    }
    expect(hmacs).not.toHaveBeenCalled();
  });
});
