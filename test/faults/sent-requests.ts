/**
 * Preloaded into the fault tests' service processes (`node --import`): for each HTTP request
 * undici sends, a JSON line on stdout (`request sent`) with the moment its headers went out, on
 * the process's own clock. The checker counts the gateway calls of any second from these, as the
 * service sent them: the proxies and simulators time arrivals in the test process, whose event
 * loop may be late.
 */
import { subscribe } from 'node:diagnostics_channel';

subscribe('undici:client:sendHeaders', (message) => {
  const { request } = message as { request: { method: string; origin: unknown; path: string } };
  const line = {
    level: 30,
    msg: 'request sent',
    at: Date.now(),
    method: request.method,
    origin: String(request.origin),
    path: request.path,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
});
