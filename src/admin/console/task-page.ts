/**
 * One task process: what the webhook said, and every cycle (the first pass, then each rework)
 * with its timeline: attempts, steps with their durations, errors with the message the studio
 * sees (its hint included), paid provider work, what went into each drop box, the outcome; the
 * Creative Force calls made. A Retry button where a retry would be accepted, the reason where not.
 */
import type { CycleSummary, HistoryEvent } from '../../history/task-history.ts';
import type { RetryOutcome } from '../retry-task.ts';
import { html, type SafeHtml } from './html.ts';
import { consolePath, csrfInput, formatDuration, formatTime, page, statusBadge, statusMeaning, type Viewer } from './layout.ts';

type Cycle = { summary: CycleSummary; events: HistoryEvent[] };

interface Row {
  at: string;
  kind: string;
  text: SafeHtml;
}

/** The cycle's events as timeline rows; a step's start and finish become one row with its duration. */
function timelineRows(events: HistoryEvent[]): Row[] {
  const rows: Row[] = [];
  const open = new Map<string, { row: Row; resumed: boolean }>();
  for (const e of events) {
    switch (e.type) {
      case 'received':
        rows.push({
          at: e.at,
          kind: 'received',
          text: html`Webhook received${e.signatureVariant && html` (signature ${e.signatureVariant})`}`,
        });
        break;
      case 'attempt':
        open.clear();
        rows.push({ at: e.at, kind: 'attempt', text: html`<strong>Attempt ${e.attempt}</strong> started` });
        break;
      case 'step': {
        if (e.phase === 'finished') {
          const started = open.get(e.step);
          const took = e.durationMs === undefined ? '' : formatDuration(e.durationMs);
          const text = html`Step <code>${e.step}</code>${started?.resumed ? ' (resumed from its checkpoint)' : ''}: <span class="duration">${took}</span>`;
          if (started) started.row.text = text;
          else rows.push({ at: e.at, kind: 'step', text });
          open.delete(e.step);
        } else {
          const row: Row = {
            at: e.at,
            kind: 'step',
            text: html`Step <code>${e.step}</code>${e.phase === 'resumed' ? ' resumed from its checkpoint' : ' started'}, did not finish`,
          };
          open.set(e.step, { row, resumed: e.phase === 'resumed' });
          rows.push(row);
        }
        break;
      }
      case 'error':
        rows.push({
          at: e.at,
          kind: 'error',
          text: html`<strong>Attempt ${e.attempt} failed</strong>: <code class="error-code">${e.code}</code>
${e.willRetry ? 'retried after its backoff' : e.retryable ? 'no attempts left' : 'not retried (retrying cannot help)'}
<blockquote class="studio-message">${e.message}</blockquote>`,
        });
        break;
      case 'paid':
        rows.push({
          at: e.at,
          kind: 'paid',
          text: html`Paid work at <strong>${e.provider}</strong>: ${e.what} <code>${e.id}</code>${e.adopted ? ' (a start whose answer was lost, found and adopted: not paid again)' : ''}`,
        });
        break;
      case 'submitted':
        rows.push({
          at: e.at,
          kind: 'submitted',
          text: html`<strong>Submitted</strong> ${e.assets} asset${e.assets === 1 ? '' : 's'}${e.refused > 0 && html`, ${e.refused} refused by the result checks`}
<table class="slots"><thead><tr><th>Drop box</th><th>New</th><th>Kept</th><th>Redone</th></tr></thead><tbody>
${e.slots.map((s) => html`<tr><td><code>${s.mappingKeyId}</code>${s.route && html` <span class="muted">${s.route}</span>`}</td><td class="num">${s.new}</td><td class="num">${s.kept}</td><td class="num">${s.redone}</td></tr>`)}
</tbody></table>`,
        });
        break;
      case 'skipped':
        rows.push({ at: e.at, kind: 'skipped', text: html`<strong>Nothing submitted</strong>: ${e.reason}` });
        break;
      case 'report':
        rows.push({
          at: e.at,
          kind: e.outcome === 'delivered' ? 'report' : 'error',
          text:
            e.outcome === 'delivered'
              ? html`Failure reported to Creative Force (<code>${e.code}</code>)`
              : html`<strong>Failure report not delivered</strong> (<code>${e.code}</code>)${e.error && html`: ${e.error}`}`,
        });
        break;
      case 'handed-back':
        rows.push({
          at: e.at,
          kind: 'handed-back',
          text: html`Handed back to the queue by a shutdown during ${e.step} (no attempt used)`,
        });
        break;
    }
  }
  return rows;
}

