/** `autosolve migrate up | down [N] | status | fresh`. */
import { Command } from 'commander';
import { openDatabase, SchemaMigrator } from '../infra/store/index.js';
import { UsageError } from './errors.js';
import { loadFor, withConfigOption, type ConfigOption } from './shared.js';

async function withMigrator(options: ConfigOption, work: (migrator: SchemaMigrator, path: string) => Promise<void>): Promise<void> {
  const { config } = loadFor(options, false);
  const database = openDatabase(config.database.sqlitePath);
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
    .description('list migrations and whether each is applied')
    .action((options: ConfigOption) =>
      withMigrator(options, async (m, path) => {
        process.stdout.write(`database: ${path}\n`);
        for (const { name, executedAt } of await m.status()) {
          process.stdout.write(`${executedAt ? 'applied' : 'pending'}  ${name}${executedAt ? `  ${executedAt.toISOString()}` : ''}\n`);
        }
      }),
    );

  withConfigOption(migrate.command('fresh'))
    .description('revert everything and apply every migration: an empty database (deletes all data)')
    .action((options: ConfigOption) =>
      withMigrator(options, async (m, path) => {
        await m.fresh();
        process.stdout.write(`fresh schema applied (${path})\n`);
      }),
    );
  return migrate;
}
