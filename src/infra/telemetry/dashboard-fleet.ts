/**
 * The dashboard's detection card: repositories per detection path, how fast
 * each path detects and what bounds it (the capacity projection, in the words
 * `status` uses), each organisation stream's last pass and error, and how
 * many discovered repositories were dropped. The server renderer and the
 * client script's `fleet()` sit side by side here so they stay in step; every
 * string is escaped by the server and set as a text node by the script.
 */
import { age, count, escapeHtml } from './dashboard-text.js';

export interface DashboardFleet {
  /** Repositories per detection path; `undecided`: not placed yet. */
  members: { walk: number; stream: number; sweep: number; undecided: number };
  /** Discovered repositories dropped (archived, no longer listed, gone). */
  dropped: number;
  /** The capacity projection the daemon stored; null before it made one. */
  detection: {
    /** ISO 8601. */
    projectedAt: string;
    paths: Record<'walk' | 'stream' | 'sweep', { interval: string; latency: string; bound: string; stretched: boolean }>;
  } | null;
  /** One per organisation issue stream (`org:acme`). */
  streams: Array<{ scope: string; lastPolledAt: string | null; lastError: string | null }>;
}

const PATHS = ['walk', 'stream', 'sweep', 'undecided'] as const;

/** Same as the script's `fleet()`. */
export function renderFleet(fleet: DashboardFleet | null | undefined, now: number): string {
  if (!fleet) return '';
  const { detection } = fleet;
  const projected = detection
    ? `<p class="muted">projected <time datetime="${escapeHtml(detection.projectedAt)}">${age(now - Date.parse(detection.projectedAt))}</time> ago · p95: from an issue's update to its job</p>`
    : '<p class="muted">no projection yet</p>';
  const rows = PATHS.filter((path) => fleet.members[path] > 0).map((path) => {
    const p = path === 'undecided' ? undefined : detection?.paths[path];
    return (
      `<tr data-path="${path}"><th scope="row">${path}</th><td class="num">${count(fleet.members[path])}</td>` +
      `<td>${p ? escapeHtml(p.interval) : '-'}</td><td>${p ? escapeHtml(p.latency) : '-'}</td>` +
      `<td class="bound${p?.stretched ? ' stretched' : ''}">${p ? escapeHtml(p.bound) : ''}</td></tr>`
    );
  });
  const table =
    '<table><thead><tr><th scope="col">Path</th><th scope="col" class="num">Repositories</th><th scope="col">Every</th>' +
    `<th scope="col">p95 latency</th><th scope="col">Bound by</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  const dropped = fleet.dropped > 0 ? `<p id="dropped">${count(fleet.dropped)} discovered ${fleet.dropped === 1 ? 'repository' : 'repositories'} dropped</p>` : '';
  const streams = fleet.streams.map((stream) => {
    const pass = stream.lastPolledAt === null ? 'no pass completed yet' : `last pass ${age(now - Date.parse(stream.lastPolledAt))} ago`;
    const error = stream.lastError === null ? '' : ` <span class="error">${escapeHtml(stream.lastError)}</span>`;
    return `<li data-scope="${escapeHtml(stream.scope)}"><strong>${escapeHtml(stream.scope)}</strong> ${pass}${error}</li>`;
  });
  return (
    `<section class="card" id="fleet"><h2>Detection</h2>${projected}${table}${dropped}` +
    `${streams.length > 0 ? `<ul>${streams.join('')}</ul>` : ''}</section>`
  );
}

/** Goes inside the dashboard's client script, which defines h(), age() and count(). Plain ES2017, no `$`. */
export const FLEET_CLIENT_SCRIPT = `
  var PATHS = ['walk', 'stream', 'sweep', 'undecided'];
  function fleet(f, now) {
    if (!f) return null;
    var d = f.detection;
    var projected = d
      ? h('p', { 'class': 'muted' }, ['projected ', h('time', { datetime: d.projectedAt }, [age(now - Date.parse(d.projectedAt))]), " ago · p95: from an issue's update to its job"])
      : h('p', { 'class': 'muted' }, ['no projection yet']);
    var head = ['Path', 'Repositories', 'Every', 'p95 latency', 'Bound by'].map(function (t, i) {
      return h('th', { scope: 'col', 'class': i === 1 ? 'num' : null }, [t]);
    });
    var rows = PATHS.filter(function (path) { return f.members[path] > 0; }).map(function (path) {
      var p = path === 'undecided' || !d ? null : d.paths[path];
      return h('tr', { 'data-path': path }, [h('th', { scope: 'row' }, [path]), h('td', { 'class': 'num' }, [count(f.members[path])]),
        h('td', {}, [p ? p.interval : '-']), h('td', {}, [p ? p.latency : '-']),
        h('td', { 'class': 'bound' + (p && p.stretched ? ' stretched' : '') }, [p ? p.bound : ''])]);
    });
    var children = [h('h2', {}, ['Detection']), projected, h('table', {}, [h('thead', {}, [h('tr', {}, head)]), h('tbody', {}, rows)])];
    if (f.dropped > 0) children.push(h('p', { id: 'dropped' }, [count(f.dropped) + ' discovered ' + (f.dropped === 1 ? 'repository' : 'repositories') + ' dropped']));
    if (f.streams.length > 0) children.push(h('ul', {}, f.streams.map(function (s) {
      var pass = s.lastPolledAt === null ? 'no pass completed yet' : 'last pass ' + age(now - Date.parse(s.lastPolledAt)) + ' ago';
      return h('li', { 'data-scope': s.scope }, [h('strong', {}, [s.scope]), ' ' + pass, s.lastError === null ? null : ' ',
        s.lastError === null ? null : h('span', { 'class': 'error' }, [s.lastError])]);
    })));
    return h('section', { 'class': 'card', id: 'fleet' }, children);
  }
`;
