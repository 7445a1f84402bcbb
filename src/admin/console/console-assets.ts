/**
 * The console's style sheet and its one script, served from memory under `/admin/assets/` (no
 * CDN: many studios' machines have no internet; no build step; the Content-Security-Policy allows
 * these and nothing inline). The script only adds the copy buttons: every page works without it.
 */

export const consoleCss = `
:root { color-scheme: light; --fg: #1d2430; --muted: #5d6778; --line: #d8dde5; --bg: #f5f7fa; --card: #fff;
  --accent: #2457c5; --ok: #1e7b34; --bad: #b3261e; --warn: #9a6700; --info: #3b5bdb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { background: #1d2430; color: #fff; }
header nav { display: flex; gap: 18px; align-items: center; max-width: 1200px; margin: 0 auto; padding: 10px 20px; }
header a { color: #fff; text-decoration: none; }
header a:hover { text-decoration: underline; }
header .brand { font-weight: 700; margin-right: 12px; }
header .who { margin-left: auto; color: #c9d1dd; }
header form { margin: 0; }
button.link { background: none; border: 0; color: #fff; padding: 0; font: inherit; cursor: pointer; text-decoration: underline; }
main { max-width: 1200px; margin: 0 auto; padding: 12px 20px 40px; }
h1 { font-size: 22px; margin: 10px 0 14px; overflow-wrap: anywhere; }
h2 { font-size: 17px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
a { color: var(--accent); }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 14px 16px; margin: 0 0 14px; }
.narrow { max-width: 460px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 14px; }
.muted { color: var(--muted); }
.links { display: flex; gap: 16px; margin: 0 0 10px; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.counts th { width: 60%; }
.nowrap { white-space: nowrap; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 6px 0; }
dl.facts { grid-template-columns: repeat(3, max-content minmax(0, 1fr)); }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
label { display: block; font-weight: 600; margin: 8px 0 4px; }
input[type=text], input[type=password], input[type=search], input[type=date] { font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 4px; }
input[type=text], input[type=password] { width: 100%; }
button { font: inherit; padding: 6px 14px; border: 1px solid var(--accent); border-radius: 4px; background: var(--accent); color: #fff; cursor: pointer; }
.narrow button { margin-top: 12px; }
.copy { display: flex; gap: 8px; }
.copy input { font-family: ui-monospace, Menlo, Consolas, monospace; }
.search { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin: 10px 0; }
.search label { margin: 0; }
.filters { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; }
.filters a { padding: 2px 10px; border: 1px solid var(--line); border-radius: 12px; text-decoration: none; background: var(--card); }
.filters a[aria-current] { background: var(--accent); border-color: var(--accent); color: #fff; }
.pager { display: flex; gap: 16px; }
.status { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; background: var(--muted); }
.status-submitted { background: var(--ok); }
.status-failed, .status-reported, .status-undelivered { background: var(--bad); }
.status-retrying { background: var(--warn); }
.status-running, .status-queued { background: var(--info); }
.notice { padding: 8px 12px; border-radius: 4px; background: #eef2f8; border-left: 4px solid var(--muted); }
.notice.refused { background: #fdecea; border-left-color: var(--bad); }
.notice.accepted { background: #e8f5ec; border-left-color: var(--ok); }
.retry { margin: 10px 0 0; }
.studio-message { margin: 4px 0 2px; padding: 6px 10px; background: #fdf3f2; border-left: 3px solid var(--bad); }
.error-code { color: var(--bad); font-weight: 600; }
.timeline td:first-child { width: 90px; }
.timeline .event-attempt td { background: #f1f4f9; }
.timeline .event-error td { background: #fff6f5; }
.timeline .event-submitted td { background: #f3faf5; }
.slots { width: auto; margin: 4px 0; }
.duration { font-variant-numeric: tabular-nums; }
.chart { display: block; width: 100%; height: auto; background: var(--card); border: 1px solid var(--line); border-radius: 6px; margin: 8px 0 14px; }
.chart .bar { fill: #8fa8dc; }
.chart .bar-failed { fill: var(--bad); }
.chart .axis { fill: var(--muted); font-size: 11px; }
`;

export const consoleJs = `// Copy buttons: <button data-copy="id-of-a-field">. Clipboard API where the page is a secure
// context, the selection and execCommand elsewhere (plain http on an internal host).
for (const button of document.querySelectorAll('button[data-copy]')) {
  button.addEventListener('click', async () => {
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
    } catch {
      document.execCommand('copy');
    }
    button.textContent = 'Copied';
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  });
}
`;
