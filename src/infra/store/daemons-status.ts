/**
 * The daemons' part of `autosolve status` and the dashboard: every registered
 * daemon (instance) with its heartbeat's age and the work units it holds, and
 * the fleet's totals (units held, units waiting for a daemon). One query reads
 * the instances, one the leases, grouped by holder with a window, so three
 * daemons and 10,000 units cost what one daemon and ten do.
 */
import { sql, type Kysely } from 'kysely';
import { tableExists } from './engine.js';
import { ageSeconds } from './fleet-status.js';
import type { InstanceRecord } from './instances.js';
import type { Schema } from './schema.js';

/** How many of a daemon's units are named, for a glance (`leases` counts them all). */
export const DAEMON_UNITS_SHOWN = 5;

/** A registered daemon (its id, host, pid, version, start and last heartbeat) as status shows it. */
export interface DaemonStatus extends InstanceRecord {
  /** Whole seconds from the last heartbeat to `now` (0 when the clocks disagree the other way). */
  readonly heartbeatAgeSeconds: number;
  /** False once the heartbeat is older than `staleAfterMs`: the daemon is gone or stuck, its row not removed yet. */
  readonly live: boolean;
  /** Work units it holds under a lease that has not run out. */
  readonly leases: number;
  /** The first DAEMON_UNITS_SHOWN of them, sorted. */
  readonly units: readonly string[];
}

export interface DaemonsStatus {
  /** Oldest first. */
  readonly daemons: readonly DaemonStatus[];
  /** Null on a database without work leases (before migration 010): the daemons show, their leases do not. */
  readonly units: {
    readonly total: number;
    readonly held: number;
    /** Expired or unowned: waiting for a daemon to take them at its next heartbeat. */
    readonly orphaned: number;
  } | null;
  /** The `repo:<id>` units among them: the fleet members walked and swept. Null as `units`. */
  readonly repositories: { readonly total: number; readonly held: number } | null;
}

export interface DaemonsStatusOptions {
  /** A heartbeat older than this marks a daemon stale (the registry's INSTANCE_STALE_MS). */
  readonly staleAfterMs: number;
}

interface Holding {
  readonly units: number;
  readonly repositories: number;
  readonly sample: string[];
}

export async function readDaemons(db: Kysely<Schema>, now: Date, options: DaemonsStatusOptions): Promise<DaemonsStatus> {
  const [instances, holdings] = await Promise.all([readInstances(db), readHoldings(db, now)]);
  const daemons = instances.map((row): DaemonStatus => {
    const held = holdings?.get(row.id);
    return {
      id: row.id,
      host: row.host,
      pid: Number(row.pid),
      version: row.version,
      startedAt: row.started_at,
      heartbeatAt: row.heartbeat_at,
      heartbeatAgeSeconds: ageSeconds(row.heartbeat_at, now) ?? 0,
      live: now.getTime() - Date.parse(row.heartbeat_at) < options.staleAfterMs,
      leases: held?.units ?? 0,
      units: held?.sample ?? [],
    };
  });
  if (!holdings) return { daemons, units: null, repositories: null };
  let total = 0;
  let held = 0;
  let repositories = 0;
  let repositoriesHeld = 0;
  for (const [holder, holding] of holdings) {
    total += holding.units;
    repositories += holding.repositories;
    if (holder === null) continue;
    held += holding.units;
    repositoriesHeld += holding.repositories;
  }
  return { daemons, units: { total, held, orphaned: total - held }, repositories: { total: repositories, held: repositoriesHeld } };
}

async function readInstances(db: Kysely<Schema>) {
  // Before the registry's migration (004) no daemon was ever recorded.
  if (!(await tableExists(db, 'instances'))) return [];
  return db.selectFrom('instances').selectAll().orderBy('started_at').orderBy('id').execute();
}

/**
 * Units per holder (null: nobody holds them: free, or their lease ran out),
 * with each holder's first units. A lease whose owner is set but expired is
 * not held: another daemon takes it at its next heartbeat.
 */
async function readHoldings(db: Kysely<Schema>, now: Date): Promise<Map<string | null, Holding> | null> {
  if (!(await tableExists(db, 'work_leases'))) return null;
  const at = now.toISOString();
  const leased = db
    .selectFrom('work_leases')
    .select(['unit', sql<string | null>`CASE WHEN owner IS NOT NULL AND expires_at > ${at} THEN owner END`.as('holder')]);
  const ranked = db
    .selectFrom(leased.as('leased'))
    .select([
      'holder',
      'unit',
      sql<number>`row_number() OVER (PARTITION BY holder ORDER BY unit)`.as('place'),
      sql<number>`count(*) OVER (PARTITION BY holder)`.as('units'),
      sql<number>`sum(CASE WHEN unit LIKE 'repo:%' THEN 1 ELSE 0 END) OVER (PARTITION BY holder)`.as('repositories'),
    ]);
  const rows = await db.selectFrom(ranked.as('ranked')).selectAll().where('place', '<=', DAEMON_UNITS_SHOWN).execute();
  const holdings = new Map<string | null, Holding>();
  for (const row of rows) {
    const holding = holdings.get(row.holder) ?? { units: Number(row.units), repositories: Number(row.repositories), sample: [] };
    holding.sample.push(row.unit);
    holdings.set(row.holder, holding);
  }
  // The engines' collations differ (PostgreSQL's may follow the locale); the glance reads the same on both.
  for (const holding of holdings.values()) holding.sample.sort();
  return holdings;
}
