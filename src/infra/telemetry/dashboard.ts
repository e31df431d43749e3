/**
 * The status page: one self-contained HTML string (inline CSS and script, no
 * build step, nothing fetched from elsewhere). It is rendered on the server so
 * it works without JavaScript; the inline script then re-renders it from
 * /api/status every few seconds. Issue titles and error messages are untrusted:
 * the server escapes every string, and the script only ever sets text nodes.
 */
import { QUEUE_JOB_STATES } from '../../domain/ports.js';
import { DAEMONS_CLIENT_SCRIPT, DAEMONS_STYLE, renderDaemons, type DashboardDaemons } from './dashboard-daemons.js';
import { FLEET_CLIENT_SCRIPT, renderFleet, type DashboardFleet } from './dashboard-fleet.js';
import { JOBS_CLIENT_SCRIPT, JOBS_STYLE, renderJobs, type DashboardJobs } from './dashboard-jobs.js';
import { age, count, escapeHtml } from './dashboard-text.js';

export { escapeHtml };
export type { DashboardDaemons, DashboardFleet, DashboardJobs };

/** Where the dashboard gets its data; the composition root adapts the status reader to it. */
export interface DashboardSource {
  snapshot(): Promise<DashboardSnapshot>;
}

export interface DashboardSnapshot {
  /** ISO 8601; ages on the page are relative to this, so server and browser clocks never disagree. */
  generatedAt: string;
  ready: boolean;
  /** Set while the dispatcher is paused by the daemon's own failure (a refused token, a missing model). Default: not paused. */
  dispatcherPause?: { reason: string; message: string; since: string } | null;
  /**
   * The repositories shown: a large fleet's are capped, those with an error
   * or a live job first; `moreRepositories` counts the others.
   */
  repositories: Array<{
    repository: string;
    /** walk, stream or sweep; null (or absent) before the fleet placed it. */
    detectionPath?: string | null;
    validated: boolean;
    lastPolledAt: string | null;
    lastError: string | null;
    issues: number;
    jobs: { pending: number; running: number; done: number; dead: number };
  }>;
  /** Repositories left out of `repositories`. Default 0. */
  moreRepositories?: number;
  /** The fleet and its detection; null (or absent) while there is nothing to say (no repository placed yet). */
  fleet?: DashboardFleet | null;
  /** The daemons on this database and their work units; null (or absent) from a daemon that does not say. */
  daemons?: DashboardDaemons | null;
  queue: { pending: number; running: number; done: number; dead: number };
  /** The queue by job type and the latest jobs; null (or absent) from a daemon that does not say. */
  jobs?: DashboardJobs | null;
  /** `resetAt` in Unix epoch seconds; null until GitHub has answered once. */
  rateLimit: { limit: number; remaining: number; resetAt: number } | null;
  /** `type`: the job that posted it (a `follow-up` posted a reply); absent: an answer. */
  latestComments: Array<{ repository: string; number: number; title: string; url: string; postedAt: string; type?: string }>;
}

export interface DashboardRenderOptions {
  /** CSP nonce for the inline style and script; fresh for every response. */
  nonce: string;
  /** How often the script re-renders from /api/status. Default 5000. */
  refreshMs?: number;
}

/** Only web links become hrefs: a `javascript:` URL in the data must not become a link. */
function webUrl(url: string): string | null {
  return /^https?:\/\//i.test(url) ? url : null;
}

/** `2026-03-14 09:30:00 UTC`; same as the script's `stamp()`. */
const stamp = (iso: string): string => iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');

type Repository = DashboardSnapshot['repositories'][number];

/** Same rules as the script's `repositoryState()`. */
function repositoryState(repo: Repository): { text: string; tone: string } {
  if (!repo.validated) return { text: 'not validated', tone: 'warn' };
  if (repo.lastError !== null) return { text: 'failing', tone: 'bad' };
  if (repo.lastPolledAt === null) return { text: 'waiting', tone: 'warn' };
  return { text: 'polling', tone: 'ok' };
}

/** Dead jobs need a person; same as the script's `jobCellClass()`. */
function jobCellClass(state: string, n: number): string {
  return state === 'dead' && n > 0 ? 'num bad' : 'num';
}

