/**
 * The scope streams' store: where each organisation's (or the user's) issue
 * stream resumes, and its one-transaction save of a page's issues, each into
 * its repository, the queue jobs they imply and the next cursor.
 */
import type { Kysely } from 'kysely';
import type { SyncCursor } from '../../domain/entities.js';
import { INITIAL_CURSOR } from '../../domain/entities.js';
import type { ScopedIssueRecord, ScopeSyncStore } from '../../domain/fleet/ports.js';
import type { JobRequest, PollOutcome } from '../../domain/ports.js';
import { storeIssues } from './issue-writes.js';
import type { Schema } from './schema.js';
import { StatementCache } from './statement-cache.js';

export interface ScopeSyncOptions {
  /** Attempts a new queue job gets (ai.maxAttempts). */
  readonly maxAttempts: number;
  /** github.issues.reanalyze: an edit of an answered issue's title or body queues a `revise` job. Default false. */
  readonly reanalyze?: boolean;
  readonly now?: () => Date;
}

export class SqlScopeSyncStore implements ScopeSyncStore {
  readonly #now: () => Date;
  readonly #statements = new StatementCache();

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly options: ScopeSyncOptions,
  ) {
    this.#now = options.now ?? (() => new Date());
  }

  async cursor(scope: string): Promise<SyncCursor> {
    const row = await this.db.selectFrom('scope_cursors').select(['since', 'page', 'etag']).where('scope', '=', scope).executeTakeFirst();
    return row ? { since: row.since, page: row.page, etag: row.etag } : INITIAL_CURSOR;
  }

  async save(
    scope: string,
    issues: readonly ScopedIssueRecord[],
    next: SyncCursor,
    jobs: ReadonlyArray<JobRequest & { readonly repositoryId: number }>,
  ): Promise<{ readonly changed: number; readonly enqueued: number; readonly changedRepositories: readonly number[] }> {
    const now = this.#now().toISOString();
    return this.db.transaction().execute(async (trx) => {
      // The cursor first: on SQLite the transaction must write before it reads (see storeIssues).
      const moved = { since: next.since, page: next.page, etag: next.etag, updated_at: now };
      await trx
        .insertInto('scope_cursors')
        .values({ scope, ...moved })
        .onConflict((oc) => oc.column('scope').doUpdateSet(moved))
        .execute();
      const options = { maxAttempts: this.options.maxAttempts, now, reanalyze: this.options.reanalyze ?? false };
      const { changed, repositories, enqueued } = await storeIssues(trx, this.#statements, issues, jobs, options);
      return { changed: changed.size, enqueued, changedRepositories: [...repositories].sort((a, b) => a - b) };
    });
  }

  async recordPoll(scope: string, outcome: PollOutcome): Promise<void> {
    const now = this.#now().toISOString();
    const values = outcome.ok ? { last_polled_at: now, last_error: null } : { last_error: outcome.error, last_error_at: now };
    await this.db
      .insertInto('scope_cursors')
      .values({ scope, page: 1, updated_at: now, ...values })
      .onConflict((oc) => oc.column('scope').doUpdateSet(values))
      .execute();
  }
}
