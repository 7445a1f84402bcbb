/** The fault proxy does what each rule says, to a recording upstream. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ScriptedServer } from '../helpers/scripted-server.ts';
import { FaultProxy } from './fault-proxy.ts';

describe('the fault proxy', () => {
  const upstream = new ScriptedServer();
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await FaultProxy.start(await upstream.start());
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.stop();
  });
  beforeEach(() => {
    upstream.reset();
    proxy.clear();
    upstream.on('/thing', (request) => ({ status: 201, json: { got: request.body.toString(), q: request.query.get('q') } }));
  });

  const call = (init: RequestInit = {}, path = '/thing?q=1') =>
    fetch(`${proxy.baseUrl}${path}`, { method: 'POST', body: 'hello', ...init }).then(async (r) => ({
      status: r.status,
      body: await r.text(),
    }));

  it('forwards method, path, query and body, and relays the answer', async () => {
    expect(await call()).toEqual({ status: 201, body: JSON.stringify({ got: 'hello', q: '1' }) });
    expect(upstream.to('/thing')).toHaveLength(1);
    expect(proxy.log().at(-1)).toEqual({ at: expect.any(Number), method: 'POST', path: '/thing', status: 201, fault: null });
  });

  it('answers a status of its own without forwarding', async () => {
    proxy.add({ path: /^\/thing$/, action: { kind: 'status', status: 503, body: { error: 'down' } } });
    expect(await call()).toEqual({ status: 503, body: JSON.stringify({ error: 'down' }) });
    expect(upstream.requests).toEqual([]);
    expect(proxy.log().at(-1)).toMatchObject({ status: 503, fault: 'status' });
  });

  it('drops before forwarding: a reset, and the upstream never sees the request', async () => {
    proxy.add({ name: 'reset', path: /^\/thing$/, action: { kind: 'drop-before' } });
    await expect(call()).rejects.toThrow();
    expect(upstream.requests).toEqual([]);
    expect(proxy.log().at(-1)).toMatchObject({ status: 0, fault: 'reset' });
  });

  it('drops after forwarding: the upstream acted, the answer is lost', async () => {
    let answered = 0;
    proxy.add({
      path: /^\/thing$/,
      action: { kind: 'drop-after' },
      onAnswered: (_, status) => {
        answered = status;
      },
    });
    await expect(call()).rejects.toThrow();
    expect(upstream.to('/thing')).toHaveLength(1);
    expect(answered).toBe(201);
  });

  it('hangs until the client gives up, forwarding nothing', async () => {
    const arrived: string[] = [];
    proxy.add({ path: /^\/thing$/, action: { kind: 'hang' }, onArrival: (r) => void arrived.push(r.body.toString()) });
    await expect(call({ signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect(arrived).toEqual(['hello']);
    await expect.poll(() => proxy.inFlight()).toBe(0);
    expect(upstream.requests).toEqual([]);
  });

  it('delays, then forwards; a client that gives up during the delay is not forwarded', async () => {
    proxy.add({ path: /^\/thing$/, action: { kind: 'delay', ms: 400 } });
    const started = Date.now();
    expect((await call()).status).toBe(201);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    await expect(call({ signal: AbortSignal.timeout(100) })).rejects.toThrow();
    await expect.poll(() => proxy.inFlight()).toBe(0);
    expect(upstream.to('/thing')).toHaveLength(1);
  });

  it('acts on the occurrences it is told, by method and path, and retires after `times`', async () => {
    proxy.add({ method: 'POST', path: /^\/thing$/, when: ({ n }) => n >= 2, times: 2, action: { kind: 'status', status: 500 } });
    const statuses = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await call()).status);
    expect(statuses).toEqual([201, 500, 500, 201, 201]);
    expect((await call({ method: 'PUT' })).status).toBe(201);
    expect((await call({}, '/other')).status).toBe(404);
  });

  it('runs onAnswered before the answer is relayed', async () => {
    const order: string[] = [];
    proxy.add({
      path: /^\/thing$/,
      action: { kind: 'forward' },
      onAnswered: async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        order.push('hook');
      },
    });
    await call().then(() => order.push('answer'));
    expect(order).toEqual(['hook', 'answer']);
  });
});
