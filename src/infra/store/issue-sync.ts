/**
 * The issue-sync store: the poller's cursor and its one-transaction save of
 * issues + next cursor + the queue jobs they imply.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Issue, SyncCursor } from '../../domain/entities.js';
import { INITIAL_CURSOR } from '../../domain/entities.js';
import type { IssueSyncStore, JobRequest, PollOutcome, SaveResult } from '../../domain/ports.js';
import { HANDLED_OUTCOMES } from './queue-operator.js';
import type { NewIssueRow, Schema } from './schema.js';
import { StatementCache } from './statement-cache.js';

const TOPIC = 'issues';
/** Rows per statement: well under SQLite's bound-parameter limit. */
const CHUNK = 500;

export interface IssueSyncOptions {
  /** Attempts a new queue job gets (ai.maxAttempts). */
  readonly maxAttempts: number;
  readonly now?: () => Date;
}

export class SqlIssueSyncStore implements IssueSyncStore {
  readonly #now: () => Date;
  readonly #statements = new StatementCache();
  readonly #firstSyncs = new Map<number, string>();

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly options: IssueSyncOptions,
  ) {
    this.#now = options.now ?? (() => new Date());
  }

  async cursor(repositoryId: number): Promise<SyncCursor> {
    const row = await this.db
      .selectFrom('sync_cursors')
      .select(['since', 'page', 'etag'])
      .where('repository_id', '=', repositoryId)
      .where('topic', '=', TOPIC)
      .executeTakeFirst();
    return row ? { since: row.since, page: row.page, etag: row.etag } : INITIAL_CURSOR;
  }

  async save(repositoryId: number, issues: readonly Issue[], next: SyncCursor, jobs: readonly JobRequest[]): Promise<SaveResult> {
    const now = this.#now().toISOString();
    return this.db.transaction().execute(async (trx) => {
      const changedIds = await this.#upsertIssues(trx, repositoryId, issues, now);
      const cursorRow = { repository_id: repositoryId, topic: TOPIC, since: next.since, page: next.page, etag: next.etag, updated_at: now };
      const moved = { since: next.since, page: next.page, etag: next.etag, updated_at: now };
      await this.#statements.execute(
        trx,
        'cursor-upsert',
        () => trx.insertInto('sync_cursors').values(cursorRow).onConflict((oc) => oc.columns(['repository_id', 'topic']).doUpdateSet(moved)),
        [...Object.values(cursorRow), ...Object.values(moved)],
      );
      const wanted = jobs.filter((job) => changedIds.has(job.issueGithubId));
      const enqueued = await this.#enqueue(trx, repositoryId, wanted, now);
      return { changed: changedIds.size, enqueued };
    });
  }

  async recordPoll(repositoryId: number, outcome: PollOutcome): Promise<void> {
    const now = this.#now().toISOString();
    const values = outcome.ok ? { last_polled_at: now, last_error: null } : { last_error: outcome.error, last_error_at: now };
    await this.db
      .insertInto('sync_cursors')
      .values({ repository_id: repositoryId, topic: TOPIC, page: 1, updated_at: now, ...values })
      .onConflict((oc) => oc.columns(['repository_id', 'topic']).doUpdateSet(values))
      .execute();
  }

  async markFirstSync(repositoryId: number): Promise<{ at: string; first: boolean }> {
    // It never moves once set: remembered, so that a steady-state pass (one 304) costs no write.
    const known = this.#firstSyncs.get(repositoryId);
    if (known !== undefined) return { at: known, first: false };
    // Whole seconds, as GitHub writes updated_at: an issue touched in the same second counts as new.
    const now = new Date(Math.floor(this.#now().getTime() / 1000) * 1000).toISOString();
    // Only a NULL is filled in: the first sync time never moves, whoever calls later.
    const result = await this.db
      .updateTable('repositories')
      .set({ first_synced_at: now })
      .where('id', '=', repositoryId)
      .where('first_synced_at', 'is', null)
      .executeTakeFirst();
    const row = await this.db.selectFrom('repositories').select('first_synced_at').where('id', '=', repositoryId).executeTakeFirst();
    const at = row?.first_synced_at ?? now;
    this.#firstSyncs.set(repositoryId, at);
    return { at, first: Number(result.numUpdatedRows) > 0 };
  }

  /** Upserts every issue; returns the GitHub ids that are new or changed. */
  async #upsertIssues(trx: Transaction<Schema>, repositoryId: number, issues: readonly Issue[], now: string): Promise<Set<number>> {
    const changed = new Set<number>();
    for (let start = 0; start < issues.length; start += CHUNK) {
      const chunk = issues.slice(start, start + CHUNK);
      const values = chunk.map((issue) => toRow(repositoryId, issue, now));
      const build = () =>
        trx
        .insertInto('issues')
        .values(values)
        // Every column, the repository id included: issues move between repositories
        // when transferred, and the original project's stale repository_id bug came
        // from a conflict clause that left it out. A row that did not change is left
        // alone, so RETURNING names exactly the new and changed issues.
        .onConflict((oc) =>
          oc
            .column('github_id')
            .doUpdateSet((eb) => ({
              repository_id: eb.ref('excluded.repository_id'),
              number: eb.ref('excluded.number'),
              title: eb.ref('excluded.title'),
              body: eb.ref('excluded.body'),
              state: eb.ref('excluded.state'),
              is_pull_request: eb.ref('excluded.is_pull_request'),
              labels: eb.ref('excluded.labels'),
              author: eb.ref('excluded.author'),
              html_url: eb.ref('excluded.html_url'),
              comments_count: eb.ref('excluded.comments_count'),
              created_at: eb.ref('excluded.created_at'),
              updated_at: eb.ref('excluded.updated_at'),
              synced_at: eb.ref('excluded.synced_at'),
            }))
            .where((eb) =>
              eb.or([
                eb('issues.updated_at', '!=', eb.ref('excluded.updated_at')),
                eb('issues.repository_id', '!=', eb.ref('excluded.repository_id')),
                eb('issues.number', '!=', eb.ref('excluded.number')),
              ]),
            ),
        )
        .returning('github_id');
      const parameters = values.flatMap((row) => ISSUE_COLUMNS.map((column) => row[column]));
      const { rows } = await this.#statements.execute(trx, `issues-upsert:${chunk.length}`, build, parameters);
      for (const row of rows) changed.add(row.github_id);
    }
    return changed;
  }

  /** New pending jobs, except for issues already handled; a live job absorbs the request. */
  async #enqueue(trx: Transaction<Schema>, repositoryId: number, jobs: readonly JobRequest[], now: string): Promise<number> {
    if (jobs.length === 0) return 0;
    let enqueued = 0;
    for (let start = 0; start < jobs.length; start += CHUNK) {
      const chunk = jobs.slice(start, start + CHUNK);
      const ids = chunk.map((j) => j.issueGithubId);
      const { rows: handled } = await this.#statements.execute(
        trx,
        `handled-select:${ids.length}`,
        () =>
          trx
            .selectFrom('jobs')
            .select(['issue_github_id', 'type'])
            .where('issue_github_id', 'in', ids)
            .where('state', '=', 'done')
            .where('outcome', 'in', HANDLED_OUTCOMES),
        [...ids, 'done', ...HANDLED_OUTCOMES],
      );
      const skip = new Set(handled.map((row) => `${row.type}:${row.issue_github_id}`));
      const rows = chunk
        .filter((job) => !skip.has(`${job.type}:${job.issueGithubId}`))
        .map((job) => ({
          type: job.type,
          repository_id: repositoryId,
          issue_github_id: job.issueGithubId,
          state: 'pending' as const,
          attempts: 0,
          max_attempts: this.options.maxAttempts,
          run_after: now,
          payload: '{}',
          created_at: now,
          updated_at: now,
        }));
      if (rows.length === 0) continue;
      // The partial unique index allows one live job per issue and type: a
      // conflicting insert is the coalescing, not an error.
      const build = () => trx.insertInto('jobs').values(rows).onConflict((oc) => oc.doNothing());
      const parameters = rows.flatMap((row) => JOB_COLUMNS.map((column) => row[column]));
      const result = await this.#statements.execute(trx, `jobs-insert:${rows.length}`, build, parameters);
      enqueued += Number(result.numAffectedRows ?? 0);
    }
    return enqueued;
  }
}

/** Column order of toRow(): the order Kysely binds the values in. */
const ISSUE_COLUMNS = [
  'github_id', 'repository_id', 'number', 'title', 'body', 'state', 'is_pull_request',
  'labels', 'author', 'html_url', 'comments_count', 'created_at', 'updated_at', 'synced_at',
] as const satisfies ReadonlyArray<keyof NewIssueRow>;

const JOB_COLUMNS = [
  'type', 'repository_id', 'issue_github_id', 'state', 'attempts', 'max_attempts', 'run_after', 'payload', 'created_at', 'updated_at',
] as const;

function toRow(repositoryId: number, issue: Issue, now: string): NewIssueRow {
  return {
    github_id: issue.githubId,
    repository_id: repositoryId,
    number: issue.number,
    title: issue.title,
    body: issue.body,
    state: issue.state,
    is_pull_request: issue.isPullRequest ? 1 : 0,
    labels: JSON.stringify(issue.labels),
    author: issue.author,
    html_url: issue.htmlUrl,
    comments_count: issue.commentsCount,
    created_at: issue.createdAt,
    updated_at: issue.updatedAt,
    synced_at: now,
  };
}
