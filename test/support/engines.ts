/**
 * Store tests on both engines from one suite: SQLite (a file per test) and
 * PostgreSQL (a schema per test on the server the machine provides, dropped
 * afterwards). Where no PostgreSQL server answers, its variant is skipped with
 * the reason, or fails when AUTOSOLVE_REQUIRE_POSTGRES=1 (CI sets it).
 *
 *   for (const engine of await testEngines()) {
 *     describe(`queue on ${engine.name}`, { skip: engine.skip }, () => { ... await engine.fresh() ... });
 *   }
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, SchemaMigrator, type Database, type Engine } from '../../src/infra/store/index.js';
import { skipUnlessAvailable } from './skips.js';
import { freshDatabase } from './store.js';

/** The server tests use: AUTOSOLVE_TEST_POSTGRES_URL, else the machine's (trust auth, database `test`). */
export const POSTGRES_URL = process.env.AUTOSOLVE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface FreshStore {
  readonly database: Database;
  /** SQLite: the folder holding the file; PostgreSQL: a scratch folder. */
  readonly dir: string;
  /** Closes the database, then removes the file or drops the schema. */
  cleanup(): Promise<void>;
}

export interface TestEngine {
  readonly name: Engine;
  /** The `skip` option for this engine's tests: false, or why they cannot run here. */
  readonly skip: string | false;
  /** A migrated, empty database. */
  fresh(): Promise<FreshStore>;
  /** An empty database the caller migrates (or not): a URL for PostgreSQL, a file path for SQLite, with its cleanup. */
  blank(): Promise<{ readonly target: string; readonly dir: string; cleanup(): Promise<void> }>;
}

let reachable: Promise<string | false> | undefined;

/** False when a PostgreSQL server answers at POSTGRES_URL, else why not. */
export function postgresMissing(): Promise<string | false> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return false as const;
    } catch (error) {
      return `no PostgreSQL server answers at ${POSTGRES_URL} (${(error as Error).message}); start it with pg_ctlcluster, or set AUTOSOLVE_TEST_POSTGRES_URL`;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/** Both engines; the PostgreSQL one skips (or fails, when required) without a server. */
export async function testEngines(): Promise<TestEngine[]> {
  const missing = await postgresMissing();
  const skip = skipUnlessAvailable({ what: `PostgreSQL at ${POSTGRES_URL}`, missing, requiredBy: 'AUTOSOLVE_REQUIRE_POSTGRES' });
  return [sqliteEngine(), { ...postgresEngine(), skip }];
}

function sqliteEngine(): TestEngine {
  return {
    name: 'sqlite',
    skip: false,
    fresh: () => freshDatabase(),
    async blank() {
      const { tempDir } = await import('./cli.js');
      const { join } = await import('node:path');
      const dir = tempDir('autosolve-db-');
      return { target: join(dir.path, 'test.db'), dir: dir.path, cleanup: async () => dir.cleanup() };
    },
  };
}

function postgresEngine(): Omit<TestEngine, 'skip'> {
  const engine: Omit<TestEngine, 'skip'> = {
    name: 'postgres',
    async fresh() {
      const blank = await engine.blank();
      const database = await openDatabase({ url: blank.target });
      try {
        await new SchemaMigrator(database.db, database.path).up();
      } catch (error) {
        await database.close();
        await blank.cleanup();
        throw error;
      }
      return {
        database,
        dir: blank.dir,
        cleanup: async () => {
          await database.close();
          await blank.cleanup();
        },
      };
    },
    async blank() {
      const schema = await createSchema();
      const { tempDir } = await import('./cli.js');
      const dir = tempDir('autosolve-pg-');
      return {
        target: schemaUrl(schema),
        dir: dir.path,
        cleanup: async () => {
          await dropSchema(schema);
          dir.cleanup();
        },
      };
    },
  };
  return engine;
}

/** The test server's URL with a search_path: everything the daemon creates lands in `schema`. */
export function schemaUrl(schema: string): string {
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** A new, empty schema on the test server (name: autosolve_t_<random>). */
export async function createSchema(): Promise<string> {
  const schema = `autosolve_t_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE SCHEMA ${schema}`));
  return schema;
}

export async function dropSchema(schema: string): Promise<void> {
  await admin((client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
