/**
 * A repository's sync cursors (`sync_cursors`, one row per repository and
 * topic: `issues` for the issue poller, `comments` for the comment poller):
 * where its listing resumes, and how its latest poll ended.
 */
import type { Kysely, Transaction } from 'kysely';
import { INITIAL_CURSOR, type SyncCursor } from '../../domain/entities.js';
import type { PollOutcome } from '../../domain/ports.js';
import type { Schema } from './schema.js';
import type { StatementCache } from './statement-cache.js';

export async function readCursor(db: Kysely<Schema>, repositoryId: number, topic: string): Promise<SyncCursor> {
  const row = await db
    .selectFrom('sync_cursors')
    .select(['since', 'page', 'etag'])
    .where('repository_id', '=', repositoryId)
    .where('topic', '=', topic)
    .executeTakeFirst();
  return row ? { since: row.since, page: row.page, etag: row.etag } : INITIAL_CURSOR;
}

/** Stores the next cursor, inside the caller's transaction. */
export async function writeCursor(
  trx: Transaction<Schema>,
  statements: StatementCache,
  repositoryId: number,
  topic: string,
  next: SyncCursor,
  now: string,
): Promise<void> {
  const cursorRow = { repository_id: repositoryId, topic, since: next.since, page: next.page, etag: next.etag, updated_at: now };
  const moved = { since: next.since, page: next.page, etag: next.etag, updated_at: now };
  await statements.execute(
    trx,
    'cursor-upsert',
    () => trx.insertInto('sync_cursors').values(cursorRow).onConflict((oc) => oc.columns(['repository_id', 'topic']).doUpdateSet(moved)),
    [...Object.values(cursorRow), ...Object.values(moved)],
  );
}

/** Remembers how the latest poll of the topic ended, for `autosolve status`: a success clears the error, a failure keeps the last success. */
export async function recordPollOutcome(db: Kysely<Schema>, repositoryId: number, topic: string, outcome: PollOutcome, now: string): Promise<void> {
  const values = outcome.ok ? { last_polled_at: now, last_error: null } : { last_error: outcome.error, last_error_at: now };
  await db
    .insertInto('sync_cursors')
    .values({ repository_id: repositoryId, topic, page: 1, updated_at: now, ...values })
    .onConflict((oc) => oc.columns(['repository_id', 'topic']).doUpdateSet(values))
    .execute();
}
