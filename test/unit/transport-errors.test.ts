import { errors as undiciErrors } from 'undici';
import { describe, expect, it } from 'vitest';
import { classifyTransportError } from '../../src/http/transport-errors.ts';

/** Signals of an attempt that neither timed out nor was aborted. */
const live = { deadline: new AbortController().signal, callerSignal: new AbortController().signal };

/** An Error with a `code`, as Node and every copy of undici raise them. */
function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('transport errors are recognised by their code', () => {
  it.each(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])(
    '%s is a timeout, as an Error or a plain object (another undici copy)',
    (code) => {
      expect(classifyTransportError(coded(code, 'timed out'), live)).toEqual({ kind: 'timeout' });
      expect(classifyTransportError({ code, message: 'timed out' }, live)).toEqual({ kind: 'timeout' });
    },
  );

  it("undici's own error classes carry those codes", () => {
    expect(classifyTransportError(new undiciErrors.HeadersTimeoutError(), live)).toEqual({ kind: 'timeout' });
    expect(classifyTransportError(new undiciErrors.BodyTimeoutError(), live)).toEqual({ kind: 'timeout' });
    expect(classifyTransportError(new undiciErrors.ConnectTimeoutError(), live)).toEqual({ kind: 'timeout' });
  });

  it.each([
    ['ECONNRESET', 'read ECONNRESET'],
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9'],
    ['UND_ERR_SOCKET', 'other side closed'],
    ['ENOTFOUND', 'getaddrinfo ENOTFOUND example.invalid'],
  ])('%s is a network failure named by its code and message', (code, message) => {
    expect(classifyTransportError(coded(code, message), live)).toEqual({ kind: 'network', reason: `${code} ${message}` });
    expect(classifyTransportError({ code, message }, live)).toEqual({ kind: 'network', reason: `${code} ${message}` });
  });

  it('an error without a code is a network failure named by its message', () => {
    expect(classifyTransportError(new Error('socket hang up'), live)).toEqual({ kind: 'network', reason: 'socket hang up' });
    expect(classifyTransportError('boom', live)).toEqual({ kind: 'network', reason: 'boom' });
  });

  it("the caller's abort wins over everything, then the attempt's deadline", () => {
    const reason = new Error('shutting down');
    const aborted = { deadline: AbortSignal.abort(), callerSignal: AbortSignal.abort(reason) };
    expect(classifyTransportError(coded('UND_ERR_HEADERS_TIMEOUT', 'timed out'), aborted)).toEqual({ kind: 'aborted', reason });
    const expired = { deadline: AbortSignal.abort(), callerSignal: undefined };
    expect(classifyTransportError(coded('UND_ERR_ABORTED', 'aborted'), expired)).toEqual({ kind: 'timeout' });
  });
});
