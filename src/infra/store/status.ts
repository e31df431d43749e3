/**
 * The read model behind `autosolve status` and the dashboard: what each
 * repository's poller last did, what the queue holds, the rate-limit budget
 * last seen and the latest comments. Plain Kysely queries (no SQLite-only
 * functions), so a PostgreSQL store can answer them too.
 */
import type { Kysely } from 'kysely';
import { backlogCutoff, describeBacklogPolicy, unansweredDecision, type BacklogPolicy } from '../../domain/eligibility.js';
import type { RepositoryRef, SyncCursor } from '../../domain/entities.js';
import type { DetectionPath, MemberSource } from '../../domain/fleet/types.js';
import { SqlBacklogStore } from './backlog.js';
import { COMMENTS_TOPIC } from './comment-sync.js';
import { ageSeconds, readDetection, readFleetStatus, type DetectionStatus, type FleetStatus } from './fleet-status.js';
import { SqlJobQueue } from './queue.js';
import { SqlStateStore } from './repositories.js';
import type { QueueJobState, Schema } from './schema.js';

/** Where the daemon stores the rate-limit budget it last saw (SqlStateStore key). */
export const RATE_LIMIT_STATE_KEY = 'github.rateLimit';

/** The value stored under RATE_LIMIT_STATE_KEY. */
export interface StoredRateLimit {
  readonly limit: number;
  readonly remaining: number;
  /** When the budget refills, epoch seconds (GitHub's x-ratelimit-reset). */
  readonly resetAt: number;
  /** GitHub's x-ratelimit-resource, e.g. `core`. */
  readonly resource: string;
}

export interface RateLimitStatus extends StoredRateLimit {
  /** When the daemon stored it (ISO 8601). */
  readonly seenAt: string;
}

export type QueueTotals = Record<QueueJobState, number>;

export interface RepositoryStatus {
  /** `owner/name`. */
  readonly repository: string;
  readonly owner: string;
  readonly name: string;
  /** Our database id; null for a configured repository never validated. */
  readonly id: number | null;
  readonly githubId: number | null;
  /** Listed in the configuration given to repositories(); true for every row when none was given. */
  readonly configured: boolean;
  /** `configured` (github.repositories) or `discovered` (github.organizations). */
  readonly source: MemberSource;
  /** The organisation a discovered repository was listed in; null for a configured one. */
  readonly organization: string | null;
  /** How the fleet detects its changes; null before the fleet placed it. */
  readonly detectionPath: DetectionPath | null;
  readonly validated: boolean;
  readonly validatedAt: string | null;
  /** The last poll that completed (ISO 8601), and how many whole seconds before `now` it was. */
  readonly lastPolledAt: string | null;
  readonly lastPollAgeSeconds: number | null;
  /** Set by a failed poll, cleared by the next successful one. */
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
  /** Why setup last failed for it and when (ISO 8601); null once setup passed. */
  readonly setupError: { readonly error: string; readonly at: string } | null;
  /** Where the next poll resumes; null before the first poll. */
  readonly cursor: SyncCursor | null;
  /** Stored issues (pull requests included, as GitHub's issues API lists them); `open` of those open. */
  readonly issues: { readonly stored: number; readonly open: number };
  readonly jobs: QueueTotals;
  /** Issues left out by github.issues.backlog; null unless repositories() was given the settings. */
  readonly backlog: BacklogStatus | null;
}

/** The settings that decide what is backlog (github.issues.backlog, requiredLabel, ai.dryRun). */
export interface BacklogSettings {
  readonly policy: BacklogPolicy;
  readonly requiredLabel: string | undefined;
  readonly dryRun: boolean;
}

export interface BacklogStatus {
  /** The key that changes it, and its value as written (`skip`, `answer`, `7d`). */
  readonly key: 'github.issues.backlog';
  readonly policy: string;
  /** When the repository's first poll started; null before it. */
  readonly firstSyncAt: string | null;
  /** Issues last updated before this are not answered; null when none are left out. */
  readonly cutoff: string | null;
  /** Eligible issues never answered and not queued because they are older than the cutoff. */
  readonly skipped: number;
}

export interface LatestComment {
  readonly jobId: number;
  /** The job that posted it: `answer`, or `follow-up` (a reply to a mention). */
  readonly type: string;
  /** `owner/name`. */
  readonly repository: string;
  readonly issueNumber: number | null;
  readonly issueTitle: string | null;
  readonly commentUrl: string;
  /** ISO 8601. */
  readonly finishedAt: string | null;
}

const TOPIC = 'issues';

export class StatusReader {
  constructor(private readonly db: Kysely<Schema>) {}

