/**
 * The durable dispatch queue: rows in the same database as the issues, so the
 * poller enqueues inside its sync transaction. Atomic claim with a visibility
 * timeout, bounded attempts with backoff, a dead state, and a manual retry.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { DispatchQueue, JobOutcome, QueueJob } from '../../domain/ports.js';
import type { JobsTable, QueueJobState, Schema } from './schema.js';

/** Outcomes after which an issue is never dispatched again. */
export const HANDLED_OUTCOMES: readonly JobOutcome[] = ['answered', 'already-answered'];

export interface QueueOptions {
  /** Delay before the second attempt; doubles each attempt, capped at `maxRetryDelayMs`. Default 60 s. */
  readonly retryDelayMs?: number;
  /** Default 1 h. */
  readonly maxRetryDelayMs?: number;
  readonly now?: () => Date;
}

export interface QueueJobRecord {
  readonly id: number;
  readonly type: string;
  readonly repository: string;
  readonly issueNumber: number | null;
  readonly issueTitle: string | null;
  readonly issueGithubId: number;
  readonly state: QueueJobState;
  readonly attempts: number;
  readonly maxAttempts: number;
  /** Releases after backend failures on this job alone; dead at the dispatcher's bound. */
  readonly releases: number;
  readonly runAfter: string;
  readonly lockedUntil: string | null;
  readonly lastError: string | null;
  readonly outcome: string | null;
  readonly commentUrl: string | null;
  readonly payload: unknown;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
}

export class SqlJobQueue implements DispatchQueue {
  readonly #now: () => Date;
  readonly #retryDelayMs: number;
  readonly #maxRetryDelayMs: number;

  constructor(
    private readonly db: Kysely<Schema>,
    options: QueueOptions = {},
  ) {
    this.#now = options.now ?? (() => new Date());
    this.#retryDelayMs = options.retryDelayMs ?? 60_000;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 3_600_000;
  }

