/**
 * The `daemons` section of `autosolve status`: which daemons are registered,
 * how old their heartbeats are, how many work units each holds, and the
 * fleet's totals. One daemon (the SQLite case) is one line; none is said so.
 */
import { INSTANCE_STALE_MS } from '../composition/instance-heartbeat.js';
import type { DaemonStatus, DaemonsStatus } from '../infra/store/index.js';
import { ago, count, fit, number, pad } from './status-text.js';

/** The gutter every status label sits in (`daemons     `). */
const GUTTER = 12;

/** What `status --json` says under `daemons`: the reader's answer and the rule that marks a daemon stale. */
export function daemonsJson(status: DaemonsStatus) {
  return { staleAfterSeconds: INSTANCE_STALE_MS / 1000, ...status };
}

/**
 * The section's lines, each at most `width` columns: a host name too long
 * is cut, never the heartbeat or the `(stale)` mark at the end.
 */
export function describeDaemons(status: DaemonsStatus, now: Date, width: number): string[] {
  const { daemons, units } = status;
  const label = 'daemons'.padEnd(GUTTER);
  const indent = ' '.repeat(GUTTER);
  if (daemons.length === 0) {
    const waiting = units && units.total > 0 ? `; ${workUnits(units.total)} waiting for a daemon` : '';
    return [`${label}no daemon running${waiting}`];
  }
  const [only] = daemons;
  if (daemons.length === 1 && only) return [label + oneDaemon(only, status, now, width - GUTTER)];
  const live = daemons.filter((d) => d.live).length;
  const totals =
    `${count(daemons.length, 'daemon', 'daemons')}, ${number(live)} live` +
    (units ? `; ${workUnits(units.total)}, ${number(units.held)} held, ${number(units.orphaned)} waiting for a daemon` : '');
  const rows = daemonRows(daemons, units !== null, now, width - GUTTER);
  return [...rows.map((row, i) => (i === 0 ? label : indent) + row), indent + totals];
}

/** `alpha, pid 101, 1.4.0, heartbeat 2s ago, holds all 12 work units`: the SQLite case, where one daemon holds everything. */
function oneDaemon(daemon: DaemonStatus, { units }: DaemonsStatus, now: Date, room: number): string {
  let holds = '';
  if (units) {
    const all = daemon.leases === units.total && units.total > 0;
    holds = all ? `, holds all ${workUnits(units.total)}` : `, holds ${number(daemon.leases)} of ${workUnits(units.total)}`;
    if (!all && units.orphaned > 0) holds += `, ${number(units.orphaned)} waiting`;
  }
  const rest = `, pid ${daemon.pid}, ${daemon.version}, heartbeat ${ago(daemon.heartbeatAt, now)}${stale(daemon)}${holds}`;
  return fit(daemon.host, Math.max(1, room - [...rest].length)) + rest;
}

/** One aligned row per daemon: host, pid, version, heartbeat, leases, then `(stale)`. */
function daemonRows(daemons: readonly DaemonStatus[], withLeases: boolean, now: Date, room: number): string[] {
  // The lease counts right-aligned, so their digits line up.
  const digits = Math.max(...daemons.map((d) => number(d.leases).length));
  const leases = (n: number) => `${pad(number(n), digits, true)} ${n === 1 ? 'lease' : 'leases'}`;
  const rows = daemons.map((d) => ({
    host: d.host,
    cells: [`pid ${d.pid}`, d.version, `heartbeat ${ago(d.heartbeatAt, now)}`, ...(withLeases ? [leases(d.leases)] : [])],
    mark: stale(d),
  }));
  const widths = (rows[0]?.cells ?? []).map((_, i) => Math.max(...rows.map((row) => [...(row.cells[i] ?? '')].length)));
  const marks = Math.max(...rows.map((row) => row.mark.length));
  // Two spaces between columns; what is left is the host's (a long host name is cut, not the mark).
  const host = Math.max(1, Math.min(Math.max(...rows.map((row) => [...row.host].length)), room - marks - widths.reduce((sum, w) => sum + 2 + w, 0)));
  return rows.map((row) => {
    const cells = row.cells.map((cell, i) => pad(cell, widths[i] ?? 0));
    return ([pad(fit(row.host, host), host), ...cells].join('  ') + row.mark).trimEnd();
  });
}

function stale(daemon: DaemonStatus): string {
  return daemon.live ? '' : ' (stale)';
}

function workUnits(n: number): string {
  return count(n, 'work unit', 'work units');
}