  /**
   * Every repository in the database, plus each of `configured` not there yet
   * (never validated). With `configured`, its order comes first and rows the
   * configuration no longer lists follow with `configured: false`, as do
   * discovered repositories. Discovered repositories that were dropped are
   * left out: fleet() counts them.
   */
  async repositories(now: Date = new Date(), configured?: readonly RepositoryRef[], backlog?: BacklogSettings): Promise<RepositoryStatus[]> {
    const [rows, issueCounts, jobCounts, setupFailures] = await Promise.all([
      this.#repositoryRows(),
      this.#issueCounts(),
      new SqlJobQueue(this.db).counts(),
      this.db.selectFrom('setup_failures').selectAll().execute(),
    ]);
    const setupErrorOf = new Map(setupFailures.map((f) => [sameKey(f), { error: f.error, at: f.failed_at }]));
    const issuesOf = new Map(issueCounts.map((c) => [c.repositoryId, { stored: c.stored, open: c.open }]));
    const backlogOf = new Map<number, BacklogStatus>();
    // Only a repository with open issues can have backlog: a large fleet of quiet
    // repositories costs no query each.
    if (backlog) for (const row of rows) backlogOf.set(row.id, await this.#backlog(row.id, row.first_synced_at, backlog, (issuesOf.get(row.id)?.open ?? 0) > 0));
    const jobsOf = new Map<number, QueueTotals>();
    for (const { repositoryId, state, count } of jobCounts) {
      const totals = jobsOf.get(repositoryId) ?? emptyTotals();
      totals[state] += count;
      jobsOf.set(repositoryId, totals);
    }
    const wanted = configured?.map((r) => sameKey(r));
    const byName = new Map(
      rows.map((row): [string, RepositoryStatus] => [
        sameKey(row),
        {
          repository: key(row),
          owner: row.owner,
          name: row.name,
          id: row.id,
          githubId: row.github_id === null ? null : Number(row.github_id),
          configured: wanted === undefined || (row.source === 'configured' && wanted.includes(sameKey(row))),
          source: row.source,
          organization: row.organization,
          detectionPath: row.detection_path,
          validated: row.validated_at !== null,
          validatedAt: row.validated_at,
          lastPolledAt: row.last_polled_at,
          lastPollAgeSeconds: ageSeconds(row.last_polled_at, now),
          // The issue poll's failure first; else the comment poll's, said as such.
          lastError: row.last_error ?? (row.comments_last_error === null ? null : `comments: ${row.comments_last_error}`),
          lastErrorAt: row.last_error === null ? row.comments_last_error_at : row.last_error_at,
          setupError: setupErrorOf.get(sameKey(row)) ?? null,
          cursor: row.page === null ? null : { since: row.since, page: row.page, etag: row.etag },
          issues: issuesOf.get(row.id) ?? { stored: 0, open: 0 },
          jobs: jobsOf.get(row.id) ?? emptyTotals(),
          backlog: backlogOf.get(row.id) ?? null,
        },
      ]),
    );
    if (configured === undefined) return [...byName.values()];
    const listed = configured.map((ref) => byName.get(sameKey(ref)) ?? neverValidated(ref, setupErrorOf.get(sameKey(ref)) ?? null, backlog));
    const unlisted = [...byName.values()].filter((r) => !r.configured);
    return [...listed, ...unlisted];
  }

  /** The fleet: members by source and detection path, dropped repositories, scope streams. */
  fleet(now: Date = new Date()): Promise<FleetStatus> {
    return readFleetStatus(this.db, now);
  }

  /** The capacity projection the daemon last stored, in words; null before a daemon made one. */
  detection(now: Date = new Date()): Promise<DetectionStatus | null> {
    return readDetection(this.db, now);
  }

  /** The budget the daemon last saw, or null before it has seen one. */
  async rateLimit(): Promise<RateLimitStatus | null> {
    const stored = await new SqlStateStore(this.db).get<Partial<StoredRateLimit>>(RATE_LIMIT_STATE_KEY);
    if (!stored) return null;
    const { limit, remaining, resetAt, resource } = stored.value;
    // A value of another shape (an older build's) is as good as none.
    if (typeof limit !== 'number' || typeof remaining !== 'number' || typeof resetAt !== 'number') return null;
    return { limit, remaining, resetAt, resource: typeof resource === 'string' ? resource : 'core', seenAt: stored.updatedAt };
  }

  /** Comments the daemon posted, newest first. */
  async latestComments(limit = 10): Promise<LatestComment[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .innerJoin('repositories', 'repositories.id', 'jobs.repository_id')
      .leftJoin('issues', 'issues.github_id', 'jobs.issue_github_id')
      .select([
        'jobs.id as job_id',
        'jobs.type',
        'jobs.comment_url',
        'jobs.finished_at',
        'repositories.owner',
        'repositories.name',
        'issues.number as issue_number',
        'issues.title as issue_title',
      ])
      .where('jobs.state', '=', 'done')
      .where('jobs.outcome', '=', 'answered')
      .where('jobs.comment_url', 'is not', null)
      .orderBy('jobs.finished_at', 'desc')
      .orderBy('jobs.id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      jobId: row.job_id,
      type: row.type,
      repository: key(row),
      issueNumber: row.issue_number,
      issueTitle: row.issue_title,
      commentUrl: row.comment_url ?? '',
      finishedAt: row.finished_at,
    }));
  }

  /** Queue jobs by type (answer, revise, follow-up) and state, all repositories together; types in name order. */
  async queueByType(): Promise<Record<string, QueueTotals>> {
    const rows = await this.db
      .selectFrom('jobs')
      .select(['type', 'state', (eb) => eb.fn.countAll().as('count')])
      .groupBy(['type', 'state'])
      .orderBy('type')
      .execute();
    const byType: Record<string, QueueTotals> = {};
    for (const row of rows) {
      const totals = (byType[row.type] ??= emptyTotals());
      if (row.state in totals) totals[row.state] += Number(row.count);
    }
    return byType;
  }

  /** Queue jobs by state, all repositories together. */
  async queue(): Promise<QueueTotals> {
    const rows = await this.db
      .selectFrom('jobs')
      .select(['state', (eb) => eb.fn.countAll().as('count')])
      .groupBy('state')
      .execute();
    const totals = emptyTotals();
    for (const row of rows) if (row.state in totals) totals[row.state] += Number(row.count);
    return totals;
  }

  #repositoryRows() {
    return this.db
      .selectFrom('repositories')
      .leftJoin('sync_cursors', (join) =>
        join.onRef('sync_cursors.repository_id', '=', 'repositories.id').on('sync_cursors.topic', '=', TOPIC),
      )
      // The comment poller's own cursor row: its failure shows where the issue poll's would.
      .leftJoin('sync_cursors as comments', (join) =>
        join.onRef('comments.repository_id', '=', 'repositories.id').on('comments.topic', '=', COMMENTS_TOPIC),
      )
      .select([
        'repositories.id',
        'repositories.owner',
        'repositories.name',
        'repositories.github_id',
        'repositories.validated_at',
        'repositories.first_synced_at',
        'repositories.source',
        'repositories.organization',
        'repositories.detection_path',
        'sync_cursors.since',
        'sync_cursors.page',
        'sync_cursors.etag',
        'sync_cursors.last_polled_at',
        'sync_cursors.last_error',
        'sync_cursors.last_error_at',
        'comments.last_error as comments_last_error',
        'comments.last_error_at as comments_last_error_at',
      ])
      .where((eb) => eb.or([eb('repositories.source', '=', 'configured'), eb('repositories.dropped_at', 'is', null)]))
      .orderBy('repositories.owner')
      .orderBy('repositories.name')
      .execute();
  }

  async #backlog(repositoryId: number, firstSyncAt: string | null, settings: BacklogSettings, hasOpen: boolean): Promise<BacklogStatus> {
    const cutoff = firstSyncAt === null ? null : backlogCutoff(settings.policy, firstSyncAt);
    let skipped = 0;
    if (cutoff && hasOpen) {
      const unanswered = await new SqlBacklogStore(this.db).unanswered(repositoryId);
      skipped = unanswered.filter((entry) => unansweredDecision(entry, cutoff, settings.requiredLabel, settings.dryRun) === 'backlog').length;
    }
    return { key: 'github.issues.backlog', policy: describeBacklogPolicy(settings.policy), firstSyncAt, cutoff: cutoff?.toISOString() ?? null, skipped };
  }

  async #issueCounts(): Promise<Array<{ repositoryId: number; stored: number; open: number }>> {
    const rows = await this.db
      .selectFrom('issues')
      .select((eb) => [
        'repository_id',
        eb.fn.countAll().as('stored'),
        eb.fn.sum(eb.case().when('state', '=', 'open').then(1).else(0).end()).as('open'),
      ])
      .groupBy('repository_id')
      .execute();
    // PostgreSQL returns count and sum as bigint text: Number() for both backends.
    return rows.map((r) => ({ repositoryId: r.repository_id, stored: Number(r.stored), open: Number(r.open) }));
  }
}

function emptyTotals(): QueueTotals {
  return { pending: 0, running: 0, done: 0, dead: 0 };
}

function key(repo: RepositoryRef): string {
  return `${repo.owner}/${repo.name}`;
}

/** GitHub's names are case-insensitive: `ACME/API` in the configuration is the row `acme/api`. */
function sameKey(repo: RepositoryRef): string {
  return key(repo).toLowerCase();
}

function neverValidated(ref: RepositoryRef, setupError: RepositoryStatus['setupError'], backlog: BacklogSettings | undefined): RepositoryStatus {
  return {
    repository: key(ref),
    owner: ref.owner,
    name: ref.name,
    id: null,
    githubId: null,
    configured: true,
    source: 'configured',
    organization: null,
    detectionPath: null,
    validated: false,
    validatedAt: null,
    lastPolledAt: null,
    lastPollAgeSeconds: null,
    lastError: null,
    lastErrorAt: null,
    setupError,
    cursor: null,
    issues: { stored: 0, open: 0 },
    jobs: emptyTotals(),
    backlog: backlog ? { key: 'github.issues.backlog', policy: describeBacklogPolicy(backlog.policy), firstSyncAt: null, cutoff: null, skipped: 0 } : null,
  };
}
