/** What several commands share: the --config option, loading it, opening the database. */
import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { enableDebugOutput } from './errors.js';
import { openDatabase, SchemaMigrator, type Database } from '../infra/store/index.js';

export interface ConfigOption {
  readonly config?: string;
}

export function withConfigOption(command: Command): Command {
  return command.option('-c, --config <file>', 'configuration file (default: $AUTOSOLVE_CONFIG, else ./config.yml)');
}

export function loadFor(options: ConfigOption, forRun: boolean): LoadedConfig {
  const loaded = loadConfig({ file: options.config, forRun });
  if (loaded.config.log.debug) enableDebugOutput();
  return loaded;
}

/** Opens the database and applies pending migrations (refusing a newer schema). */
export async function openMigrated(path: string): Promise<Database> {
  const database = openDatabase(path);
  try {
    await new SchemaMigrator(database.db, database.path).up();
    return database;
  } catch (error) {
    await database.close();
    throw error;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
