/**
 * The console's HTTP side without a browser: its security headers, the session cookie, the
 * refusal of requests from other sites and of forms without the session's CSRF token, and the
 * operations endpoint. (test/browser/console.test.ts drives the pages in Chromium.)
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfTokenOf } from '../../src/admin/console/console-session.ts';
import type { OpsState } from '../../src/admin/ops-state.ts';
import { RedisRateLimiter } from '../../src/creative-force/index.ts';
import { DeadLetters } from '../../src/queue/dead-letters.ts';
import type { Service } from '../../src/service.ts';
import { producerRedis } from '../helpers/redis.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

const opsToken = randomBytes(24).toString('hex');
const studioToken = randomBytes(24).toString('hex');

describe('the console over HTTP', () => {
  let stack: Stack;
  let service: Service;
  let origin: string;
  let failed: string;
  const redis = producerRedis();

  const cookie = (token: string) => `cfc_admin=${token}`;
  /** A form POST as the console's pages send it, with `headers` on top. */
  const post = (path: string, form: Record<string, string>, headers: Record<string, string>) =>
    fetch(`${origin}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });

  beforeAll(async () => {
    stack = await startStack('admin-console', {
      env: { ADMIN_TOKEN: opsToken },
      connection: { adminTokens: [studioToken] },
    });
    let port: number;
    ({ service, port } = await stack.startService('start'));
    origin = `http://127.0.0.1:${port}`;
    const task = stack.sim.addTask({
      inputs: [{ positionName: 'Front', fileName: 'front.jpg', body: Buffer.from('not an image') }],
      slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
    });
    failed = task.taskProcessId;
    await stack.sim.sendWebhook(stack.webhookUrl(port), failed, stack.secret);
    await stack.waitFor('the failure report', () => stack.sim.statusUpdates(failed).length > 0);
    await stack.idle(service);
  });
  afterAll(async () => {
    redis.disconnect();
    await stack.close();
  });

  it('serves pages and API answers with a strict Content-Security-Policy, no framing and no caching', async () => {
    for (const path of ['/admin/sign-in', '/admin', '/admin/api/connections']) {
      const response = await fetch(`${origin}${path}`, { headers: { cookie: cookie(studioToken) } });
      expect(response.status, path).toBe(200);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
    const page = await (await fetch(`${origin}/admin`, { headers: { cookie: cookie(studioToken) } })).text();
    // The page's only script is the console's own file.
    expect([...page.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual([
      '<script type="module" src="/admin/assets/console.js">',
    ]);
  });

  it('signs in into an HttpOnly, SameSite=Strict cookie on /admin (not Secure over plain HTTP without an https PUBLIC_URL)', async () => {
    const wrong = await post('/admin/sign-in', { token: 'y'.repeat(48) }, {});
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const signedIn = await post('/admin/sign-in', { token: studioToken }, { origin });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toBe('/admin');
    expect(signedIn.headers.get('set-cookie')).toBe(
      `cfc_admin=${studioToken}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=43200`,
    );
    // Signed out, a page sends the browser to the sign-in page.
    const signedOut = await fetch(`${origin}/admin`, { redirect: 'manual' });
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get('location')).toBe('/admin/sign-in');
  });

  it('refuses a state-changing request from another site, and a console form without the CSRF token', async () => {
    const retry = `/admin/connections/acme/tasks/${failed}/retry`;
    const csrf = csrfTokenOf(studioToken);
    const session = { cookie: cookie(studioToken) };
    // From another site: refused whatever it carries (fetch metadata first, Origin where it is absent).
    expect((await post(retry, { csrf }, { ...session, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post(retry, { csrf }, { ...session, 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await post(retry, { csrf }, { ...session, origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(retry, { csrf }, { ...session, origin: 'null' })).status).toBe(403);
    expect((await post('/admin/sign-in', { token: studioToken }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post('/admin/sign-out', { csrf }, { ...session, origin: 'https://evil.example' })).status).toBe(403);
    // The API's retry with the cookie, from another site.
    const api = await fetch(`${origin}/admin/api/connections/acme/tasks/${failed}/retry`, {
      method: 'POST',
      headers: { ...session, 'sec-fetch-site': 'cross-site' },
    });
    expect(api.status).toBe(403);

    // From this site, but without the session's CSRF token (or with another session's).
    const sameSite = { ...session, 'sec-fetch-site': 'same-origin', origin };
    expect((await post(retry, {}, sameSite)).status).toBe(403);
    expect((await post(retry, { csrf: csrfTokenOf(opsToken) }, sameSite)).status).toBe(403);
    expect((await post('/admin/sign-out', { csrf: 'x' }, sameSite)).status).toBe(403);

    // With both, the request reaches the retry, which refuses a reported failure and says why.
    const accepted = await post(retry, { csrf }, sameSite);
    expect(accepted.status).toBe(409);
    expect(await accepted.text()).toContain('Retry refused: the cycle failed and Creative Force was told');
    // A script with a bearer token sends no browser headers: not a cross-site request.
    const script = await fetch(`${origin}/admin/api/connections/acme/tasks/${failed}/retry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${studioToken}` },
    });
    expect(script.status).toBe(409);
    // Signing out clears the cookie.
    const signOut = await post('/admin/sign-out', { csrf }, sameSite);
    expect(signOut.status).toBe(303);
    expect(signOut.headers.get('set-cookie')).toBe('cfc_admin=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0');
  });

  it('shows ops the queue, the failure reports pending, the limiter and the workers; a studio gets 404', async () => {
    const ops = (path: string, token = opsToken) => fetch(`${origin}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await ops('/admin/api/ops', studioToken)).status).toBe(404);
    expect((await fetch(`${origin}/admin/ops`, { headers: { cookie: cookie(studioToken) } })).status).toBe(404);

    await new DeadLetters(redis, stack.prefix).add({
      id: 'report-1',
      report: { connectionId: 'acme', taskProcessId: failed, cycleJobId: 'acme.x', message: 'm', code: 'CF_AUTH_FAILED' },
      error: 'CF_AUTH_FAILED: refused',
      attempts: 12,
      at: new Date().toISOString(),
    });
    const limiter = new RedisRateLimiter({ redis, limit: 20, keyPrefix: `${stack.prefix}:rl` });
    await limiter.onRateLimited(undefined);

    const answer = await ops('/admin/api/ops');
    expect(answer.status).toBe(200);
    const state = (await answer.json()) as OpsState;
    expect(state.queue).toEqual({ waiting: 0, active: 0, delayed: 0, prioritized: 0, failed: 1 });
    expect(state.failureReportsPending).toBe(1);
    expect(state.limiter).toMatchObject({ limit: 20, targetRps: 19.6, consecutive429s: 1 });
    // The 429 lowered the rate every process of the service grants at.
    expect(state.limiter.rateRps).toBeCloseTo(19.6 * 0.85, 3);
    expect(state.limiter.pausedForMs).toBeGreaterThan(500);
    expect(state.workers.length).toBeGreaterThanOrEqual(1);
    expect(state.workers[0]?.address).toMatch(/^127\.0\.0\.1:\d+$/);

    const page = await (await fetch(`${origin}/admin/ops`, { headers: { cookie: cookie(opsToken) } })).text();
    expect(page).toMatch(/<td class="num" id="failure-reports">1<\/td>/);
    expect(page).toMatch(/<td class="num" id="limiter-strikes">1<\/td>/);
    expect(page).toMatch(
      /<td class="num" id="limiter-rate">16\.7 requests\/s \(lowered after a 429; recovering to 19\.6\)<\/td>/,
    );
  });
});
