/**
 * A connection's usage per day: tasks received, submitted and failed, Creative Force calls and
 * paid generations per provider, as a table and a small bar chart (inline SVG: no script, no
 * image request).
 */
import { html, type SafeHtml } from './html.ts';
import { consolePath, page, type Viewer } from './layout.ts';

type Day = { day: string; counters: Record<string, number> };

/** Bars of tasks received per day, the failed part of each in red; each bar's title gives the numbers. */
function chart(days: Day[]): SafeHtml {
  const width = 960;
  const height = 160;
  const max = Math.max(1, ...days.map((d) => d.counters.received ?? 0));
  const step = width / Math.max(days.length, 1);
  const bar = Math.max(1, step * 0.7);
  const bars = days.map((d, i) => {
    const received = d.counters.received ?? 0;
    const failed = Math.min(d.counters.failed ?? 0, received);
    const h = (received / max) * (height - 20);
    const f = (failed / max) * (height - 20);
    const x = (i * step + (step - bar) / 2).toFixed(1);
    return html`<g><title>${d.day}: ${received} received, ${d.counters.submitted ?? 0} submitted, ${failed} failed</title>
<rect class="bar" x="${x}" y="${(height - h).toFixed(1)}" width="${bar.toFixed(1)}" height="${h.toFixed(1)}"></rect>
<rect class="bar-failed" x="${x}" y="${(height - f).toFixed(1)}" width="${bar.toFixed(1)}" height="${f.toFixed(1)}"></rect></g>`;
  });
  return html`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="Tasks received per day (failed in red); the busiest day had ${max}">
<text class="axis" x="0" y="12">${max}</text>${bars}</svg>`;
}

export function usagePage(
  viewer: Viewer,
  connection: { id: string; name: string },
  range: { from: string; to: string },
  days: Day[],
): string {
  const providers = [...new Set(days.flatMap((d) => Object.keys(d.counters).filter((k) => k.startsWith('paid:'))))].sort();
  const columns = ['received', 'submitted', 'failed', 'cfCalls', ...providers];
  const label = (c: string) => (c === 'cfCalls' ? 'Creative Force calls' : c.startsWith('paid:') ? `paid at ${c.slice(5)}` : c);
  const total = (c: string) => days.reduce((n, d) => n + (d.counters[c] ?? 0), 0);
  const path = consolePath('connections', connection.id, 'usage');
  const body = html`<p class="links"><a href="${consolePath('connections', connection.id, 'tasks')}">← Tasks of ${connection.name}</a></p>
<form method="get" action="${path}" class="search">
  <label for="from">From</label><input id="from" name="from" type="date" value="${range.from}">
  <label for="to">To</label><input id="to" name="to" type="date" value="${range.to}">
  <button type="submit">Show</button>
</form>
${chart(days)}
<table class="usage"><thead><tr><th>Day (UTC)</th>${columns.map((c) => html`<th>${label(c)}</th>`)}</tr></thead>
<tbody>
${[...days].reverse().map((d) => html`<tr><td class="nowrap">${d.day}</td>${columns.map((c) => html`<td class="num">${d.counters[c] ?? 0}</td>`)}</tr>`)}
</tbody>
<tfoot><tr><th>Total</th>${columns.map((c) => html`<td class="num">${total(c)}</td>`)}</tr></tfoot></table>`;
  return page({ title: `Usage of ${connection.name}`, viewer, body });
}
