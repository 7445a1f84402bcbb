/**
 * The studio console in a real browser (headless Chromium), against the service and the Creative
 * Force simulator: sign in, find a failed task and read its error, who may see what, retries, and
 * that what Creative Force and the connections file say is shown as text. Takes the screenshots
 * of docs/operations.md ("Studio console") on every run (into docs/screenshots/ with UPDATE_SCREENSHOTS=1).
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { CycleSummary } from '../../src/history/task-history.ts';
import { builtInRecipes, convertOptionsSchema, convertRecipe, type Recipe } from '../../src/providers/index.ts';
import { launchChromium } from '../helpers/browser.ts';
import { photoInput } from '../helpers/photo-input.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

const opsToken = randomBytes(24).toString('hex');
const studioToken = randomBytes(24).toString('hex');
const otherStudioToken = randomBytes(24).toString('hex');
const otherApp = { clientId: 'console-other-client', clientSecret: randomBytes(12).toString('hex') };
const otherHook = randomBytes(32).toString('base64');

// Markup where Creative Force and the connections file put text: it must show as text.
const productCodeXss = '<script>window.__xss = "product"</script>';
const subfunctionNameXss = '"><img src=x onerror="window.__xss = \'subfunction\'">';
const captionXss = '</code><img src=x onerror="window.__xss = \'option\'">';

/** `convert` with a free-text option: a recipe option from the connections file the console shows. */
const captioned: Recipe = {
  ...(convertRecipe as Recipe),
  name: 'captioned',
  optionsSchema: convertOptionsSchema.extend({ caption: z.string().max(200) }),
};

// The docs' screenshots are rewritten with UPDATE_SCREENSHOTS=1; otherwise they go to a temporary
// directory, so a test run leaves the work tree as it was.
const screenshots =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? new URL('../../docs/screenshots/', import.meta.url).pathname
    : join(tmpdir(), `cfc-console-screenshots-${process.pid}`);
const shoot = (page: Page, name: string) => page.screenshot({ path: join(screenshots, `${name}.png`) });

