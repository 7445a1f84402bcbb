/**
 * The console's home: each connection the viewer may see, with the webhook URL to paste into
 * Creative Force (and a copy button), its subfunctions and recipes, the last webhook and the
 * health of its credentials.
 */
import type { ReceiverConnection } from '../../config/connections.ts';
import type { RouteConfig } from '../../cycle/routes.ts';
import type { connectionView } from '../admin-api.ts';
import { html } from './html.ts';
import { consolePath, formatTime, page, type Viewer } from './layout.ts';

type View = Awaited<ReturnType<typeof connectionView>>;

/** A single recipe's options as they are; a pipeline's or routes' whole configuration. */
function shownOptions(routes: readonly RouteConfig[]): unknown {
  const [only] = routes;
  return routes.length === 1 && only?.stages.length === 1 && !only.from ? (only.stages[0]?.options ?? {}) : routes;
}

function credentialRows(view: View) {
  const entries = Object.entries(view.credentials);
  if (entries.length === 0) return html`<p class="muted">No credential check recorded yet.</p>`;
  return html`<table><thead><tr><th>Remote system</th><th>Last token</th><th>When</th></tr></thead><tbody>
${entries.map(
  ([system, h]) =>
    html`<tr><td>${system}</td><td>${h.ok ? html`<span class="status status-submitted">ok</span>` : html`<span class="status status-failed">${h.code ?? 'failed'}</span>`}</td><td>${formatTime(h.at)}</td></tr>`,
)}
</tbody></table>`;
}

export function connectionsPage(
  viewer: Viewer,
  connections: { view: View; connection: ReceiverConnection }[],
  publicUrlConfigured: boolean,
): string {
  const body = connections.map(({ view, connection }) => {
    const field = `webhook-${view.id}`;
    return html`<section class="card">
<h2>${view.name} <span class="muted">(${view.id})</span></h2>
<p class="links">
  <a href="${consolePath('connections', view.id, 'tasks')}">Tasks</a>
  <a href="${consolePath('connections', view.id, 'tasks')}?status=reported">Failed tasks</a>
  <a href="${consolePath('connections', view.id, 'usage')}">Usage per day</a>
</p>
<label for="${field}">Webhook URL (Creative Force: the connector's ReadyToWork webhook)</label>
<div class="copy">
  <input id="${field}" type="text" readonly value="${view.webhookUrl}">
  <button type="button" data-copy="${field}">Copy</button>
</div>
${!publicUrlConfigured && html`<p class="muted">PUBLIC_URL is not set, so this is the path only: put the receiver's public address before it.</p>`}
<h3>Subfunctions</h3>
<table><thead><tr><th>Subfunction</th><th>Recipe</th><th>Options</th><th>Webhook secret</th></tr></thead><tbody>
${view.subfunctions.map(
  (sub) =>
    html`<tr><td>${sub.subfunctionId}</td><td>${sub.recipe}</td><td><code>${JSON.stringify(shownOptions(connection.subfunctions[String(sub.subfunctionId)]?.routes ?? []))}</code></td><td>${sub.ownWebhookSecrets ? 'its own' : "the connection's"}</td></tr>`,
)}
</tbody></table>
<h3>Webhooks and credentials</h3>
<dl>
  <dt>Last webhook</dt><dd>${formatTime(view.lastWebhookAt)}</dd>
  <dt>Signature</dt><dd>scheme ${view.signatureScheme}; last seen ${view.signatureVariantLastSeen ?? '—'}</dd>
  <dt>Steps</dt><dd>${view.stepIds.join(', ')}</dd>
</dl>
${credentialRows(view)}
</section>`;
  });
  return page({ title: 'Connections', viewer, body: html`${body}` });
}
