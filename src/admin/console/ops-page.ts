/** The operations view (the ops token only): the queue, failure reports pending, the Creative Force limiter, the workers. */
import type { OpsState } from '../ops-state.ts';
import { html } from './html.ts';
import { formatDuration, formatTime, page, type Viewer } from './layout.ts';

export function opsPage(viewer: Viewer, state: OpsState): string {
  const { queue, limiter } = state;
  const waitingForSlots = Math.round((limiter.reservedAheadMs * limiter.rateRps) / 1000);
  const learned = limiter.rateRps < limiter.targetRps;
  const body = html`<p class="muted">As of ${formatTime(state.at)}. <a href="/admin/ops">Refresh</a> · the same as JSON: <a href="/admin/api/ops">/admin/api/ops</a></p>
<div class="grid">
<section class="card">
<h2>Queue</h2>
<table class="counts"><tbody>
<tr><th>Waiting</th><td class="num" id="queue-waiting">${queue.waiting + queue.prioritized}</td></tr>
<tr><th>Active</th><td class="num" id="queue-active">${queue.active}</td></tr>
<tr><th>Delayed (waiting for a retry)</th><td class="num" id="queue-delayed">${queue.delayed}</td></tr>
<tr><th>Failed (kept for inspection)</th><td class="num" id="queue-failed">${queue.failed}</td></tr>
<tr><th>Failure reports pending</th><td class="num" id="failure-reports">${state.failureReportsPending}</td></tr>
</tbody></table>
${state.failureReportsPending > 0 && html`<p class="notice refused">Failure reports that could not be delivered: list and send them again with <code>cf-ai-connector reports</code>.</p>`}
</section>
<section class="card">
<h2>Creative Force limiter</h2>
<table class="counts"><tbody>
<tr><th>Rate now</th><td class="num" id="limiter-rate">${limiter.rateRps.toFixed(1)} requests/s${learned ? ` (lowered after a 429; recovering to ${limiter.targetRps.toFixed(1)})` : ''}</td></tr>
<tr><th>Ceiling</th><td class="num">${limiter.limit} requests/s</td></tr>
<tr><th>Slots reserved ahead</th><td class="num" id="limiter-ahead">${limiter.reservedAheadMs > 0 ? html`${formatDuration(limiter.reservedAheadMs)} (about ${waitingForSlots} requests)` : 'none: idle'}</td></tr>
<tr><th>Pause after a 429</th><td class="num" id="limiter-pause">${limiter.pausedForMs > 0 ? `${formatDuration(limiter.pausedForMs)} left` : 'none'}</td></tr>
<tr><th>429s in a row</th><td class="num" id="limiter-strikes">${limiter.consecutive429s}</td></tr>
</tbody></table>
</section>
</div>
<section class="card">
<h2>Workers online</h2>
${
  state.workers.length === 0
    ? html`<p class="notice refused">No worker is connected to the queue: cycles wait until one starts.</p>`
    : html`<table id="workers"><thead><tr><th>Connection</th><th>Address</th><th>Connected for</th><th>Idle for</th></tr></thead><tbody>
${state.workers.map((w) => html`<tr><td><code>${w.name}</code></td><td>${w.address}</td><td>${formatDuration(w.ageSeconds * 1000)}</td><td>${formatDuration(w.idleSeconds * 1000)}</td></tr>`)}
</tbody></table>`
}
</section>`;
  return page({ title: 'Operations', viewer, body });
}
