/** `autosolve migrate up | down [N] | status | fresh | copy`. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { INSTANCE_STALE_MS } from '../composition/instance-heartbeat.js';
import { currentInstance, displayUrl, MIGRATION_NAMES, openDatabase, SchemaMigrator, SqlInstanceRegistry, type Database, type DatabaseTarget } from '../infra/store/index.js';
import { VERSION } from '../version.js';
import { UsageError, UserFacingError } from './errors.js';
import { migrateCopyCommand } from './migrate-copy.js';
import { loadFor, withConfigOption, type ConfigOption } from './shared.js';

/** The configured database: the SQLite file's absolute path, or the PostgreSQL settings. */
function databaseOf(options: ConfigOption): DatabaseTarget {
  const settings = loadFor(options, false).config.database;
  return settings.url ? settings : resolve(settings.sqlitePath);
}

/** How the database is named in messages: never with its password. */
function shown(target: DatabaseTarget): string {
  return typeof target === 'string' ? target : displayUrl(target.url ?? '');
}

async function withMigrator(target: DatabaseTarget, work: (migrator: SchemaMigrator, path: string) => Promise<void>, destructive?: string): Promise<void> {
  const database = await openDatabase(target);
  try {
    if (destructive !== undefined) await refuseWhileDaemonRuns(database, `\`autosolve ${destructive}\` would delete data under it`);
    await work(new SchemaMigrator(database.db, database.path), database.path);
  } finally {
    await database.close();
  }
}

/**
 * Changing (or copying) a database under a running daemon would break it mid-work or miss what it writes next:
 * name the daemon instead (the registry's own liveness rule). `harm` says what the command would do.
 */
async function refuseWhileDaemonRuns(database: Database, harm: string): Promise<void> {
  const registry = new SqlInstanceRegistry(database.db, currentInstance(), { version: VERSION, staleAfterMs: INSTANCE_STALE_MS });
  const [daemon] = await registry.liveOthers();
  if (!daemon) return;
  throw new UserFacingError(
    `an autosolve daemon pid ${daemon.pid} on host ${daemon.host} is using the database ${database.path} ` +
      `(version ${daemon.version}, started ${daemon.startedAt}, last heartbeat ${daemon.heartbeatAt}); ` +
      `${harm}: stop it first (on ${daemon.host}: kill ${daemon.pid}), then run the command again. ` +
      `A daemon that died on another host counts as gone ${Math.round(INSTANCE_STALE_MS / 1000)}s after its last heartbeat.`,
  );
}

function report(verb: string, names: readonly string[], path: string): void {
  process.stdout.write(names.length === 0 ? `nothing to ${verb} (${path})\n` : names.map((n) => `${verb}: ${n}\n`).join(''));
}

export function migrateCommand(): Command {
  const migrate = new Command('migrate').description('manage the database schema');

  withConfigOption(migrate.command('up'))
    .description('apply every pending migration')
    .action((options: ConfigOption) => withMigrator(databaseOf(options), async (m, path) => report('applied', await m.up(), path)));

  withConfigOption(migrate.command('down'))
    .argument('[steps]', 'how many migrations to revert', '1')
    .option('--yes', 'confirm that what the reverted migrations hold is to be deleted')
    .description('revert the last N migrations (default 1; deletes what they hold; needs --yes)')
    .action((steps: string, options: ConfigOption & { yes?: boolean }) => {
      const count = Number(steps);
      if (!Number.isInteger(count) || count < 1) throw new UsageError(`migrate down: expected a positive whole number of steps, got "${steps}"`);
      const target = databaseOf(options);
      const command = `migrate down ${count} --yes`;
      if (options.yes !== true) {
        const what = count === 1 ? 'the last migration' : `the last ${count} migrations`;
        throw new UsageError(`migrate down reverts ${what} of ${shown(target)}, deleting what they hold; to do that, run \`autosolve ${command}\``);
      }
      return withMigrator(target, async (m, path) => report('reverted', await m.down(count), path), command);
    });

  withConfigOption(migrate.command('status'))
    .description('list migrations and whether each is applied (creates nothing)')
    .action(async (options: ConfigOption) => {
      // Looking must not create: an empty file at a mistyped path would look like a real, empty database.
      const target = databaseOf(options);
      if (typeof target === 'string' && !existsSync(target)) {
        process.stdout.write(`database: ${target} does not exist yet (\`autosolve migrate up\` or \`autosolve run\` creates it)\n`);
        for (const name of MIGRATION_NAMES) process.stdout.write(`pending  ${name}\n`);
        return;
      }
      await withMigrator(target, async (m, path) => {
        process.stdout.write(`database: ${path}\n`);
        for (const { name, executedAt } of await m.status()) {
          process.stdout.write(`${executedAt ? 'applied' : 'pending'}  ${name}${executedAt ? `  ${executedAt.toISOString()}` : ''}\n`);
        }
      });
    });

  withConfigOption(migrate.command('fresh'))
    .option('--yes', 'confirm that every issue, queue job and cursor in the database is to be deleted')
    .description('revert everything and apply every migration: an empty database (deletes all data; needs --yes)')
    .action((options: ConfigOption & { yes?: boolean }) => {
      const target = databaseOf(options);
      if (options.yes !== true) {
        throw new UsageError(`migrate fresh deletes every issue, queue job and cursor in ${shown(target)}; to do that, run \`autosolve migrate fresh --yes\``);
      }
      return withMigrator(
        target,
        async (m, path) => {
          await m.fresh();
          process.stdout.write(`fresh schema applied (${path})\n`);
        },
        'migrate fresh --yes',
      );
    });

  migrate.addCommand(migrateCopyCommand(refuseWhileDaemonRuns));
  return migrate;
}