function renderQueue(queue: DashboardSnapshot['queue']): string {
  const items = QUEUE_JOB_STATES.map((state) => `<div><dt>${state}</dt><dd data-state="${state}">${count(queue[state])}</dd></div>`);
  return `<section class="card" id="queue"><h2>Queue</h2><dl>${items.join('')}</dl></section>`;
}

function renderRateLimit(rateLimit: DashboardSnapshot['rateLimit'], now: number): string {
  if (rateLimit === null) {
    return '<section class="card" id="rate-limit"><h2>GitHub rate limit</h2><p class="muted">not seen yet</p></section>';
  }
  const resetMs = rateLimit.resetAt * 1000;
  const resetIso = new Date(resetMs).toISOString();
  return (
    '<section class="card" id="rate-limit"><h2>GitHub rate limit</h2>' +
    `<p><strong>${count(rateLimit.remaining)}</strong> of ${count(rateLimit.limit)} left</p>` +
    `<meter min="0" max="${rateLimit.limit}" low="${rateLimit.limit * 0.1}" optimum="${rateLimit.limit}" value="${rateLimit.remaining}"></meter>` +
    `<p class="muted">resets in <time datetime="${resetIso}" title="${resetIso}">${age(resetMs - now)}</time></p></section>`
  );
}

/** Same as the script's `more()`. */
function renderMore(more: number | undefined): string {
  if (!more) return '';
  return `<p class="muted" id="more-repositories">and ${count(more)} more (those with an error or a live job are listed first) · <a href="api/status">JSON</a> and <code>autosolve status --json</code> list every one</p>`;
}

function renderRepositories(repositories: DashboardSnapshot['repositories'], now: number): string {
  if (repositories.length === 0) return '<p class="muted">No repositories configured.</p>';
  const rows = repositories.map((repo) => {
    const state = repositoryState(repo);
    const polled = repo.lastPolledAt === null ? 'never' : `${age(now - Date.parse(repo.lastPolledAt))} ago`;
    const jobs = QUEUE_JOB_STATES.map((s) => `<td class="${jobCellClass(s, repo.jobs[s])}">${count(repo.jobs[s])}</td>`).join('');
    const error = repo.lastError === null ? '' : escapeHtml(repo.lastError);
    return (
      `<tr data-repository="${escapeHtml(repo.repository)}"><th scope="row">${escapeHtml(repo.repository)}</th>` +
      `<td class="path">${escapeHtml(repo.detectionPath ?? '-')}</td>` +
      `<td><span class="badge ${state.tone}">${state.text}</span></td><td>${polled}</td>` +
      `<td class="num">${count(repo.issues)}</td>${jobs}<td class="error" title="${error}">${error}</td></tr>`
    );
  });
  return (
    '<table><thead><tr><th scope="col">Repository</th><th scope="col">Path</th><th scope="col">State</th><th scope="col">Last poll</th>' +
    '<th scope="col" class="num">Issues</th><th scope="col" class="num">Pending</th><th scope="col" class="num">Running</th>' +
    '<th scope="col" class="num">Done</th><th scope="col" class="num">Dead</th><th scope="col">Last error</th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table>`
  );
}

function renderComments(comments: DashboardSnapshot['latestComments'], now: number): string {
  if (comments.length === 0) return '<p class="muted">No comments posted yet.</p>';
  const items = comments.map((comment) => {
    const label =
      `<span class="repo">${escapeHtml(comment.repository)}</span> <span class="number">#${comment.number}</span> ` +
      `<span class="title">${escapeHtml(comment.title)}</span>`;
    const url = webUrl(comment.url);
    const link = url === null ? label : `<a href="${escapeHtml(url)}">${label}</a>`;
    const reply = comment.type === 'follow-up' ? ' <span class="badge kind">reply</span>' : '';
    return `<li>${link}${reply} <span class="muted">${age(now - Date.parse(comment.postedAt))} ago</span></li>`;
  });
  return `<ol>${items.join('')}</ol>`;
}

