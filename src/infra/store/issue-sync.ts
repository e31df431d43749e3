/**
 * The issue-sync store: the poller's cursor and its one-transaction save of
 * issues + next cursor + the queue jobs they imply.
 */
import type { Kysely } from 'kysely';
import type { Issue, SyncCursor } from '../../domain/entities.js';
import type { IssueSyncStore, JobRequest, PollOutcome, SaveResult } from '../../domain/ports.js';
import { storeIssues } from './issue-writes.js';
import type { Schema } from './schema.js';
import { StatementCache } from './statement-cache.js';
import { readCursor, recordPollOutcome, writeCursor } from './sync-cursors.js';

const TOPIC = 'issues';

export interface IssueSyncOptions {
  /** Attempts a new queue job gets (ai.maxAttempts). */
  readonly maxAttempts: number;
  /** github.issues.reanalyze: an edit of an answered issue's title or body queues a `revise` job. Default false. */
  readonly reanalyze?: boolean;
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

  cursor(repositoryId: number): Promise<SyncCursor> {
    return readCursor(this.db, repositoryId, TOPIC);
  }

  async save(repositoryId: number, issues: readonly Issue[], next: SyncCursor, jobs: readonly JobRequest[]): Promise<SaveResult> {
    const now = this.#now().toISOString();
    return this.db.transaction().execute(async (trx) => {
      const placed = issues.map((issue) => ({ repositoryId, issue }));
      // The cursor first: on SQLite the transaction must write before it reads (see storeIssues).
      await writeCursor(trx, this.#statements, repositoryId, TOPIC, next, now);
      const options = { maxAttempts: this.options.maxAttempts, now, reanalyze: this.options.reanalyze ?? false };
      const { changed, enqueued } = await storeIssues(trx, this.#statements, placed, jobs.map((job) => ({ ...job, repositoryId })), options);
      return { changed: changed.size, enqueued };
    });
  }

  recordPoll(repositoryId: number, outcome: PollOutcome): Promise<void> {
    return recordPollOutcome(this.db, repositoryId, TOPIC, outcome, this.#now().toISOString());
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
