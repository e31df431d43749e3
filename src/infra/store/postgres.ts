/**
 * The shared engine: PostgreSQL through a `pg` pool, for several daemons on one
 * database (docs/architecture.md, "Storage"). The pool reconnects by itself: a
 * query made while the server is away fails, the next one opens a new
 * connection. The password is never part of what is shown.
 */
import pg from 'pg';
import { Kysely, PostgresDialect, sql, type DatabaseIntrospector, type DatabaseMetadata, type SchemaMetadata, type TableMetadata } from 'kysely';
import { displayUrl } from '../../domain/scrub.js';
import { DatabaseOpenError, type Database } from './database.js';
import type { Schema } from './schema.js';

export interface PostgresOptions {
  /** Most connections open at once. Default 10. */
  readonly poolSize?: number;
  /** A statement running longer is cancelled by the server. Default 30 s. */
  readonly statementTimeoutMs?: number;
  /** How long opening a connection may take. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** A pooled connection failed while idle (the server restarted, the network dropped); the pool replaces it. */
  readonly onIdleError?: (error: Error) => void;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Counts and sums come back as int8 or numeric, which `pg` leaves as text, and
 * GitHub ids are int8 columns: all of them fit a double, so they are numbers,
 * as they are on SQLite.
 */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID || oid === NUMERIC_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/** Connects and checks the server answers, so a wrong URL fails at start with a reason, not mid-run. */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<Database> {
  const shown = displayUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: 'autosolve',
    types,
  });
  // Without a listener a connection's error would crash the process: the pool
  // listens to idle ones, this listens to those in use (between two queries of a
  // transaction). The failed connection is not reused: the pool drops it on release.
  pool.on('error', (error) => options.onIdleError?.(error));
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    classifyQueryFailures(client);
  });
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new DatabaseOpenError(shown, explain(error, url), { cause: scrubbed(error, url) });
  }
  const connecting = {
    connect: () => pool.connect().catch((error: unknown) => Promise.reject(asTransportFailure(error))),
    end: () => pool.end(),
  };
  const db = new Kysely<Schema>({ dialect: new OwnSchemaDialect({ pool: connecting }) });
  let closing: Promise<void> | undefined;
  return {
    engine: 'postgres',
    path: shown,
    db,
    close() {
      // Kysely's destroy ends the pool.
      closing ??= db.destroy();
      return closing;
    },
  };
}

/**
 * Kysely's PostgreSQL introspector reads every schema of the database, with
 * functions that fail when another schema is dropped meanwhile (another
 * installation, another test run). Its only user here is the migrator, asking
 * whether its own tables exist: this one answers for the connection's schema.
 */
class OwnSchemaDialect extends PostgresDialect {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the dialect's own signature
  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new OwnSchemaIntrospector(db);
  }
}

class OwnSchemaIntrospector implements DatabaseIntrospector {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see OwnSchemaDialect
  constructor(private readonly db: Kysely<any>) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const rows = await sql<{ name: string }>`SELECT current_schema() AS name`.execute(this.db);
    return rows.rows;
  }

  async getTables(): Promise<TableMetadata[]> {
    const rows = await sql<{ name: string; schema: string; kind: string }>`
      SELECT c.relname AS name, n.nspname AS schema, c.relkind AS kind
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')`.execute(this.db);
    // Columns are not needed by the migrator, the one caller.
    return rows.rows.map((row) => ({ name: row.name, schema: row.schema, isView: row.kind === 'v' || row.kind === 'm', columns: [] }));
  }

  async getMetadata(): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}

/**
 * SQLSTATE classes and socket codes that say the server or the way to it is
 * gone, not that the statement was wrong: connection exceptions (08), the
 * server shutting down or starting (57P01-57P03), and the socket's own errors.
 */
const TRANSPORT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', '57P01', '57P02', '57P03']);

/**
 * A database that cannot be reached fails like a network: the scheduler
 * retries it on the network's short, growing waits (docs/architecture.md,
 * "Errors and retry live in one place"), so work resumes soon after the
 * server is back.
 */
function asTransportFailure(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  const transport = (typeof code === 'string' && (TRANSPORT_CODES.has(code) || code.startsWith('08'))) || /Connection terminated|not queryable|timeout exceeded when trying to connect/i.test(error.message);
  return transport ? Object.assign(error, { failureKind: 'node' as const }) : error;
}

/** Marks the transport failures of a pooled connection's queries (see asTransportFailure). */
function classifyQueryFailures(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(asTransportFailure(error))) : result;
  };
}

function explain(error: unknown, url: string): string {
  const code = (error as { code?: string }).code;
  const where = (() => {
    try {
      const parsed = new URL(url);
      return `${parsed.hostname}:${parsed.port || '5432'}`;
    } catch {
      return 'the configured host';
    }
  })();
  if (code === 'ECONNREFUSED') return `no PostgreSQL server answers at ${where} (is it running, and is database.url right?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `the host in database.url cannot be resolved (${where})`;
  if (code === 'ETIMEDOUT') return `connecting to ${where} timed out`;
  if (code === '3D000') return 'the database does not exist (create it first, e.g. `createdb NAME`)';
  if (code === '28P01' || code === '28000') return 'the server refused the user or password in database.url';
  const message = error instanceof Error ? error.message : String(error);
  return withoutSecret(message, url) || 'the connection failed';
}

/** An error as it may travel on (a cause is printed with debug output): no password in it. */
function scrubbed(error: unknown, url: string): Error {
  const message = error instanceof Error ? error.message : String(error);
  const copy = new Error(withoutSecret(message, url));
  copy.name = error instanceof Error ? error.name : 'Error';
  return copy;
}

function withoutSecret(text: string, url: string): string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    return text.split(url).join(displayUrl(url));
  }
  const out = text.split(url).join(displayUrl(url));
  return password ? out.split(password).join('***') : out;
}