/** Same as the script's `pause()`. */
function renderPause(pause: DashboardSnapshot['dispatcherPause'], now: number): string {
  if (!pause) return '';
  return (
    `<section class="card alert" id="pause" role="alert"><h2>Dispatcher paused (${escapeHtml(pause.reason)})</h2>` +
    `<p class="error">${escapeHtml(pause.message)}</p>` +
    `<p class="muted">since <time datetime="${escapeHtml(pause.since)}">${age(now - Date.parse(pause.since))}</time> ago · ` +
    'queued jobs wait, no attempt is spent; it retries until this clears</p></section>'
  );
}

function readyBadge(snapshot: DashboardSnapshot): string {
  if (snapshot.dispatcherPause) return '<span id="ready" class="badge bad">paused</span>';
  return snapshot.ready ? '<span id="ready" class="badge ok">ready</span>' : '<span id="ready" class="badge warn">setting up</span>';
}

function renderMain(snapshot: DashboardSnapshot): string {
  const now = Date.parse(snapshot.generatedAt);
  return (
    renderPause(snapshot.dispatcherPause, now) +
    `<div class="cards">${renderQueue(snapshot.queue)}${renderRateLimit(snapshot.rateLimit, now)}</div>` +
    renderDaemons(snapshot.daemons, now) +
    renderFleet(snapshot.fleet, now) +
    `<section id="repositories"><h2>Repositories</h2>${renderRepositories(snapshot.repositories, now)}${renderMore(snapshot.moreRepositories)}</section>` +
    renderJobs(snapshot.jobs, now) +
    `<section id="comments"><h2>Latest comments</h2>${renderComments(snapshot.latestComments, now)}</section>`
  );
}

