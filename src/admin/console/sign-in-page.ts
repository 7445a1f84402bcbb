/** The sign-in page: one field, the admin token (a studio's from the connections file, or ops' ADMIN_TOKEN). */
import { html } from './html.ts';
import { page } from './layout.ts';

export function signInPage(problem?: string): string {
  return page({
    title: 'Sign in',
    body: html`<form method="post" action="/admin/sign-in" class="card narrow">
  <p>Paste your admin token: a studio's token shows that studio's connection; the operator's token shows every connection and the operations view.</p>
  ${problem && html`<p class="notice refused" role="alert">${problem}</p>`}
  <label for="token">Admin token</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required maxlength="512" autofocus>
  <button type="submit">Sign in</button>
</form>`,
  });
}
