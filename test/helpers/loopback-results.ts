/**
 * Result download rules for a provider client tested against a simulator on 127.0.0.1: the
 * simulator's host on the list and loopback allowed (the test switch, off in production), through
 * an Agent of its own that the test closes (`rules.dispatcher.close()`).
 */
import type { ResultDownloadRules } from '../../src/http/provider-request.ts';
import { createResultAgent } from '../../src/http/result-connector.ts';

export function loopbackResults(maxBytes = 64 * 1024 * 1024): ResultDownloadRules {
  return { hosts: ['127.0.0.1'], maxBytes, dispatcher: createResultAgent({ allowLoopback: true }) };
}