/** The whole page for one snapshot. */
export function renderDashboard(snapshot: DashboardSnapshot, options: DashboardRenderOptions): string {
  const nonce = escapeHtml(options.nonce);
  const refreshMs = Math.max(250, Math.round(options.refreshMs ?? 5000));
  const ready = readyBadge(snapshot);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>autosolve</title>
<style nonce="${nonce}">${STYLE}${DAEMONS_STYLE}${JOBS_STYLE}</style>
</head>
<body>
<header><h1>autosolve</h1>${ready}<span class="muted" id="updated">updated <time datetime="${escapeHtml(snapshot.generatedAt)}">${escapeHtml(stamp(snapshot.generatedAt))}</time></span><span id="stale" hidden>showing stale data: the last refresh failed</span></header>
<main id="status">${renderMain(snapshot)}</main>
<footer class="muted">Read-only. Refreshes every ${refreshMs % 1000 === 0 ? `${refreshMs / 1000} s` : `${refreshMs} ms`} · <a href="metrics">metrics</a> · <a href="api/status">JSON</a></footer>
<script nonce="${nonce}">${CLIENT_SCRIPT.replace('__REFRESH_MS__', String(refreshMs)).replace('__FLEET__', () => FLEET_CLIENT_SCRIPT).replace('__DAEMONS__', () => DAEMONS_CLIENT_SCRIPT).replace('__JOBS__', () => JOBS_CLIENT_SCRIPT)}</script>
</body>
</html>
`;
}

const STYLE = `
:root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#f6f8fa;--card:#fff;--line:#d1d9e0;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--link:#0969da}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--card:#151b23;--line:#3d444d;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--link:#4493f8}}
*{box-sizing:border-box}
body{margin:0;padding:24px;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:12px;margin-bottom:16px}
h1{font-size:22px;margin:0}h2{font-size:15px;margin:0 0 8px}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
.muted{color:var(--muted)}
#stale{color:var(--bad);font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:16px;margin-bottom:16px}
.card,section#repositories,section#comments{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin-bottom:16px}
.cards .card{margin-bottom:0}
dl{display:flex;gap:24px;margin:0}dl div{display:flex;flex-direction:column}dt{color:var(--muted)}dd{margin:0;font-size:22px;font-weight:600}
meter{width:100%;height:14px}
#rate-limit p{margin:4px 0}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:6px 8px;border-top:1px solid var(--line);white-space:nowrap}
thead th{border-top:0;color:var(--muted);font-weight:500}
.num{text-align:right;font-variant-numeric:tabular-nums}
td.error{color:var(--bad);max-width:320px;overflow:hidden;text-overflow:ellipsis}
.card.alert{border-color:var(--bad);margin-bottom:16px}.card.alert h2{color:var(--bad)}p.error{color:var(--bad);overflow-wrap:anywhere}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;border:1px solid currentColor}
.badge.ok{color:var(--ok)}.badge.warn{color:var(--warn)}.badge.bad,td.bad{color:var(--bad)}td.bad{font-weight:600}
ol{margin:0;padding-left:20px}li{margin:4px 0}
.repo{color:var(--muted)}.number{font-weight:600}.badge.kind{color:var(--muted);font-weight:500}
footer{margin-top:8px}
#fleet table{margin:4px 0 8px}#fleet td.bound{white-space:normal;min-width:240px}#fleet td.bound.stretched{color:var(--warn)}
#fleet ul{margin:4px 0 0;padding-left:20px}#fleet p{margin:4px 0}#fleet .error{color:var(--bad);overflow-wrap:anywhere}
`;

/**
 * Mirrors the server renderer above with DOM calls: text goes in through text
 * nodes only, so no data can become markup. Plain ES2017, no template literals.
 */
const CLIENT_SCRIPT = `
(function () {
  'use strict';
  var REFRESH_MS = __REFRESH_MS__;
  var STATES = ['pending', 'running', 'done', 'dead'];
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { if (attrs[k] !== null && attrs[k] !== undefined) el.setAttribute(k, String(attrs[k])); });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    });
    return el;
  }
  function age(ms) {
    if (isNaN(ms)) return 'unknown';
    var s = Math.floor(Math.max(0, ms) / 1000);
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min';
    var hr = Math.floor(m / 60);
    if (hr < 48) return hr + ' h';
    return Math.floor(hr / 24) + ' d';
  }
  function stamp(iso) { return iso.replace('T', ' ').replace(/(\\.\\d+)?Z$/, ' UTC'); }
  function count(n) { return Number(n).toLocaleString('en-US'); }
  function webUrl(url) { return /^https?:\\/\\//i.test(url) ? url : null; }
  function jobCellClass(state, n) { return state === 'dead' && n > 0 ? 'num bad' : 'num'; }
  function repositoryState(r) {
    if (!r.validated) return { text: 'not validated', tone: 'warn' };
    if (r.lastError !== null) return { text: 'failing', tone: 'bad' };
    if (r.lastPolledAt === null) return { text: 'waiting', tone: 'warn' };
    return { text: 'polling', tone: 'ok' };
  }
  function queue(q) {
    return h('section', { 'class': 'card', id: 'queue' }, [h('h2', {}, ['Queue']), h('dl', {}, STATES.map(function (s) {
      return h('div', {}, [h('dt', {}, [s]), h('dd', { 'data-state': s }, [count(q[s])])]);
    }))]);
  }
  function rateLimit(rl, now) {
    var title = h('h2', {}, ['GitHub rate limit']);
    if (!rl) return h('section', { 'class': 'card', id: 'rate-limit' }, [title, h('p', { 'class': 'muted' }, ['not seen yet'])]);
    var iso = new Date(rl.resetAt * 1000).toISOString();
    return h('section', { 'class': 'card', id: 'rate-limit' }, [title,
      h('p', {}, [h('strong', {}, [count(rl.remaining)]), ' of ' + count(rl.limit) + ' left']),
      h('meter', { min: 0, max: rl.limit, low: rl.limit * 0.1, optimum: rl.limit, value: rl.remaining }),
      h('p', { 'class': 'muted' }, ['resets in ', h('time', { datetime: iso, title: iso }, [age(rl.resetAt * 1000 - now)])])]);
  }
  function repositories(list, now) {
    if (list.length === 0) return h('p', { 'class': 'muted' }, ['No repositories configured.']);
    var head = ['Repository', 'Path', 'State', 'Last poll', 'Issues', 'Pending', 'Running', 'Done', 'Dead', 'Last error'].map(function (t, i) {
      return h('th', { scope: 'col', 'class': i >= 4 && i <= 8 ? 'num' : null }, [t]);
    });
    var rows = list.map(function (r) {
      var st = repositoryState(r);
      var cells = [h('th', { scope: 'row' }, [r.repository]), h('td', { 'class': 'path' }, [r.detectionPath || '-']),
        h('td', {}, [h('span', { 'class': 'badge ' + st.tone }, [st.text])]),
        h('td', {}, [r.lastPolledAt === null ? 'never' : age(now - Date.parse(r.lastPolledAt)) + ' ago']),
        h('td', { 'class': 'num' }, [count(r.issues)])];
      STATES.forEach(function (s) { cells.push(h('td', { 'class': jobCellClass(s, r.jobs[s]) }, [count(r.jobs[s])])); });
      cells.push(h('td', { 'class': 'error', title: r.lastError || '' }, [r.lastError || '']));
      return h('tr', { 'data-repository': r.repository }, cells);
    });
    return h('table', {}, [h('thead', {}, [h('tr', {}, head)]), h('tbody', {}, rows)]);
  }
  function more(n) {
    if (!n) return null;
    return h('p', { 'class': 'muted', id: 'more-repositories' }, ['and ' + count(n) + ' more (those with an error or a live job are listed first) · ',
      h('a', { href: 'api/status' }, ['JSON']), ' and ', h('code', {}, ['autosolve status --json']), ' list every one']);
  }
__FLEET__
__DAEMONS__
__JOBS__
  function comments(list, now) {
    if (list.length === 0) return h('p', { 'class': 'muted' }, ['No comments posted yet.']);
    return h('ol', {}, list.map(function (c) {
      var label = [h('span', { 'class': 'repo' }, [c.repository]), ' ', h('span', { 'class': 'number' }, ['#' + c.number]), ' ',
        h('span', { 'class': 'title' }, [c.title])];
      var url = webUrl(c.url);
      var reply = c.type === 'follow-up' ? [' ', h('span', { 'class': 'badge kind' }, ['reply'])] : [];
      return h('li', {}, [url === null ? h('span', {}, label) : h('a', { href: url }, label)].concat(reply, [' ',
        h('span', { 'class': 'muted' }, [age(now - Date.parse(c.postedAt)) + ' ago'])]));
    }));
  }
  function pause(p, now) {
    if (!p) return null;
    return h('section', { 'class': 'card alert', id: 'pause', role: 'alert' }, [h('h2', {}, ['Dispatcher paused (' + p.reason + ')']),
      h('p', { 'class': 'error' }, [p.message]),
      h('p', { 'class': 'muted' }, ['since ', h('time', { datetime: p.since }, [age(now - Date.parse(p.since))]),
        ' ago · queued jobs wait, no attempt is spent; it retries until this clears'])]);
  }
  function render(s) {
    var now = Date.parse(s.generatedAt);
    var main = document.getElementById('status');
    var banner = pause(s.dispatcherPause, now);
    var parts = [h('div', { 'class': 'cards' }, [queue(s.queue), rateLimit(s.rateLimit, now)]), daemons(s.daemons, now), fleet(s.fleet, now),
      h('section', { id: 'repositories' }, [h('h2', {}, ['Repositories']), repositories(s.repositories, now), more(s.moreRepositories)]), jobs(s.jobs, now),
      h('section', { id: 'comments' }, [h('h2', {}, ['Latest comments']), comments(s.latestComments, now)])];
    main.replaceChildren.apply(main, (banner ? [banner] : []).concat(parts.filter(function (p) { return p !== null; })));
    var ready = document.getElementById('ready');
    ready.className = 'badge ' + (s.dispatcherPause ? 'bad' : s.ready ? 'ok' : 'warn');
    ready.textContent = s.dispatcherPause ? 'paused' : s.ready ? 'ready' : 'setting up';
    var time = document.querySelector('#updated time');
    time.setAttribute('datetime', s.generatedAt);
    time.textContent = stamp(s.generatedAt);
  }
  function refresh() {
    fetch('api/status', { cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (s) { render(s); document.getElementById('stale').hidden = true; })
      .catch(function () { document.getElementById('stale').hidden = false; })
      .then(function () { setTimeout(refresh, REFRESH_MS); });
  }
  setTimeout(refresh, REFRESH_MS);
})();
`;
