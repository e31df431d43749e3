/** Repositories the preflight validated, and what `status` reads about them. */
import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { RemoteRepository, RepositoryRef } from '../../domain/entities.js';
import type { RepositoryRecorder } from '../../domain/ports.js';
import type { Schema } from './schema.js';

/** A repository in github.repositories is configured, whatever discovery found it as, and never dropped. */
const CONFIGURED = { source: 'configured', dropped_at: null, drop_reason: null } as const;

export class SqlRepositoryStore implements RepositoryRecorder {
  readonly #now: () => Date;

  constructor(
    private readonly db: Kysely<Schema>,
    now?: () => Date,
  ) {
    this.#now = now ?? (() => new Date());
  }

  /**
   * Keyed by GitHub's id: a repository whose configured spelling changed
   * (`acme/api` to `ACME/API`) or that was renamed (GitHub redirects the old
   * name to the same id) keeps its row, so its cursors, first sync, issues
   * and jobs; the row takes the configured spelling. Before its first
   * validation a row has no id: then owner/name match case-insensitively.
   */
  async record(configured: RepositoryRef, remote: RemoteRepository): Promise<number> {
    try {
      return await this.#record(configured, remote);
    } catch (error) {
      // Daemons sharing a database validate at the same time: the one whose
      // insert lost finds the other's row on a second look.
      if (!isUniqueViolation(error)) throw error;
      return this.#record(configured, remote);
    }
  }

  #record(configured: RepositoryRef, remote: RemoteRepository): Promise<number> {
    const now = this.#now().toISOString();
    return this.db.transaction().execute(async (trx) => {
      const existing =
        (await trx.selectFrom('repositories').select('id').where('github_id', '=', remote.githubId).orderBy('id').executeTakeFirst()) ??
        (await trx.selectFrom('repositories').select('id').where(sameName(configured)).orderBy('id').executeTakeFirst());
      const id = existing
        ? (await trx
            .updateTable('repositories')
            .set({ owner: configured.owner, name: configured.name, github_id: remote.githubId, validated_at: now, ...CONFIGURED })
            .where('id', '=', existing.id)
            .returning('id')
            .executeTakeFirstOrThrow()).id
        : (await trx
            .insertInto('repositories')
            .values({ owner: configured.owner, name: configured.name, github_id: remote.githubId, validated_at: now, created_at: now })
            .returning('id')
            .executeTakeFirstOrThrow()).id;
      await trx.deleteFrom('setup_failures').where(sameName(configured)).execute();
      return id;
    });
  }

  async recordSetupFailure(configured: RepositoryRef, error: string): Promise<void> {
    const failedAt = this.#now().toISOString();
    await this.db
      .insertInto('setup_failures')
      .values({ owner: configured.owner, name: configured.name, error, failed_at: failedAt })
      .onConflict((oc) => oc.columns(['owner', 'name']).doUpdateSet({ error, failed_at: failedAt }))
      .execute();
  }

  /** Our id for a configured repository, or undefined before its first validation. */
  async idOf(repo: RepositoryRef): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('repositories')
      .select('id')
      .where(sameName(repo))
      // `acme/api` and `ACME/API` may both be rows (configured, discovered): the oldest, on either engine.
      .orderBy('id')
      .executeTakeFirst();
    return row?.id;
  }
}

/** A unique constraint refused the row (PostgreSQL 23505, SQLite's SQLITE_CONSTRAINT_UNIQUE). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** GitHub's owner and repository names are case-insensitive: `acme/api` is `ACME/API`. */
export function sameName(repo: RepositoryRef): Expression<SqlBool> {
  // lower() on both engines: GitHub names are ASCII, where SQLite's and PostgreSQL's lower() agree.
  return sql<SqlBool>`lower(owner) = lower(${repo.owner}) AND lower(name) = lower(${repo.name})`;
}

/** Small remembered facts (the rate-limit budget last seen, ...), as JSON. */
export class SqlStateStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async put(key: string, value: unknown): Promise<void> {
    const now = new Date().toISOString();
    const text = JSON.stringify(value);
    await this.db
      .insertInto('state')
      .values({ key, value: text, updated_at: now })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: text, updated_at: now }))
      .execute();
  }

  async get<T>(key: string): Promise<{ value: T; updatedAt: string } | undefined> {
    const row = await this.db.selectFrom('state').select(['value', 'updated_at']).where('key', '=', key).executeTakeFirst();
    return row ? { value: JSON.parse(row.value) as T, updatedAt: row.updated_at } : undefined;
  }
}
