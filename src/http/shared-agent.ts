/**
 * The one undici Agent of the process, used by every outbound client unless a test injects its
 * own dispatcher. Passing it explicitly matters: without a dispatcher, undici's `request` falls
 * back to the global dispatcher, which on Node 24 can be Node's own bundled undici; that one does
 * not know this package's FormData and sent a multipart request without its body.
 */
import { Agent, type Dispatcher } from 'undici';

let sharedAgent: Agent | undefined;

export function sharedDispatcher(): Dispatcher {
  sharedAgent ??= new Agent({ keepAliveTimeout: 30_000 });
  return sharedAgent;
}

/** Closes the shared Agent (graceful shutdown). A later request creates a new one. */
export async function closeSharedDispatcher(): Promise<void> {
  const agent = sharedAgent;
  sharedAgent = undefined;
  await agent?.close();
}
