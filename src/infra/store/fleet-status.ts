/**
 * The fleet's part of `autosolve status`: members by source and detection
 * path, the discovered repositories dropped, each scope stream's cursor, and
 * the capacity projection the daemon stored (how fast each path detects and
 * what bounds it). Counts come from grouped queries, so 10,000 members cost
 * what ten do.
 */
import type { Kysely } from 'kysely';
import type { SyncCursor } from '../../domain/entities.js';
import { CAPACITY_BOUNDS, describeLatency, type Capacity, type CapacityBound, type PathCapacity } from '../../domain/fleet/capacity.js';
import { DETECTION_PATHS, type DetectionPath, type MemberSource } from '../../domain/fleet/types.js';
import { SqlStateStore } from './repositories.js';
import type { Schema } from './schema.js';

/** Where the daemon keeps its latest capacity projection (SqlStateStore key). */
export const FLEET_CAPACITY_STATE_KEY = 'fleet.capacity';

/** The value stored under FLEET_CAPACITY_STATE_KEY. */
export interface StoredCapacity extends Capacity {
  readonly projectedAt: string;
  /** Why the members of each path are on it (one member's reason per path). */
  readonly reasons: Partial<Record<DetectionPath, string>>;
}

/** The stored projection as `status` and the dashboard show it. */
export interface DetectionStatus {
  /** When the daemon made it (ISO 8601), and how many whole seconds before `now`. */
  readonly projectedAt: string;
  readonly projectionAgeSeconds: number | null;
  readonly paths: Readonly<Record<DetectionPath, PathDetection>>;
  /** How often stream-path members are reconciled by a sweep, at the most. */
  readonly reconcileIntervalMs: number;
  readonly idlePerHour: Capacity['idlePerHour'];
}

export interface PathDetection extends PathCapacity {
  /** intervalMs and latencyMs as `status` writes them: `57 s`, `4.2 min`. */
  readonly interval: string;
  readonly latency: string;
  /** What bounds the interval, in words, with the setting that would change it. */
  readonly bound: string;
  /** Why its members are on this path; null when none was recorded. */
  readonly reason: string | null;
}

export interface FleetStatus {
  readonly members: {
    readonly total: number;
    readonly bySource: Record<MemberSource, number>;
    /** `undecided`: members the fleet has not placed yet (recordPaths never ran for them). */
    readonly byPath: Record<DetectionPath | 'undecided', number>;
  };
  readonly dropped: {
    readonly count: number;
    /** The most recently dropped, newest first. */
    readonly latest: readonly DroppedRepository[];
  };
  /** One per scope stream (`org:acme`, `user`), by key. */
  readonly scopes: readonly ScopeStatus[];
}

export interface DroppedRepository {
  /** `owner/name`. */
  readonly repository: string;
  readonly organization: string | null;
  /** ISO 8601. */
  readonly droppedAt: string;
  readonly reason: string | null;
}

export interface ScopeStatus {
  readonly scope: string;
  readonly cursor: SyncCursor;
  /** The last pass that completed (ISO 8601), and how many whole seconds before `now` it was. */
  readonly lastPolledAt: string | null;
  readonly lastPollAgeSeconds: number | null;
  /** Set by a failed pass, cleared by the next one that completes. */
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
}

/** How many of the latest dropped repositories `status` names. */
export const LATEST_DROPPED = 5;

export async function readFleetStatus(db: Kysely<Schema>, now: Date): Promise<FleetStatus> {
  const [groups, droppedCount, latest, scopes] = await Promise.all([
    db
      .selectFrom('repositories')
      .select((eb) => ['source', 'detection_path', eb.fn.countAll().as('count')])
      // A member, as SqlFleetStore.members() says.
      .where((eb) =>
        eb.or([
          eb.and([eb('source', '=', 'configured'), eb('validated_at', 'is not', null)]),
          eb.and([eb('source', '=', 'discovered'), eb('dropped_at', 'is', null)]),
        ]),
      )
      .groupBy(['source', 'detection_path'])
      .execute(),
    db
      .selectFrom('repositories')
      .select((eb) => eb.fn.countAll().as('count'))
      .where('source', '=', 'discovered')
      .where('dropped_at', 'is not', null)
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('repositories')
      .select(['owner', 'name', 'organization', 'dropped_at', 'drop_reason'])
      .where('source', '=', 'discovered')
      .where('dropped_at', 'is not', null)
      .orderBy('dropped_at', 'desc')
      .orderBy('id', 'desc')
      .limit(LATEST_DROPPED)
      .execute(),
    db.selectFrom('scope_cursors').selectAll().orderBy('scope').execute(),
  ]);
  const bySource: Record<MemberSource, number> = { configured: 0, discovered: 0 };
  const byPath: Record<DetectionPath | 'undecided', number> = { walk: 0, stream: 0, sweep: 0, undecided: 0 };
  for (const group of groups) {
    // PostgreSQL returns count as bigint text: Number() for both backends.
    const count = Number(group.count);
    bySource[group.source] += count;
    byPath[group.detection_path ?? 'undecided'] += count;
  }
  return {
    members: { total: bySource.configured + bySource.discovered, bySource, byPath },
    dropped: {
      count: Number(droppedCount.count),
      latest: latest.map((row) => ({
        repository: `${row.owner}/${row.name}`,
        organization: row.organization,
        droppedAt: row.dropped_at ?? '',
        reason: row.drop_reason,
      })),
    },
    scopes: scopes.map((row) => ({
      scope: row.scope,
      cursor: { since: row.since, page: row.page, etag: row.etag },
      lastPolledAt: row.last_polled_at,
      lastPollAgeSeconds: ageSeconds(row.last_polled_at, now),
      lastError: row.last_error,
      lastErrorAt: row.last_error_at,
    })),
  };
}

