/**
 * A connection's tasks, newest first: one row per cycle, filtered by status, searched by
 * TaskProcessId, TaskId or product code, a page at a time.
 */
import { type CycleStatus, type CycleSummary, cycleStatuses } from '../../history/task-history.ts';
import { html } from './html.ts';
import { consolePath, formatTime, page, statusBadge, type Viewer, withQuery } from './layout.ts';

export interface TaskListQuery {
  status?: CycleStatus | undefined;
  q?: string | undefined;
  cursor?: string | undefined;
}

export function taskListPage(
  viewer: Viewer,
  connection: { id: string; name: string },
  query: TaskListQuery,
  result: { cycles: CycleSummary[]; nextCursor: string | null },
): string {
  const path = consolePath('connections', connection.id, 'tasks');
  const filter = (status: CycleStatus | undefined, label: string) =>
    html`<a href="${withQuery(path, { status, q: query.q })}"${query.status === status ? html` aria-current="page"` : ''}>${label}</a>`;
  const rows = result.cycles.map(
    (c) => html`<tr>
<td class="nowrap">${formatTime(c.receivedAt)}</td>
<td><a href="${consolePath('connections', connection.id, 'tasks', c.taskProcessId)}"><code>${c.taskProcessId}</code></a></td>
<td>${c.productCode ?? '—'}</td>
<td>${c.jobCode ?? '—'}</td>
<td>${c.subfunctionId}${c.subfunctionName && html` <span class="muted">${c.subfunctionName}</span>`}</td>
<td>${c.recipe}</td>
<td>${statusBadge(c.status)}</td>
<td class="num">${c.attempts}</td>
<td>${c.errorCode ? html`<code class="nowrap">${c.errorCode}</code>` : ''}</td>
</tr>`,
  );
  const body = html`<p class="links"><a href="/admin">← Connections</a> <a href="${consolePath('connections', connection.id, 'usage')}">Usage per day</a></p>
<nav class="filters" aria-label="Status">${filter(undefined, 'all')}${cycleStatuses.map((s) => filter(s, s))}</nav>
<form method="get" action="${path}" class="search" role="search">
  ${query.status && html`<input type="hidden" name="status" value="${query.status}">`}
  <label for="q">TaskProcessId, TaskId or product code</label>
  <input id="q" name="q" type="search" value="${query.q ?? ''}" maxlength="200">
  <button type="submit">Search</button>
  ${query.q && html`<a href="${withQuery(path, { status: query.status })}">Clear</a>`}
</form>
${
  rows.length === 0
    ? html`<p class="muted">No task${query.status ? ` with status ${query.status}` : ''}${query.q ? ' matches the search' : ''} in the history.</p>`
    : html`<table class="tasks"><thead><tr><th>Received</th><th>TaskProcessId</th><th>Product code</th><th>Job code</th><th>Subfunction</th><th>Recipe</th><th>Status</th><th>Attempts</th><th>Error</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
<p class="pager">
  ${query.cursor && html`<a href="${withQuery(path, { status: query.status, q: query.q })}">← Newest</a>`}
  ${result.nextCursor && html`<a rel="next" href="${withQuery(path, { status: query.status, q: query.q, cursor: result.nextCursor })}">Older →</a>`}
</p>`;
  return page({ title: `Tasks of ${connection.name}`, viewer, body });
}
