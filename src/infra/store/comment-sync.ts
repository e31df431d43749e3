/**
 * The comment poller's store: where a repository's comment listing resumes
 * (its own `sync_cursors` row, topic `comments`) and its one-transaction save
 * of the next cursor with the follow-up jobs a page implies.
 */
import type { Kysely } from 'kysely';
import type { SyncCursor } from '../../domain/entities.js';
import type { CommentSyncStore, JobRequest, PollOutcome } from '../../domain/ports.js';
import { enqueueJobs } from './issue-writes.js';
import type { Schema } from './schema.js';
import { StatementCache } from './statement-cache.js';
import { readCursor, recordPollOutcome, writeCursor } from './sync-cursors.js';

export const COMMENTS_TOPIC = 'comments';
const TOPIC = COMMENTS_TOPIC;

export interface CommentSyncOptions {
  /** Attempts a new queue job gets (ai.maxAttempts). */
  readonly maxAttempts: number;
  readonly now?: () => Date;
}

export class SqlCommentSyncStore implements CommentSyncStore {
  readonly #now: () => Date;
  readonly #statements = new StatementCache();

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly options: CommentSyncOptions,
  ) {
    this.#now = options.now ?? (() => new Date());
  }

  cursor(repositoryId: number): Promise<SyncCursor> {
    return readCursor(this.db, repositoryId, TOPIC);
  }

  /**
   * One transaction: the cursor and the jobs, each about its comment
   * (`subjectId`). A subject already handled (answered, already-answered) is
   * not queued again, and a live job of the same subject absorbs the request.
   */
  async save(repositoryId: number, nextCursor: SyncCursor, jobs: readonly JobRequest[]): Promise<{ readonly enqueued: number }> {
    const now = this.#now().toISOString();
    return this.db.transaction().execute(async (trx) => {
      // The cursor first: on SQLite the transaction must write before it reads (see storeIssues).
      await writeCursor(trx, this.#statements, repositoryId, TOPIC, nextCursor, now);
      const placed = jobs.map((job) => ({ ...job, repositoryId }));
      const enqueued = await enqueueJobs(trx, this.#statements, placed, { maxAttempts: this.options.maxAttempts, now });
      return { enqueued };
    });
  }

  recordPoll(repositoryId: number, outcome: PollOutcome): Promise<void> {
    return recordPollOutcome(this.db, repositoryId, TOPIC, outcome, this.#now().toISOString());
  }
}
