/** What several commands share: the --config option, loading it, opening an existing database, JSON output. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { openDatabase, SchemaMigrator, type Database } from '../infra/store/index.js';
import { enableDebugOutput, UserFacingError } from './errors.js';

export interface ConfigOption {
  readonly config?: string;
}

export function withConfigOption(command: Command): Command {
  return command.option('-c, --config <file>', 'configuration file (default: $AUTOSOLVE_CONFIG, else ./config.yml)');
}

export function loadFor(options: ConfigOption, forRun: boolean): LoadedConfig {
  const loaded = loadConfig({ file: options.config, forRun });
  for (const warning of loaded.warnings) process.stderr.write(`autosolve: warning: ${warning}\n`);
  if (loaded.config.log.debug) enableDebugOutput();
  return loaded;
}

/**
 * Opens a database the daemon already made. Read-mostly commands never create
 * one (an empty file would hide a wrong path) nor migrate one behind the user's back.
 */
export async function openExistingDatabase(settings: Config['database']): Promise<Database> {
  if (!settings.url) {
    const absolute = resolve(settings.sqlitePath);
    if (!existsSync(absolute)) throw new UserFacingError(`no database at ${absolute} yet: run \`autosolve run\` first`);
  }
  const database = await openDatabase(settings.url ? settings : resolve(settings.sqlitePath), { mustExist: true });
  const absolute = database.path;
  try {
    const pending = (await new SchemaMigrator(database.db, database.path).status()).filter((m) => m.executedAt === null);
    if (pending.length > 0) {
      throw new UserFacingError(
        `the database at ${absolute} lacks migrations (${pending.map((m) => m.name).join(', ')}): run \`autosolve migrate up\` or \`autosolve run\` first`,
      );
    }
    return database;
  } catch (error) {
    await database.close();
    throw error;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