describe('the studio console in a browser', () => {
  let stack: Stack;
  let origin: string;
  let browser: { context: BrowserContext; close(): Promise<void> };
  let page: Page;
  const tasks: Record<'submitted' | 'failed' | 'marked-up' | 'other', string> = {
    submitted: '',
    failed: '',
    'marked-up': '',
    other: '',
  };

  /** The task's summary as the API shows it to ops. */
  async function summaryOf(taskProcessId: string, connection = 'acme'): Promise<CycleSummary | undefined> {
    const response = await fetch(`${origin}/admin/api/connections/${connection}/tasks/${taskProcessId}`, {
      headers: { authorization: `Bearer ${opsToken}` },
    });
    if (response.status !== 200) return undefined;
    const body = (await response.json()) as { cycles: { summary: CycleSummary }[] };
    return body.cycles.at(-1)?.summary;
  }
  async function waitForStatus(taskProcessId: string, status: string, connection = 'acme'): Promise<void> {
    let seen: string | undefined;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      seen = (await summaryOf(taskProcessId, connection))?.status;
      if (seen === status) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`task ${taskProcessId} is ${seen}, not ${status}`);
  }

  async function signIn(token: string): Promise<void> {
    await page.goto(`${origin}/admin/sign-in`);
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.waitForURL(`${origin}/admin`);
  }

  beforeAll(async () => {
    await mkdir(screenshots, { recursive: true });
    stack = await startStack('console', {
      env: {
        ADMIN_TOKEN: opsToken,
        PUBLIC_URL: 'https://connector.example.com',
        // A failed attempt waits a minute: long enough to see it waiting and retry it.
        CYCLE_BACKOFF_MS: '60000',
        T_OTHER_HOOK: otherHook,
        T_OTHER_ID: otherApp.clientId,
        T_OTHER_SECRET: otherApp.clientSecret,
      },
      recipes: [...builtInRecipes, captioned],
      connection: {
        adminTokens: [studioToken],
        subfunctions: {
          '54': { recipe: 'convert', options: { format: 'jpeg', quality: 80, maxWidth: 400 } },
          '55': { recipe: 'captioned', options: { format: 'png', caption: captionXss } },
        },
      },
      otherConnections: [
        {
          id: 'other',
          name: 'Other Studio',
          adminTokens: [otherStudioToken],
          creativeForce: { clientId: '${T_OTHER_ID}', clientSecret: '${T_OTHER_SECRET}', webhookSecrets: ['${T_OTHER_HOOK}'] },
          subfunctions: { '54': { recipe: 'convert', options: { format: 'png' } } },
        },
      ],
    });
    stack.sim.addApp(otherApp);
    const { port } = await stack.startService('start');
    origin = `http://127.0.0.1:${port}`;

    // A task that is submitted, one that fails (its input is not an image), one whose product code
    // and subfunction name are markup, and one of the other studio.
    const { sim } = stack;
    const good = sim.addTask({
      productCode: 'AW2130146',
      jobCode: 'SS27-TOPS',
      inputs: [await photoInput('Front'), await photoInput('Back')],
      slots: [
        { mappingKeyId: 'A', positionName: 'Front' },
        { mappingKeyId: 'B', positionName: 'Back' },
      ],
    });
    const bad = sim.addTask({
      productCode: 'AW2130150',
      jobCode: 'SS27-TOPS',
      inputs: [{ positionName: 'Front', fileName: 'front.jpg', body: Buffer.from('not an image') }],
      slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
    });
    const markedUp = sim.addTask({
      productCode: productCodeXss,
      subfunctionName: subfunctionNameXss,
      inputs: [await photoInput('Front')],
      slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
    });
    const other = sim.addTask({ inputs: [await photoInput('Front')], slots: [{ mappingKeyId: 'A', positionName: 'Front' }] });
    tasks.submitted = good.taskProcessId;
    tasks.failed = bad.taskProcessId;
    tasks['marked-up'] = markedUp.taskProcessId;
    tasks.other = other.taskProcessId;
    for (const task of [good, bad, markedUp]) await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await sim.sendWebhook(`${origin}/webhooks/creative-force/other`, other.taskProcessId, otherHook);
    await waitForStatus(good.taskProcessId, 'submitted');
    await waitForStatus(bad.taskProcessId, 'reported');
    await waitForStatus(markedUp.taskProcessId, 'submitted');
    await waitForStatus(other.taskProcessId, 'submitted', 'other');

    browser = await launchChromium();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    page = await browser.context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('signs in with a studio token into an HttpOnly, SameSite=Strict, Secure cookie, and shows the webhook URL to copy', async () => {
    // Signed out, the console sends the browser to the sign-in page.
    await page.goto(`${origin}/admin/connections/acme/tasks`);
    expect(new URL(page.url()).pathname).toBe('/admin/sign-in');
    await shoot(page, 'sign-in');

    await page.fill('#token', 'x'.repeat(48));
    await page.click('button[type=submit]');
    expect(await page.textContent('[role=alert]')).toContain('That token was not accepted');

    await signIn(studioToken);
    // (cookies(origin) would leave a Secure cookie out: the test's origin is plain http on loopback.)
    const [cookie] = await browser.context.cookies();
    expect(cookie).toMatchObject({ name: 'cfc_admin', httpOnly: true, sameSite: 'Strict', secure: true, path: '/admin' });

    expect(await page.inputValue('#webhook-acme')).toBe('https://connector.example.com/webhooks/creative-force/acme');
    await shoot(page, 'connections');
    await page.click('button[data-copy="webhook-acme"]');
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(
      'https://connector.example.com/webhooks/creative-force/acme',
    );
    // A studio sees its own connection only.
    expect(await page.locator('h2').allTextContents()).toEqual([expect.stringContaining('Acme Studio')]);
  });

  it('finds the failed task in the list, opens it and reads its error code and message', async () => {
    await page.click('text=Tasks');
    await shoot(page, 'task-list');
    await page.click('nav.filters >> text=reported');
    const rows = page.locator('table.tasks tbody tr');
    expect(await rows.count()).toBe(1);
    await rows.locator('a').click();
    expect(new URL(page.url()).pathname).toBe(`/admin/connections/acme/tasks/${tasks.failed}`);

    const cycle = page.locator('#cycle-1');
    expect(await cycle.locator('.outcome .error-code').textContent()).toBe('ASSET_UNREADABLE');
    const message = await cycle.locator('.error-message').textContent();
    expect(message).toContain('[ASSET_UNREADABLE]');
    expect(message).toContain('Check that the input file opens as an image');
    expect(await cycle.locator('.event-report').textContent()).toContain('Failure reported to Creative Force');
    // No Retry button for a failure Creative Force was told about: the reason instead.
    expect(await page.locator('form.retry').count()).toBe(0);
    expect(await page.textContent('#retry-unavailable')).toContain('send the task to this step again in Creative Force');
    await shoot(page, 'task-page');

    // Search by product code finds the submitted task, whose page shows each drop box.
    await page.goto(`${origin}/admin/connections/acme/tasks`);
    await page.fill('#q', 'aw2130146');
    await page.click('form.search button');
    await page.locator('table.tasks tbody tr a').click();
    const slots = page.locator('#cycle-1 table.slots tbody tr');
    expect(await slots.nth(0).locator('td').allTextContents()).toEqual(['A', '1', '0', '0']);
    expect(await slots.nth(1).locator('td').allTextContents()).toEqual(['B', '1', '0', '0']);
    expect(await page.locator('#cycle-1 .timeline').textContent()).toMatch(/Step submit-output: \d+ ms/);
  });

  it('shows what Creative Force and the connections file say as text, never as markup', async () => {
    await page.goto(`${origin}/admin/connections/acme/tasks/${tasks['marked-up']}`);
    expect(await page.textContent('dl.facts')).toContain(productCodeXss);
    expect(await page.textContent('dl.facts')).toContain(subfunctionNameXss);
    await page.goto(`${origin}/admin/connections/acme/tasks`);
    expect(await page.textContent('table.tasks')).toContain(productCodeXss);
    await page.goto(`${origin}/admin`);
    // The options as JSON: the caption with its quotes escaped.
    expect(await page.textContent('main')).toContain(JSON.stringify(captionXss));
    for (const path of ['/admin', '/admin/connections/acme/tasks', `/admin/connections/acme/tasks/${tasks['marked-up']}`]) {
      await page.goto(`${origin}${path}`);
      expect(await page.evaluate('window.__xss')).toBeUndefined();
      expect(await page.locator('main script, main img').count()).toBe(0);
    }
  });

  it("refuses a studio another studio's task, in the page and in the API (404)", async () => {
    for (const path of [`/admin/connections/other/tasks/${tasks.other}`, `/admin/connections/other/tasks`]) {
      const answer = await page.goto(`${origin}${path}`);
      expect(answer?.status()).toBe(404);
      expect(await page.textContent('main')).not.toContain(tasks.other);
    }
    // Not under its own connection either: the task is not in its history.
    expect((await page.goto(`${origin}/admin/connections/acme/tasks/${tasks.other}`))?.status()).toBe(404);
    // The API, with the same cookie.
    expect((await page.request.get(`${origin}/admin/api/connections/other/tasks/${tasks.other}`)).status()).toBe(404);
    expect((await page.request.get(`${origin}/admin/api/connections/acme/tasks/${tasks.failed}`)).status()).toBe(200);
    // Nor the operations view, page or API.
    expect((await page.goto(`${origin}/admin/ops`))?.status()).toBe(404);
    expect((await page.request.get(`${origin}/admin/api/ops`)).status()).toBe(404);
  });

  it('retries a cycle waiting for its backoff at once, and shows why a second, stale Retry is refused', async () => {
    const { sim } = stack;
    const task = sim.addTask({ inputs: [await photoInput('Front')], slots: [{ mappingKeyId: 'A', positionName: 'Front' }] });
    sim.failNext(
      { method: 'POST', pathIncludes: 'bulk-get-assets' },
      { status: 503, body: { errors: [{ code: 'GEN-503', message: 'Unavailable' }] } },
    );
    await sim.sendWebhook(`${origin}/webhooks/creative-force/acme`, task.taskProcessId, stack.secret);
    await waitForStatus(task.taskProcessId, 'retrying');
    const path = `${origin}/admin/connections/acme/tasks/${task.taskProcessId}`;
    await page.goto(path);
    const stale = await browser.context.newPage();
    await stale.goto(path);

    await page.click('form.retry button');
    expect(await page.textContent('#retry-result')).toContain('Retry accepted: The waiting attempt runs now.');
    await stack.waitFor('the submission after the retry', () => sim.submissions(task.taskProcessId).length === 1);
    await waitForStatus(task.taskProcessId, 'submitted');

    const [answer] = await Promise.all([
      stale.waitForResponse((r) => r.url().endsWith('/retry')),
      stale.click('form.retry button'),
    ]);
    expect(answer.status()).toBe(409);
    expect(await stale.textContent('#retry-result')).toContain(
      'Retry refused: the cycle has ended: to run the task again, send it to this step again in Creative Force',
    );
    await stale.close();
  });

  it('signs out, and shows ops the usage and the operations view', async () => {
    await page.goto(`${origin}/admin`);
    await page.click('text=Sign out');
    expect(new URL(page.url()).pathname).toBe('/admin/sign-in');
    expect(await browser.context.cookies()).toEqual([]);
    expect((await page.goto(`${origin}/admin`)) && new URL(page.url()).pathname).toBe('/admin/sign-in');

    await signIn(opsToken);
    expect(await page.locator('main h2').allTextContents()).toEqual([
      expect.stringContaining('Acme Studio'),
      expect.stringContaining('Other Studio'),
    ]);
    await page.goto(`${origin}/admin/connections/acme/usage`);
    const today = page.locator('table.usage tbody tr').first();
    expect((await today.locator('td').allTextContents()).slice(0, 4)).toEqual([
      new Date().toISOString().slice(0, 10),
      '4',
      '3',
      '1',
    ]);
    expect(await page.locator('svg.chart rect.bar').count()).toBe(30);
    await shoot(page, 'usage');

    await page.click('header >> text=Operations');
    expect(await page.textContent('#queue-active')).toMatch(/^\d+$/);
    expect(await page.textContent('#failure-reports')).toBe('0');
    expect(await page.locator('#workers tbody tr').count()).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('#limiter-strikes')).toBe('0');
    await shoot(page, 'operations');
  });
});
