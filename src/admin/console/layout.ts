/**
 * The frame of every console page, and the small formatters the pages share. Times are shown in
 * UTC (the server does not know the browser's zone, and the console runs no script for it).
 */
import type { CycleStatus } from '../../history/task-history.ts';
import type { Principal } from '../admin-auth.ts';
import { csrfField } from './console-session.ts';
import { html, type SafeHtml } from './html.ts';

/** Who is signed in, and the CSRF token of their forms. */
export interface Viewer {
  principal: Principal;
  csrf: string;
}

/** A path of the console, with each dynamic segment encoded. */
export function consolePath(...segments: string[]): string {
  return `/admin/${segments.map(encodeURIComponent).join('/')}`;
}

/** A path with a query string; empty values are left out. */
export function withQuery(path: string, query: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** The hidden CSRF field of a form that changes something. */
export function csrfInput(viewer: Viewer): SafeHtml {
  return html`<input type="hidden" name="${csrfField}" value="${viewer.csrf}">`;
}

/** `2026-11-03 14:05:12 UTC` */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC` : iso;
}

/** `850 ms`, `2.4 s`, `3 min 5 s` */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** What each status means, in the studio's words. */
export const statusMeaning: Record<CycleStatus, string> = {
  queued: 'received, waiting for a worker',
  running: 'running now',
  retrying: 'an attempt failed; the next one waits for its backoff',
  submitted: 'submitted to Creative Force',
  skipped: 'ended without submitting',
  failed: 'failed; the failure report to Creative Force is pending',
  reported: 'failed, and Creative Force was told',
  undelivered: 'failed, and the failure report could not be delivered',
};

export function statusBadge(status: CycleStatus): SafeHtml {
  return html`<span class="status status-${status}" title="${statusMeaning[status]}">${status}</span>`;
}

export function page(options: { title: string; viewer?: Viewer; body: SafeHtml }): string {
  const { viewer } = options;
  const nav = viewer
    ? html`<nav>
        <a class="brand" href="/admin">cf-ai-connector</a>
        <a href="/admin">Connections</a>
        ${viewer.principal.kind === 'ops' && html`<a href="/admin/ops">Operations</a>`}
        <span class="who">${viewer.principal.kind === 'ops' ? 'ops' : `studio: ${viewer.principal.connectionId}`}</span>
        <form method="post" action="/admin/sign-out">${csrfInput(viewer)}<button type="submit" class="link">Sign out</button></form>
      </nav>`
    : html`<nav><span class="brand">cf-ai-connector</span></nav>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · cf-ai-connector</title>
<link rel="stylesheet" href="/admin/assets/console.css">
<script type="module" src="/admin/assets/console.js"></script>
</head>
<body>
<header>${nav}</header>
<main>
<h1>${options.title}</h1>
${options.body}
</main>
</body>
</html>
`.toString();
}

/** A page that only says something (not found, refused, signed out ...). */
export function messagePage(title: string, text: string, viewer?: Viewer): string {
  return page({
    title,
    ...(viewer ? { viewer } : {}),
    body: html`<p class="notice refused" role="alert">${text}</p><p><a href="/admin">Back to the console</a></p>`,
  });
}
