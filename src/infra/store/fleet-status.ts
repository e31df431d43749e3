/**
 * The fleet's part of `autosolve status`: members by source and detection
 * path, the discovered repositories dropped, and each scope stream's cursor.
 * Counts come from grouped queries, so 10,000 members cost what ten do.
 */
import type { Kysely } from 'kysely';
import type { SyncCursor } from '../../domain/entities.js';
import type { DetectionPath, MemberSource } from '../../domain/fleet/types.js';
import type { Schema } from './schema.js';

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

export function ageSeconds(iso: string | null, now: Date): number | null {
  if (iso === null) return null;
  const then = Date.parse(iso);
  return Number.isNaN(then) ? null : Math.max(0, Math.floor((now.getTime() - then) / 1000));
}