  async claim(type: string, limit: number, visibilityMs: number): Promise<QueueJob[]> {
    const now = this.#now();
    const nowText = now.toISOString();
    const token = randomUUID();
    // One statement: select the visible jobs and take them, so two claimers never
    // get the same row. A running job whose claim expired is visible again.
    // Each kind of visible row is found through its own partial index.
    const pending = this.db
      .selectFrom('jobs')
      .select(['id', 'run_after'])
      .where('type', '=', type)
      .where('state', '=', 'pending')
      .where('run_after', '<=', nowText)
      .orderBy('run_after')
      .orderBy('id')
      .limit(limit);
    const expired = this.db
      .selectFrom('jobs')
      .select(['id', 'run_after'])
      .where('type', '=', type)
      .where('state', '=', 'running')
      .where('locked_until', '<=', nowText)
      .orderBy('locked_until')
      .limit(limit);
    const candidates = this.db
      .selectFrom(pending.as('pending'))
      .selectAll()
      .unionAll(this.db.selectFrom(expired.as('expired')).selectAll());
    const rows = await this.db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'running',
        attempts: eb('attempts', '+', 1),
        locked_until: new Date(now.getTime() + visibilityMs).toISOString(),
        locked_by: token,
        updated_at: nowText,
      }))
      .where('id', 'in', this.db.selectFrom(candidates.as('visible')).select('id').orderBy('run_after').orderBy('id').limit(limit))
      .returningAll()
      .execute();
    return rows.map(toQueueJob);
  }

  async complete(job: QueueJob, result: { readonly outcome: JobOutcome; readonly commentUrl?: string }): Promise<void> {
    const now = this.#now().toISOString();
    await this.#ownRow(job)
      .set({
        state: 'done',
        outcome: result.outcome,
        comment_url: result.commentUrl ?? null,
        locked_until: null,
        locked_by: null,
        last_error: null,
        updated_at: now,
        finished_at: now,
      })
      .execute();
  }

  async release(job: QueueJob, delayMs: number): Promise<void> {
    const now = this.#now();
    await this.#ownRow(job)
      .set((eb) => ({
        state: 'pending',
        attempts: eb('attempts', '-', 1),
        run_after: new Date(now.getTime() + delayMs).toISOString(),
        locked_until: null,
        locked_by: null,
        updated_at: now.toISOString(),
      }))
      .execute();
  }

  async fail(job: QueueJob, error: string): Promise<'retrying' | 'dead'> {
    const now = this.#now();
    const dead = job.attempts >= job.maxAttempts;
    const delay = Math.min(this.#retryDelayMs * 2 ** Math.max(0, job.attempts - 1), this.#maxRetryDelayMs);
    await this.#ownRow(job)
      .set({
        state: dead ? 'dead' : 'pending',
        last_error: error.slice(0, 4000),
        run_after: new Date(now.getTime() + (dead ? 0 : delay)).toISOString(),
        locked_until: null,
        locked_by: null,
        updated_at: now.toISOString(),
        finished_at: dead ? now.toISOString() : null,
      })
      .execute();
    return dead ? 'dead' : 'retrying';
  }

  async releaseCounted(job: QueueJob, error: string, maxReleases: number): Promise<{ state: 'released' | 'dead'; releases: number }> {
    const now = this.#now().toISOString();
    // One statement: SET reads the row as it was, so `releases + 1` is this release.
    const dies = sql<boolean>`releases + 1 >= ${maxReleases}`;
    const row = await this.#ownRow(job)
      .set((eb) => ({
        state: sql<QueueJobState>`CASE WHEN ${dies} THEN 'dead' ELSE 'pending' END`,
        attempts: eb('attempts', '-', 1),
        releases: eb('releases', '+', 1),
        last_error: error.slice(0, 4000),
        run_after: now,
        locked_until: null,
        locked_by: null,
        updated_at: now,
        finished_at: sql<string | null>`CASE WHEN ${dies} THEN ${now} ELSE NULL END`,
      }))
      .returning(['state', 'releases'])
      .executeTakeFirst();
    return { state: row?.state === 'dead' ? 'dead' : 'released', releases: row?.releases ?? 0 };
  }

  /** A dead (or failed) job gets a fresh set of attempts. Returns false when there is no such job. */
  async retry(id: number): Promise<boolean> {
    const now = this.#now().toISOString();
    const result = await this.db
      .updateTable('jobs')
      .set({ state: 'pending', attempts: 0, releases: 0, run_after: now, locked_until: null, locked_by: null, finished_at: null, updated_at: now })
      .where('id', '=', id)
      .where('state', 'in', ['dead', 'pending'])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** When the next pending job of a type becomes visible, or null when none is waiting. */
  async nextVisibleAt(type: string): Promise<Date | null> {
    const row = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.min('run_after').as('next'))
      .where('type', '=', type)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return row?.next ? new Date(row.next) : null;
  }

  async list(filter: { state?: QueueJobState; limit?: number } = {}): Promise<QueueJobRecord[]> {
    let query = this.#records();
    if (filter.state) query = query.where('jobs.state', '=', filter.state);
    const rows = await query.orderBy('jobs.id', 'desc').limit(filter.limit ?? 100).execute();
    return rows.map(toRecord);
  }

  async get(id: number): Promise<QueueJobRecord | null> {
    const row = await this.#records().where('jobs.id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  /** Queue jobs per repository and state. */
  async counts(): Promise<Array<{ repositoryId: number; state: QueueJobState; count: number }>> {
    const rows = await this.db
      .selectFrom('jobs')
      .select(['repository_id', 'state', (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy(['repository_id', 'state'])
      .execute();
    return rows.map((r) => ({ repositoryId: r.repository_id, state: r.state, count: Number(r.count) }));
  }

  #ownRow(job: QueueJob) {
    return this.db.updateTable('jobs').where('id', '=', job.id).where('state', '=', 'running').where('locked_by', '=', job.claimToken);
  }

  #records() {
    return this.db
      .selectFrom('jobs')
      .innerJoin('repositories', 'repositories.id', 'jobs.repository_id')
      .leftJoin('issues', 'issues.github_id', 'jobs.issue_github_id')
      .selectAll('jobs')
      .select([
        sql<string>`repositories.owner || '/' || repositories.name`.as('repository'),
        'issues.number as issue_number',
        'issues.title as issue_title',
      ]);
  }
}

function toQueueJob(row: Selectable<JobsTable>): QueueJob {
  return {
    id: row.id,
    type: row.type,
    repositoryId: row.repository_id,
    issueGithubId: row.issue_github_id,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    claimToken: row.locked_by ?? '',
  };
}

function toRecord(row: Selectable<JobsTable> & { repository: string; issue_number: number | null; issue_title: string | null }): QueueJobRecord {
  let payload: unknown = row.payload;
  try {
    payload = JSON.parse(row.payload);
  } catch {
    // keep the raw text
  }
  return {
    id: row.id,
    type: row.type,
    repository: row.repository,
    issueNumber: row.issue_number,
    issueTitle: row.issue_title,
    issueGithubId: row.issue_github_id,
    state: row.state,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    releases: row.releases,
    runAfter: row.run_after,
    lockedUntil: row.locked_until,
    lastError: row.last_error,
    outcome: row.outcome,
    commentUrl: row.comment_url,
    payload,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}
