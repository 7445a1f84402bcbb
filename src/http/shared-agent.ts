/**
 * The undici Agents of the process: the one every outbound client uses unless a test injects its
 * own dispatcher, and the one provider results are downloaded through (result-connector.ts: only
 * public addresses). Passing one explicitly matters: without a dispatcher, undici's `request`
 * falls back to the global dispatcher, which on Node 24 can be Node's own bundled undici; that one
 * does not know this package's FormData and sent a multipart request without its body.
 */
import { Agent, type Dispatcher } from 'undici';
import { createResultAgent } from './result-connector.ts';

let sharedAgent: Agent | undefined;
/** The result Agents, by whether loopback is allowed (PROVIDER_RESULT_ALLOW_LOOPBACK). */
const resultAgents = new Map<boolean, Agent>();

export function sharedDispatcher(): Dispatcher {
  sharedAgent ??= new Agent({ keepAliveTimeout: 30_000 });
  return sharedAgent;
}

/** The Agent provider results are downloaded through; `allowLoopback` is for tests and the demo only. */
export function sharedResultDispatcher(allowLoopback: boolean): Dispatcher {
  let agent = resultAgents.get(allowLoopback);
  if (!agent) {
    agent = createResultAgent({ allowLoopback });
    resultAgents.set(allowLoopback, agent);
  }
  return agent;
}

/** Closes the shared Agents (graceful shutdown). A later request creates new ones. */
export async function closeSharedDispatcher(): Promise<void> {
  const agents = [sharedAgent, ...resultAgents.values()];
  sharedAgent = undefined;
  resultAgents.clear();
  await Promise.all(agents.map((agent) => agent?.close()));
}
