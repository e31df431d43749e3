/**
 * `autosolve migrate copy --from sqlite:PATH --to postgres://…`: moves an
 * installation from its SQLite file to PostgreSQL (the copying itself is
 * src/infra/store/copy.ts). Refuses, changing nothing, a source that is behind
 * this build's schema or still used by a daemon, and a target that holds data.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { copyDatabase, openDatabase, rowsHeld, SchemaMigrator, TargetNotEmptyError, type CopiedCount, type Database } from '../infra/store/index.js';
import { UsageError, UserFacingError } from './errors.js';

/** migrate.ts's guard: throws, naming the daemon, when one uses the database; `harm` says what the command would do. */
export type DaemonGuard = (database: Database, harm: string) => Promise<void>;

interface CopyFlags {
  readonly from: string;
  readonly to: string;
}

const SQLITE_PREFIX = 'sqlite:';
const POSTGRES_URL = /^postgres(ql)?:\/\//;

export function migrateCopyCommand(refuseWhileDaemonRuns: DaemonGuard): Command {
  return new Command('copy')
    .description('copy an installation from its SQLite file into an empty PostgreSQL database: every repository, issue, cursor and queue job, so nothing is answered again')
    .requiredOption('--from <sqlite:PATH>', 'the SQLite file to copy, e.g. sqlite:./autosolve.db (left as it is)')
    .requiredOption('--to <url>', 'the PostgreSQL database to fill, postgres://user:password@host:5432/database (migrated first; must hold no data)')
    .action((flags: CopyFlags) => copyInstallation(parse(flags), refuseWhileDaemonRuns));
}

/** Usage errors (exit 2) name the flag, never its value: a misplaced URL would show its password. */
function parse(flags: CopyFlags): { sqlitePath: string; url: string } {
  if (!flags.from.startsWith(SQLITE_PREFIX)) {
    const hint = POSTGRES_URL.test(flags.from) ? ' (copying from PostgreSQL is not supported)' : '';
    throw new UsageError(`migrate copy: --from takes sqlite:PATH, the SQLite file to copy, e.g. --from sqlite:./autosolve.db${hint}`);
  }
  const path = flags.from.slice(SQLITE_PREFIX.length);
  if (path === '') throw new UsageError('migrate copy: --from sqlite: needs the path of the SQLite file, e.g. --from sqlite:./autosolve.db');
  if (!POSTGRES_URL.test(flags.to)) throw new UsageError('migrate copy: --to takes a postgres://user:password@host:5432/database URL');
  return { sqlitePath: resolve(path), url: flags.to };
}

/** Database.path never holds the password (openDatabase shows a URL through displayUrl), so every message may name it. */
async function copyInstallation({ sqlitePath, url }: { sqlitePath: string; url: string }, refuseWhileDaemonRuns: DaemonGuard): Promise<void> {
  if (!existsSync(sqlitePath)) throw new UserFacingError(`migrate copy: the source ${sqlitePath} does not exist (check --from)`);
  const source = await openDatabase(sqlitePath, { mustExist: true });
  try {
    await checkSource(source, refuseWhileDaemonRuns);
    const target = await openDatabase(url);
    try {
      await prepareTarget(target, refuseWhileDaemonRuns);
      const counts = await copyDatabase(source, target).catch((error: unknown) => {
        if (error instanceof TargetNotEmptyError) throw notEmpty(target, error.holds);
        const reason = error instanceof Error ? error.message : String(error);
        throw new UserFacingError(`migrate copy: copying into ${target.path} failed and was rolled back, so the target holds no data: ${reason}`, { cause: error });
      });
      report(source.path, target.path, counts);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** At this build's schema (copying an older one would leave the target's new columns to defaults the migrations would not choose), and at rest. */
async function checkSource(source: Database, refuseWhileDaemonRuns: DaemonGuard): Promise<void> {
  const pending = (await new SchemaMigrator(source.db, source.path).status()).filter((m) => m.executedAt === null).map((m) => m.name);
  if (pending.length > 0) {
    throw new UserFacingError(
      `migrate copy: the source ${source.path} is behind this build's schema (pending: ${pending.join(', ')}); ` +
        `bring it up to date first with \`autosolve migrate up\` (database.sqlitePath: ${source.path}), then copy again`,
    );
  }
  await refuseWhileDaemonRuns(source, '`autosolve migrate copy` would miss what it writes after the copy (and it would answer again what the new database answers)');
}

/** Nothing written before every check passed: a target newer than this build, holding data, or in use is left as it is. */
async function prepareTarget(target: Database, refuseWhileDaemonRuns: DaemonGuard): Promise<void> {
  const migrator = new SchemaMigrator(target.db, target.path);
  await migrator.assertNotNewer();
  const holds = await rowsHeld(target.db);
  if (holds.length > 0) throw notEmpty(target, holds);
  await refuseWhileDaemonRuns(target, '`autosolve migrate copy` would fill the database under it');
  const applied = await migrator.up();
  if (applied.length > 0) process.stdout.write(`target migrated: ${applied.length} migration${applied.length === 1 ? '' : 's'} applied (${target.path})\n`);
}

function notEmpty(target: Database, holds: readonly CopiedCount[]): UserFacingError {
  const what = holds.map((h) => `${h.rows} ${h.table}`).join(', ');
  return new UserFacingError(
    `migrate copy: the target ${target.path} already holds data (${what}); nothing was copied. ` +
      'Copy into an empty database or schema; a move is never merged into another installation.',
  );
}

function report(from: string, to: string, counts: readonly CopiedCount[]): void {
  const width = Math.max(...counts.map((c) => c.table.length));
  const total = counts.reduce((sum, c) => sum + c.rows, 0);
  const lines = [
    `copied ${from} → ${to} in one transaction:`,
    ...counts.map((c) => `  ${c.table.padEnd(width)}  ${c.rows}`),
    `  ${'total'.padEnd(width)}  ${total}`,
    '',
    'Next: point database.url (or DATABASE_URL) at the new database and start the daemons (`autosolve run`).',
    `Leave ${from} as it is and start no daemon on it again: it would answer anew what the new database answers.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
