/**
 * Versioned migrations with up and down, recorded in the database (Kysely's
 * Migrator and its kysely_migration table). The list below is the schema's history.
 */
import { Migrator, NO_MIGRATIONS, sql, type Kysely, type Migration, type MigrationResult } from 'kysely';
import * as initial from './migrations/001-initial.js';
import * as claimIndexes from './migrations/002-claim-indexes.js';
import * as backlog from './migrations/003-backlog.js';
import * as leases from './migrations/004-leases.js';
import * as setupFailures from './migrations/005-setup-failures.js';
import * as jobReleases from './migrations/006-job-releases.js';
import * as scrubbed from './migrations/007-scrubbed.js';
import * as repositoryIdentity from './migrations/008-repository-identity.js';
import * as fleet from './migrations/009-fleet.js';
import * as workLeases from './migrations/010-work-leases.js';
import * as sharedBudget from './migrations/011-shared-budget.js';
import * as conversation from './migrations/012-conversation.js';
import { isPostgres, tableExists } from './engine.js';
import type { Schema } from './schema.js';

const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '001-initial': initial,
  '002-claim-indexes': claimIndexes,
  '003-backlog': backlog,
  '004-leases': leases,
  '005-setup-failures': setupFailures,
  '006-job-releases': jobReleases,
  '007-scrubbed': scrubbed,
  '008-repository-identity': repositoryIdentity,
  '009-fleet': fleet,
  '010-work-leases': workLeases,
  '011-shared-budget': sharedBudget,
  '012-conversation': conversation,
};

export const MIGRATION_NAMES = Object.keys(MIGRATIONS);

/** The database was migrated by a newer build. Nothing is changed. */
export class SchemaTooNewError extends Error {
  readonly unknown: readonly string[];
  constructor(path: string, unknown: readonly string[]) {
    super(
      `the database ${path} has a newer schema than this build of autosolve (unknown migrations: ${unknown.join(', ')}); ` +
        'upgrade autosolve, or point the configuration at another database',
    );
    this.name = 'SchemaTooNewError';
    this.unknown = unknown;
  }
}

export interface MigrationStatus {
  readonly name: string;
  readonly executedAt: Date | null;
}

export class SchemaMigrator {
  #made: Promise<Migrator> | undefined;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly path: string,
  ) {}

  /**
   * Kysely's migrator looks for its table in every schema it can see; on
   * PostgreSQL it is told the connection's own (another installation may
   * share the server, each in its schema), and the PostgreSQL dialect's
   * introspector lists only that schema (src/infra/store/postgres.ts).
   */
  get #migrator(): Promise<Migrator> {
    this.#made ??= (async () => {
      const schema = isPostgres(this.db) ? (await sql<{ schema: string }>`SELECT current_schema() AS schema`.execute(this.db)).rows[0]?.schema : undefined;
      return new Migrator({ db: this.db, provider: { getMigrations: () => Promise.resolve(MIGRATIONS) }, ...(schema ? { migrationTableSchema: schema } : {}) });
    })();
    return this.#made;
  }

  async status(): Promise<MigrationStatus[]> {
    await this.assertNotNewer();
    const migrations = await (await this.#migrator).getMigrations();
    return migrations.map((m) => ({ name: m.name, executedAt: m.executedAt ?? null }));
  }

  /** Applies every pending migration; returns the names applied. */
  async up(): Promise<string[]> {
    await this.assertNotNewer();
    return names(await (await this.#migrator).migrateToLatest());
  }

  /** Reverts the last `steps` applied migrations; returns the names reverted. */
  async down(steps = 1): Promise<string[]> {
    await this.assertNotNewer();
    const reverted: string[] = [];
    for (let i = 0; i < steps; i++) {
      const step = names(await (await this.#migrator).migrateDown());
      if (step.length === 0) break;
      reverted.push(...step);
    }
    return reverted;
  }

  /** Reverts everything, then applies everything: an empty database of the current schema. */
  async fresh(): Promise<void> {
    await this.assertNotNewer();
    names(await (await this.#migrator).migrateTo(NO_MIGRATIONS));
    names(await (await this.#migrator).migrateToLatest());
  }

  /** Refuses a database migrated by a newer build, before anything is written. */
  async assertNotNewer(): Promise<void> {
    if (!(await tableExists(this.db, 'kysely_migration'))) return;
    const applied = await this.db
      .selectFrom('kysely_migration' as never)
      .select('name' as never)
      .execute();
    const unknown = (applied as Array<{ name: string }>).map((r) => r.name).filter((n) => !(n in MIGRATIONS));
    if (unknown.length > 0) throw new SchemaTooNewError(this.path, unknown);
  }
}

function names(result: { error?: unknown; results?: MigrationResult[] }): string[] {
  if (result.error) throw result.error;
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