/**
 * The projection the daemon last stored, in words; null when there is none (a
 * daemon that never ran, or a database from before the fleet) or it has a
 * shape this build does not know.
 */
export async function readDetection(db: Kysely<Schema>, now: Date): Promise<DetectionStatus | null> {
  const stored = await new SqlStateStore(db).get<unknown>(FLEET_CAPACITY_STATE_KEY);
  if (!stored || !isStoredCapacity(stored.value)) return null;
  const capacity = stored.value;
  const reasons = typeof capacity.reasons === 'object' && capacity.reasons !== null ? capacity.reasons : {};
  const paths = Object.fromEntries(
    DETECTION_PATHS.map((path): [DetectionPath, PathDetection] => {
      const { members, intervalMs, latencyMs, boundBy } = capacity.paths[path];
      const reason = reasons[path];
      return [
        path,
        {
          members,
          intervalMs,
          latencyMs,
          boundBy,
          interval: describeLatency(intervalMs),
          latency: describeLatency(latencyMs),
          bound: describeBound(path, boundBy),
          reason: typeof reason === 'string' ? reason : null,
        },
      ];
    }),
  ) as Record<DetectionPath, PathDetection>;
  return {
    projectedAt: capacity.projectedAt,
    projectionAgeSeconds: ageSeconds(capacity.projectedAt, now),
    paths,
    reconcileIntervalMs: capacity.reconcileIntervalMs,
    idlePerHour: capacity.idlePerHour,
  };
}

/**
 * What bounds a path's interval, for an operator: the limit in GitHub's
 * words and the setting that moves it (docs/github-rate-limits.md has the
 * arithmetic). Raising a budget towards GitHub's limit leaves less of it to
 * the token's other users, hence "or lower the fleet".
 */
export function describeBound(path: DetectionPath, bound: CapacityBound): string {
  switch (bound) {
    case 'interval':
      return 'set by github.issues.parseInterval: it fits every budget';
    case 'rest-points':
      return "bound by GitHub's REST points a minute: raise github.rateLimit.pointsPerMinute (GitHub allows 900) or lower the fleet";
    case 'graphql-points':
      return "bound by GitHub's GraphQL points a minute: raise github.rateLimit.graphqlPointsPerMinute (GitHub allows 2,000) or lower the fleet";
    case 'graphql-primary':
      return "bound by GitHub's GraphQL budget of 5,000 points an hour: lower the fleet, or list its organisations under github.organizations to stream them";
    case 'cpu-time':
      return `bound by GitHub's ${path === 'walk' ? 'server time for REST requests' : 'GraphQL server time'}: raise github.rateLimit.cpuPerMinute (GitHub allows 90 s) or lower the fleet`;
    case 'min-interval':
      return 'bound by github.rateLimit.minInterval, the least gap between two requests: lower it';
  }
}

/** A value of another shape (an older or newer build's) is as good as none. */
function isStoredCapacity(value: unknown): value is StoredCapacity {
  if (typeof value !== 'object' || value === null) return false;
  const capacity = value as Partial<Record<keyof StoredCapacity, unknown>>;
  const idle = capacity.idlePerHour as Partial<Record<string, unknown>> | null | undefined;
  const paths = capacity.paths as Partial<Record<DetectionPath, Partial<Record<keyof PathCapacity, unknown>> | null>> | null | undefined;
  const numbers = (record: Partial<Record<string, unknown>>, keys: readonly string[]) => keys.every((key) => typeof record[key] === 'number');
  return (
    typeof capacity.projectedAt === 'string' &&
    typeof capacity.reconcileIntervalMs === 'number' &&
    typeof idle === 'object' &&
    idle !== null &&
    numbers(idle, ['restPrimary', 'restRequests', 'graphqlPoints']) &&
    typeof paths === 'object' &&
    paths !== null &&
    DETECTION_PATHS.every((path) => {
      const p = paths[path];
      return typeof p === 'object' && p !== null && numbers(p, ['members', 'intervalMs', 'latencyMs']) && (CAPACITY_BOUNDS as readonly unknown[]).includes(p.boundBy);
    })
  );
}

export function ageSeconds(iso: string | null, now: Date): number | null {
  if (iso === null) return null;
  const then = Date.parse(iso);
  return Number.isNaN(then) ? null : Math.max(0, Math.floor((now.getTime() - then) / 1000));
}
