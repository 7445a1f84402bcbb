/**
 * Child process of bench/burst.ts: delivers a burst's signed webhooks the way Creative Force
 * does (as fast as the receiver answers, 20 at a time), so that the simulator's event loop in the
 * benchmark's process, which times the gateway's arrivals, is not also busy sending them. It gets
 * `{ url, webhooks: [{ body, headers }] }` over IPC and answers with the statuses that were not 202.
 */
import { request } from 'undici';

interface Delivery {
  url: string;
  webhooks: { body: string; headers: Record<string, string> }[];
}

process.once('message', async (message) => {
  const { url, webhooks } = message as Delivery;
  const pending = [...webhooks];
  const refused: number[] = [];
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
        const answer = await request(url, { method: 'POST', headers: next.headers, body: next.body });
        await answer.body.dump();
        if (answer.statusCode !== 202) refused.push(answer.statusCode);
      }
    }),
  );
  process.send?.(refused, () => process.exit(0));
});
