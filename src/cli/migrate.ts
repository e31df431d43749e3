/** `autosolve migrate up | down [N] | status | fresh`. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { MIGRATION_NAMES, openDatabase, SchemaMigrator } from '../infra/store/index.js';
import { UsageError } from './errors.js';
import { loadFor, withConfigOption, type ConfigOption } from './shared.js';

function databasePath(options: ConfigOption): string {
  return resolve(loadFor(options, false).config.database.sqlitePath);
}

async function withMigrator(options: ConfigOption | string, work: (migrator: SchemaMigrator, path: string) => Promise<void>): Promise<void> {
  const database = openDatabase(typeof options === 'string' ? options : databasePath(options));
  try {
    await work(new SchemaMigrator(database.db, database.path), database.path);
  } finally {
    await database.close();
  }
}

function report(verb: string, names: readonly string[], path: string): void {
  process.stdout.write(names.length === 0 ? `nothing to ${verb} (${path})\n` : names.map((n) => `${verb}: ${n}\n`).join(''));
}

export function migrateCommand(): Command {
  const migrate = new Command('migrate').description('manage the database schema');

  withConfigOption(migrate.command('up'))
    .description('apply every pending migration')
    .action((options: ConfigOption) => withMigrator(options, async (m, path) => report('applied', await m.up(), path)));

  withConfigOption(migrate.command('down'))
    .argument('[steps]', 'how many migrations to revert', '1')
    .description('revert the last N migrations (default 1)')
    .action((steps: string, options: ConfigOption) => {
      const count = Number(steps);
      if (!Number.isInteger(count) || count < 1) throw new UsageError(`migrate down: expected a positive whole number of steps, got "${steps}"`);
      return withMigrator(options, async (m, path) => report('reverted', await m.down(count), path));
    });

  withConfigOption(migrate.command('status'))
    .description('list migrations and whether each is applied (creates nothing)')
    .action(async (options: ConfigOption) => {
      // Looking must not create: an empty file at a mistyped path would look like a real, empty database.
      const path = databasePath(options);
      if (!existsSync(path)) {
        process.stdout.write(`database: ${path} does not exist yet (\`autosolve migrate up\` or \`autosolve run\` creates it)\n`);
        for (const name of MIGRATION_NAMES) process.stdout.write(`pending  ${name}\n`);
        return;
      }
      await withMigrator(path, async (m) => {
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
      const target = databasePath(options);
      if (options.yes !== true) {
        throw new UsageError(`migrate fresh deletes every issue, queue job and cursor in ${target}; to do that, run \`autosolve migrate fresh --yes\``);
      }
      return withMigrator(target, async (m, path) => {
        await m.fresh();
        process.stdout.write(`fresh schema applied (${path})\n`);
      });
    });
  return migrate;
}
