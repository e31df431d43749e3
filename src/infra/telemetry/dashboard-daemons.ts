/**
 * The dashboard's daemons card: every daemon registered on the database (on
 * PostgreSQL, several share the fleet), how old its heartbeat is, how many
 * work units it holds and which, a stale one marked; and the fleet's totals.
 * The server renderer and the client script's `daemons()` sit side by side
 * here so they stay in step; every string is escaped by the server and set as
 * a text node by the script.
 */
import { age, count, escapeHtml } from './dashboard-text.js';

export interface DashboardDaemons {
  /** Oldest first. */
  daemons: Array<{
    /** The instance id. */
    id: string;
    host: string;
    pid: number;
    version: string;
    /** ISO 8601; the page shows its age relative to the snapshot. */
    heartbeatAt: string;
    /** False once the heartbeat is older than the stale limit (30 s). */
    live: boolean;
    /** Work units held under a running lease. */
    leases: number;
    /** The first few of them, sorted. */
    units: string[];
  }>;
  /** Null on a database without work leases. */
  units: { total: number; held: number; orphaned: number } | null;
  /** The `repo:<id>` units among them. Null as `units`. */
  repositories: { total: number; held: number } | null;
}

const plural = (n: number, one: string, many: string) => `${count(n)} ${n === 1 ? one : many}`;

/** Same as the script's `daemonTotals()`. */
function totals(d: DashboardDaemons): string {
  const live = d.daemons.filter((daemon) => daemon.live).length;
  let text = `${plural(d.daemons.length, 'daemon', 'daemons')}, ${count(live)} live`;
  if (d.units) text += ` · ${plural(d.units.total, 'work unit', 'work units')}, ${count(d.units.held)} held, ${count(d.units.orphaned)} waiting for a daemon`;
  if (d.repositories) text += ` · ${plural(d.repositories.total, 'repository', 'repositories')}, ${count(d.repositories.held)} held`;
  return text;
}

/** The units named, with … when it holds more than are named. Same as the script's `heldUnits()`. */
function heldUnits(daemon: DashboardDaemons['daemons'][number], leased: boolean): string {
  if (!leased) return '-';
  return daemon.units.join(', ') + (daemon.leases > daemon.units.length ? ', …' : '');
}

const HEAD = ['Host', 'PID', 'Version', 'Heartbeat', 'Leases', 'Units'];
const NUMERIC = new Set(['PID', 'Leases']);

/** Same as the script's `daemons()`. */
export function renderDaemons(d: DashboardDaemons | null | undefined, now: number): string {
  if (!d) return '';
  if (d.daemons.length === 0) {
    const waiting = d.units && d.units.total > 0 ? `; ${plural(d.units.total, 'work unit', 'work units')} waiting for a daemon` : '';
    return `<section class="card" id="daemons"><h2>Daemons</h2><p class="muted">no daemon running${waiting}</p></section>`;
  }
  const leased = d.units !== null;
  const rows = d.daemons.map((daemon) => {
    const stale = daemon.live ? '' : ' <span class="badge warn">stale</span>';
    return (
      `<tr data-daemon="${escapeHtml(daemon.id)}"${daemon.live ? '' : ' class="stale"'}><th scope="row">${escapeHtml(daemon.host)}</th>` +
      `<td class="num">${daemon.pid}</td><td>${escapeHtml(daemon.version)}</td>` +
      `<td><time datetime="${escapeHtml(daemon.heartbeatAt)}">${age(now - Date.parse(daemon.heartbeatAt))}</time> ago${stale}</td>` +
      `<td class="num">${leased ? count(daemon.leases) : '-'}</td><td class="units">${escapeHtml(heldUnits(daemon, leased))}</td></tr>`
    );
  });
  const head = HEAD.map((title) => `<th scope="col"${NUMERIC.has(title) ? ' class="num"' : ''}>${title}</th>`).join('');
  return (
    `<section class="card" id="daemons"><h2>Daemons</h2><p class="muted" id="daemon-totals">${escapeHtml(totals(d))}</p>` +
    `<table><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></section>`
  );
}

/** The card's rules, appended to the page's stylesheet. */
export const DAEMONS_STYLE = `
#daemons table{margin:4px 0 0}#daemons p{margin:4px 0}#daemons tr.stale th,#daemons tr.stale td{color:var(--muted)}
#daemons td.units{white-space:normal;overflow-wrap:anywhere;min-width:200px}#daemons .badge{margin-left:6px}
`;

/** Goes inside the dashboard's client script, which defines h(), age() and count(). Plain ES2017, no `$`. */
export const DAEMONS_CLIENT_SCRIPT = `
  function plural(n, one, many) { return count(n) + ' ' + (n === 1 ? one : many); }
  function daemonTotals(d) {
    var live = d.daemons.filter(function (x) { return x.live; }).length;
    var text = plural(d.daemons.length, 'daemon', 'daemons') + ', ' + count(live) + ' live';
    if (d.units) text += ' · ' + plural(d.units.total, 'work unit', 'work units') + ', ' + count(d.units.held) + ' held, ' + count(d.units.orphaned) + ' waiting for a daemon';
    if (d.repositories) text += ' · ' + plural(d.repositories.total, 'repository', 'repositories') + ', ' + count(d.repositories.held) + ' held';
    return text;
  }
  function heldUnits(x, leased) {
    if (!leased) return '-';
    return x.units.join(', ') + (x.leases > x.units.length ? ', …' : '');
  }
  function daemons(d, now) {
    if (!d) return null;
    var title = h('h2', {}, ['Daemons']);
    if (d.daemons.length === 0) {
      var waiting = d.units && d.units.total > 0 ? '; ' + plural(d.units.total, 'work unit', 'work units') + ' waiting for a daemon' : '';
      return h('section', { 'class': 'card', id: 'daemons' }, [title, h('p', { 'class': 'muted' }, ['no daemon running' + waiting])]);
    }
    var leased = d.units !== null;
    var head = ['Host', 'PID', 'Version', 'Heartbeat', 'Leases', 'Units'].map(function (t) {
      return h('th', { scope: 'col', 'class': t === 'PID' || t === 'Leases' ? 'num' : null }, [t]);
    });
    var rows = d.daemons.map(function (x) {
      return h('tr', { 'data-daemon': x.id, 'class': x.live ? null : 'stale' }, [h('th', { scope: 'row' }, [x.host]),
        h('td', { 'class': 'num' }, [String(x.pid)]), h('td', {}, [x.version]),
        h('td', {}, [h('time', { datetime: x.heartbeatAt }, [age(now - Date.parse(x.heartbeatAt))]), ' ago',
          x.live ? null : ' ', x.live ? null : h('span', { 'class': 'badge warn' }, ['stale'])]),
        h('td', { 'class': 'num' }, [leased ? count(x.leases) : '-']), h('td', { 'class': 'units' }, [heldUnits(x, leased)])]);
    });
    return h('section', { 'class': 'card', id: 'daemons' }, [title, h('p', { 'class': 'muted', id: 'daemon-totals' }, [daemonTotals(d)]),
      h('table', {}, [h('thead', {}, [h('tr', {}, head)]), h('tbody', {}, rows)])]);
  }
`;
