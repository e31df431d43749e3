/** Repositories the preflight validated, and what `status` reads about them. */
import type { Kysely } from 'kysely';
import type { RemoteRepository, RepositoryRef } from '../../domain/entities.js';
import type { RepositoryRecorder } from '../../domain/ports.js';
import type { Schema } from './schema.js';

export class SqlRepositoryStore implements RepositoryRecorder {
  readonly #now: () => Date;

  constructor(
    private readonly db: Kysely<Schema>,
    now?: () => Date,
  ) {
    this.#now = now ?? (() => new Date());
  }

  async record(configured: RepositoryRef, remote: RemoteRepository): Promise<number> {
    const now = this.#now().toISOString();
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('repositories')
        .values({ owner: configured.owner, name: configured.name, github_id: remote.githubId, validated_at: now, created_at: now })
        .onConflict((oc) => oc.columns(['owner', 'name']).doUpdateSet({ github_id: remote.githubId, validated_at: now }))
        .returning('id')
        .executeTakeFirstOrThrow();
      await trx.deleteFrom('setup_failures').where('owner', '=', configured.owner).where('name', '=', configured.name).execute();
      return row.id;
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
      .where('owner', '=', repo.owner)
      .where('name', '=', repo.name)
      .executeTakeFirst();
    return row?.id;
  }
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