function offset(from: string, at: string): string {
  const ms = Date.parse(at) - Date.parse(from);
  return Number.isFinite(ms) ? `+${formatDuration(Math.max(0, ms))}` : '';
}

function cycleSection(cycle: Cycle, index: number): SafeHtml {
  const { summary } = cycle;
  const calls = Object.entries(summary.calls);
  return html`<section class="card cycle" id="cycle-${index + 1}">
<h2>Cycle ${index + 1}: ${index === 0 ? 'first pass' : `rework ${index}`} ${statusBadge(summary.status)}</h2>
<p class="outcome">${statusMeaning[summary.status]}${summary.errorCode && html`: <code class="error-code">${summary.errorCode}</code>`}</p>
${summary.errorMessage && html`<blockquote class="studio-message error-message">${summary.errorMessage}</blockquote>`}
<dl class="facts">
  <dt>Received</dt><dd>${formatTime(summary.receivedAt)}</dd>
  <dt>Last event</dt><dd>${formatTime(summary.updatedAt)}</dd>
  <dt>Attempts</dt><dd>${summary.attempts}</dd>
  <dt>Paid generations</dt><dd>${summary.paidGenerations}</dd>
  <dt>Creative Force calls</dt><dd>${calls.length === 0 ? 'none' : calls.map(([endpoint, n]) => html`<code>${endpoint}</code> ×${n} `)}</dd>
  <dt>Job</dt><dd><code>${summary.cycleJobId}</code></dd>
</dl>
<h3>Timeline</h3>
<table class="timeline"><tbody>
${timelineRows(cycle.events).map(
  (row) =>
    html`<tr class="event-${row.kind}"><td class="nowrap muted" title="${formatTime(row.at)}">${offset(summary.receivedAt, row.at)}</td><td>${row.text}</td></tr>`,
)}
</tbody></table>
</section>`;
}

function retryBlock(viewer: Viewer, path: string, last: CycleSummary, refusal: string | null): SafeHtml {
  if (refusal) return html`<p class="notice" id="retry-unavailable">Retry is not available: ${refusal}.</p>`;
  const what =
    last.status === 'retrying'
      ? 'Run the waiting attempt now instead of after its backoff.'
      : 'Send the failure report to Creative Force again.';
  return html`<form method="post" action="${path}/retry" class="retry">${csrfInput(viewer)}
<button type="submit">Retry now</button> <span class="muted">${what}</span></form>`;
}

function retryNotice(outcome: RetryOutcome): SafeHtml {
  if (outcome.code === 409)
    return html`<p class="notice refused" role="alert" id="retry-result">Retry refused: ${outcome.body.reason}.</p>`;
  const text =
    outcome.body.retried === 'cycle'
      ? 'The waiting attempt runs now.'
      : 'The failure report was queued again; a worker delivers it to Creative Force.';
  return html`<p class="notice accepted" role="status" id="retry-result">Retry accepted: ${text}</p>`;
}

export function taskPage(
  viewer: Viewer,
  connection: { id: string; name: string },
  cycles: Cycle[],
  retry: { refusal: string | null; outcome?: RetryOutcome },
): string {
  const first = cycles[0]?.summary;
  const last = cycles.at(-1)?.summary;
  if (!first || !last) throw new Error('a task page needs a cycle');
  const path = consolePath('connections', connection.id, 'tasks', first.taskProcessId);
  const body = html`<p class="links"><a href="${consolePath('connections', connection.id, 'tasks')}">← Tasks of ${connection.name}</a></p>
${retry.outcome && retryNotice(retry.outcome)}
<section class="card">
<dl class="facts">
  <dt>TaskProcessId</dt><dd><code>${first.taskProcessId}</code></dd>
  <dt>TaskId</dt><dd><code>${first.taskId}</code></dd>
  <dt>Product code</dt><dd>${first.productCode ?? '—'}</dd>
  <dt>Job code</dt><dd>${first.jobCode ?? '—'}</dd>
  <dt>Subfunction</dt><dd>${first.subfunctionId}${first.subfunctionName && html` ${first.subfunctionName}`}</dd>
  <dt>Step</dt><dd>${first.stepId}</dd>
  <dt>Recipe</dt><dd>${first.recipe}</dd>
  <dt>Status</dt><dd>${statusBadge(last.status)}</dd>
</dl>
${retryBlock(viewer, path, last, retry.refusal)}
</section>
${cycles.map((cycle, i) => cycleSection(cycle, i))}`;
  return page({ title: `Task ${first.productCode ?? first.taskProcessId}`, viewer, body });
}
