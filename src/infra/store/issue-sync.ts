/**
 * The issue-sync store: the poller's cursor and its one-transaction save of
 * issues + next cursor + the queue jobs they imply.
 */
import type { Kysely } from 'kysely';
import type { Issue, SyncCursor } from '../../domain/entities.js';
import { INITIAL_CURSOR } from '../../domain/entities.js';
import type { IssueSyncStore, JobRequest, PollOutcome, SaveResult } from '../../domain/ports.js';
import { enqueueJobs, upsertIssues } from './issue-writes.js';
import type { Schema } from './schema.js';
import { StatementCache } from './statement-cache.js';

const TOPIC = 'issues';

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
      const placed = issues.map((issue) => ({ repositoryId, issue }));
      const { changed: changedIds } = await upsertIssues(trx, this.#statements, placed, now);
      const cursorRow = { repository_id: repositoryId, topic: TOPIC, since: next.since, page: next.page, etag: next.etag, updated_at: now };
      const moved = { since: next.since, page: next.page, etag: next.etag, updated_at: now };
      await this.#statements.execute(
        trx,
        'cursor-upsert',
        () => trx.insertInto('sync_cursors').values(cursorRow).onConflict((oc) => oc.columns(['repository_id', 'topic']).doUpdateSet(moved)),
        [...Object.values(cursorRow), ...Object.values(moved)],
      );
      const wanted = jobs.filter((job) => changedIds.has(job.issueGithubId)).map((job) => ({ ...job, repositoryId }));
      const enqueued = await enqueueJobs(trx, this.#statements, wanted, { maxAttempts: this.options.maxAttempts, now });
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
}
