/**
 * The backlog reconciler's store: what is still unanswered, per repository,
 * and the two changes it makes (settle pending jobs as `backlog`, enqueue).
 */
import type { Kysely } from 'kysely';
import type { Issue, RepositoryRef } from '../../domain/entities.js';
import { ANSWER_JOB } from '../../domain/eligibility.js';
import type { BacklogStore, UnansweredIssue } from '../../domain/ports.js';
import { issueOfRow } from './issue-catalog.js';
import { HANDLED_OUTCOMES } from './queue-operator.js';
import type { Schema } from './schema.js';

/** Ids per statement: well under SQLite's bound-parameter limit. */
const CHUNK = 500;

export class SqlBacklogStore implements BacklogStore {
  readonly #now: () => Date;

  constructor(
    private readonly db: Kysely<Schema>,
    /** maxAttempts: what enqueued jobs get (ai.maxAttempts). Default 5, the key's default. */
    private readonly options: { readonly maxAttempts?: number; readonly now?: () => Date } = {},
  ) {
    this.#now = options.now ?? (() => new Date());
  }

  async firstSync(repository: RepositoryRef): Promise<{ repositoryId: number; at: string } | undefined> {
    const row = await this.db
      .selectFrom('repositories')
      .select(['id', 'first_synced_at'])
      .where('owner', '=', repository.owner)
      .where('name', '=', repository.name)
      .executeTakeFirst();
    return row?.first_synced_at ? { repositoryId: row.id, at: row.first_synced_at } : undefined;
  }

  async unanswered(repositoryId: number): Promise<UnansweredIssue[]> {
    const issues = await this.db
      .selectFrom('issues')
      .selectAll('issues')
      .where('issues.repository_id', '=', repositoryId)
      .where('issues.state', '=', 'open')
      .where('issues.is_pull_request', '=', 0)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('jobs')
              .select('jobs.id')
              .whereRef('jobs.issue_github_id', '=', 'issues.github_id')
              .where('jobs.type', '=', ANSWER_JOB)
              .where((j) => j.or([j('jobs.state', 'in', ['pending', 'running']), j.and([j('jobs.state', '=', 'done'), j('jobs.outcome', 'in', HANDLED_OUTCOMES)])])),
          ),
        ),
      )
      .orderBy('issues.number')
      .execute();
    const latest = new Map<number, { id: number; state: 'done' | 'dead'; outcome: string | null }>();
    const ids = issues.map((row) => row.github_id);
    for (let start = 0; start < ids.length; start += CHUNK) {
      const jobs = await this.db
        .selectFrom('jobs')
        .select(['id', 'issue_github_id', 'state', 'outcome'])
        .where('type', '=', ANSWER_JOB)
        .where('issue_github_id', 'in', ids.slice(start, start + CHUNK))
        .execute();
      for (const job of jobs) {
        const seen = latest.get(job.issue_github_id);
        if ((job.state === 'done' || job.state === 'dead') && (!seen || seen.id < job.id)) {
          latest.set(job.issue_github_id, { id: job.id, state: job.state, outcome: job.outcome });
        }
      }
    }
    return issues.map((row) => {
      const job = latest.get(row.github_id);
      return { issue: issueOfRow(row), latestJob: job ? { state: job.state, outcome: job.outcome } : null };
    });
  }

  async pending(repositoryId: number): Promise<Array<{ jobId: number; issue: Issue }>> {
    const rows = await this.db
      .selectFrom('jobs')
      .innerJoin('issues', 'issues.github_id', 'jobs.issue_github_id')
      .selectAll('issues')
      .select('jobs.id as job_id')
      .where('jobs.repository_id', '=', repositoryId)
      .where('jobs.type', '=', ANSWER_JOB)
      .where('jobs.state', '=', 'pending')
      .orderBy('jobs.id')
      .execute();
    return rows.map((row) => ({ jobId: row.job_id, issue: issueOfRow(row) }));
  }

  async settleAsBacklog(jobIds: readonly number[]): Promise<number> {
    const now = this.#now().toISOString();
    let settled = 0;
    for (let start = 0; start < jobIds.length; start += CHUNK) {
      const result = await this.db
        .updateTable('jobs')
        .set({ state: 'done', outcome: 'backlog', last_error: null, updated_at: now, finished_at: now })
        .where('id', 'in', jobIds.slice(start, start + CHUNK))
        // A job claimed meanwhile is left to its claimer.
        .where('state', '=', 'pending')
        .executeTakeFirst();
      settled += Number(result.numUpdatedRows);
    }
    return settled;
  }

  async enqueue(repositoryId: number, issueGithubIds: readonly number[]): Promise<number> {
    const now = this.#now().toISOString();
    // In id order, as every enqueue does (issue-writes.ts): daemons reconciling the
    // same backlog at once wait for each other's live jobs, never in a cycle.
    const ids = [...new Set(issueGithubIds)].sort((a, b) => a - b);
    let enqueued = 0;
    for (let start = 0; start < ids.length; start += CHUNK) {
      const rows = ids.slice(start, start + CHUNK).map((issueGithubId) => ({
        type: ANSWER_JOB,
        repository_id: repositoryId,
        issue_github_id: issueGithubId,
        state: 'pending' as const,
        attempts: 0,
        max_attempts: this.options.maxAttempts ?? 5,
        run_after: now,
        payload: '{}',
        created_at: now,
        updated_at: now,
      }));
      // One live job per issue (partial unique index): a job that appeared meanwhile absorbs this one.
      const result = await this.db.insertInto('jobs').values(rows).onConflict((oc) => oc.doNothing()).executeTakeFirst();
      enqueued += Number(result.numInsertedOrUpdatedRows ?? 0);
    }
    return enqueued;
  }
}

