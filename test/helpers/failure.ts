/** Awaiting an expected ConnectorError in tests. */
import { expect } from 'vitest';
import { ConnectorError } from '../../src/errors.ts';

/** Awaits a rejection, checks it is a ConnectorError, and returns it. */
export async function failure(promise: Promise<unknown>): Promise<ConnectorError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectorError);
  return err as ConnectorError;
}
