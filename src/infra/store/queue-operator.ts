/**
 * What an operator does with the queue: list, show and count queue jobs
 * (`jobs`, `status`) and give them a fresh set of attempts by hand
 * (`jobs retry`). The dispatcher's side — claim, renew, settle — is queue.ts,
 * which offers these as methods of SqlJobQueue.
 */
import { sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import { REVISE_JOB } from '../../domain/eligibility.js';
import type { JobOutcome } from '../../domain/ports.js';
import type { JobsTable, QueueJobState, Schema } from './schema.js';

/**
 * Outcomes after which a job's subject is never dispatched again for that type:
 * an issue answered is never answered again, a mention replied to never again.
 */
export const HANDLED_OUTCOMES: readonly JobOutcome[] = ['answered', 'already-answered'];

/**
 * Job types no outcome settles for good: an answer is revised again at every
 * later edit (ai.maxRevisionsPerIssue bounds how often), whatever the last
 * revision's outcome (revised, current, skipped).
 */
export const REPEATABLE_TYPES: readonly string[] = [REVISE_JOB];

/**
 * Done outcomes `jobs retry` takes: the issue was not answered. `backlog` is
 * github.issues.backlog's decision (widen the key instead); answered ones never.
 */
export const RETRYABLE_OUTCOMES = ['dry-run', 'not-eligible'] as const satisfies readonly JobOutcome[];
export type RetryableOutcome = (typeof RETRYABLE_OUTCOMES)[number];

/** The columns of a claim, cleared when a job leaves `running`. */
export const NO_CLAIM = { locked_until: null, locked_by: null, owner_instance: null, owner_host: null, owner_pid: null } as const;

export interface QueueJobRecord {
  readonly id: number;
  readonly type: string;
  /** The comment (GitHub id) the job is about, a follow-up's mention; 0: the issue itself. */
  readonly subjectId: number;
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
  /** Secrets removed from the comment before it was posted. */
  readonly scrubbed: number;
  readonly payload: unknown;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
}

export async function listJobs(db: Kysely<Schema>, filter: { state?: QueueJobState; limit?: number }): Promise<QueueJobRecord[]> {
  let query = records(db);
  if (filter.state) query = query.where('jobs.state', '=', filter.state);
  const rows = await query.orderBy('jobs.id', 'desc').limit(filter.limit ?? 100).execute();
  return rows.map(toRecord);
}

export async function getJob(db: Kysely<Schema>, id: number): Promise<QueueJobRecord | null> {
  const row = await records(db).where('jobs.id', '=', id).executeTakeFirst();
  return row ? toRecord(row) : null;
}

/** Queue jobs per repository and state. */
export async function countJobs(db: Kysely<Schema>): Promise<Array<{ repositoryId: number; state: QueueJobState; count: number }>> {
  const rows = await db
    .selectFrom('jobs')
    .select(['repository_id', 'state', (eb) => eb.fn.countAll<number>().as('count')])
    .groupBy(['repository_id', 'state'])
    .execute();
  return rows.map((r) => ({ repositoryId: r.repository_id, state: r.state, count: Number(r.count) }));
}

/**
 * A dead, waiting or unanswered done job (dry-run, not-eligible) gets a fresh
 * set of attempts, keeping its type and subject (a revise stays a revise).
 * Returns false when there is no such job, or when its issue (its comment, for
 * a follow-up) has another live job of the type or was answered since.
 */
export async function retryJob(db: Kysely<Schema>, id: number, now: string): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set(freshAttempts(now))
    .where('id', '=', id)
    .where((eb) => eb.or([eb('state', 'in', ['dead', 'pending']), eb.and([eb('state', '=', 'done'), eb('outcome', 'in', RETRYABLE_OUTCOMES)])]))
    .where((eb) => eb.or([eb('state', '=', 'pending'), eb.not(eb.exists(liveOrHandledSibling(eb)))]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Every dead or done job matching the filter (filters combine) gets a fresh
 * set of attempts; returns their ids. Only the latest job of an issue, type
 * and subject is taken, and never one that has a live sibling or whose subject
 * was answered: answered issues (and mentions) are never answered twice.
 */
export async function retryMatchingJobs(
  db: Kysely<Schema>,
  filter: { readonly states: ReadonlyArray<'dead' | 'done'>; readonly outcome?: RetryableOutcome },
  now: string,
): Promise<number[]> {
  let query = db
    .updateTable('jobs')
    .set(freshAttempts(now))
    .where('state', 'in', [...filter.states])
    .where((eb) => eb.or([eb('state', '=', 'dead'), eb('outcome', 'in', RETRYABLE_OUTCOMES)]))
    .where((eb) => eb.not(eb.exists(liveOrHandledSibling(eb))))
    .where((eb) =>
      eb(
        'id',
        '=',
        eb
          .selectFrom('jobs as latest')
          .select((latest) => latest.fn.max('latest.id').as('id'))
          .whereRef('latest.issue_github_id', '=', 'jobs.issue_github_id')
          .whereRef('latest.type', '=', 'jobs.type')
          .whereRef('latest.subject_id', '=', 'jobs.subject_id'),
      ),
    );
  if (filter.outcome) query = query.where('outcome', '=', filter.outcome);
  const rows = await query.returning('id').execute();
  return rows.map((row) => row.id).sort((a, b) => a - b);
}

function records(db: Kysely<Schema>) {
  return db
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

/** Another job of the same issue, type and subject that is live, or that handled it for good (not for a repeatable type). */
function liveOrHandledSibling(eb: ExpressionBuilder<Schema, 'jobs'>) {
  return eb
    .selectFrom('jobs as sibling')
    .select('sibling.id')
    .whereRef('sibling.issue_github_id', '=', 'jobs.issue_github_id')
    .whereRef('sibling.type', '=', 'jobs.type')
    .whereRef('sibling.subject_id', '=', 'jobs.subject_id')
    .whereRef('sibling.id', '!=', 'jobs.id')
    .where((sibling) =>
      sibling.or([
        sibling('sibling.state', 'in', ['pending', 'running']),
        sibling.and([
          sibling('sibling.state', '=', 'done'),
          sibling('sibling.outcome', 'in', HANDLED_OUTCOMES),
          sibling('sibling.type', 'not in', REPEATABLE_TYPES),
        ]),
      ]),
    );
}

function freshAttempts(now: string) {
  return { state: 'pending' as const, attempts: 0, releases: 0, run_after: now, ...NO_CLAIM, finished_at: null, updated_at: now };
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
    subjectId: Number(row.subject_id),
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
    scrubbed: row.scrubbed,
    payload,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}
