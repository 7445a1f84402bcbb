/**
 * The webhook keys of one connection, built once when the receiver starts: the connection-level
 * secrets, which authenticate events of every subfunction, and each subfunction's own.
 *
 * A subfunction's keys can only be chosen after reading `SubfunctionId` from a body that is not
 * authenticated yet, so the choice must not tell an outsider which subfunctions exist: every
 * subfunction's list is padded with decoy keys (random, matching nothing) to the length of the
 * longest, and a body that names no subfunction with keys of its own gets decoys only. Checking a
 * body thus costs the same HMACs whatever subfunction it names, and fails the same way.
 */
import { randomBytes } from 'node:crypto';
import type { ReceiverConnection } from '../config/connections.ts';
import { type WebhookKey, webhookKey } from './verify-signature.ts';

export interface ConnectionWebhookKeys {
  /** Keys of the connection-level secrets (empty when every subfunction has its own). */
  readonly shared: readonly WebhookKey[];
  /** Whether any subfunction has secrets of its own (only then is a body read before it is authenticated). */
  readonly hasSubfunctionKeys: boolean;
  /** The keys of a subfunction, padded with decoys; decoys only for a subfunction without keys of its own. */
  forSubfunction(subfunctionId: string | undefined): readonly WebhookKey[];
}

export function connectionWebhookKeys(connection: ReceiverConnection): ConnectionWebhookKeys {
  const shared = (connection.creativeForce.webhookSecrets ?? []).map(webhookKey);
  const own = new Map(
    Object.entries(connection.subfunctions).flatMap(([id, sub]) =>
      sub.webhookSecrets ? [[id, sub.webhookSecrets.map(webhookKey)] as const] : [],
    ),
  );
  const length = Math.max(0, ...[...own.values()].map((keys) => keys.length));
  const decoys = Array.from({ length }, () => webhookKey(randomBytes(32).toString('base64')));
  const padded = new Map([...own].map(([id, keys]) => [id, [...keys, ...decoys.slice(keys.length)]]));
  return {
    shared,
    hasSubfunctionKeys: own.size > 0,
    forSubfunction: (subfunctionId) => (subfunctionId === undefined ? undefined : padded.get(subfunctionId)) ?? decoys,
  };
}
