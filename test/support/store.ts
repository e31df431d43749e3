/** A fresh SQLite file per test, with the real migrations. */
import { join } from 'node:path';
import { openDatabase, SchemaMigrator, type Database } from '../../src/infra/store/index.js';
import { tempDir } from './cli.js';

export async function freshDatabase(): Promise<{ database: Database; dir: string; cleanup: () => Promise<void> }> {
  const dir = tempDir('autosolve-db-');
  const database = await openDatabase(join(dir.path, 'test.db'));
  await new SchemaMigrator(database.db, database.path).up();
  return {
    database,
    dir: dir.path,
    cleanup: async () => {
      await database.close();
      dir.cleanup();
    },
  };
}
