import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { runCli, tempDir, writeFile } from './support/cli.js';
import { MIGRATION_NAMES } from '../src/infra/store/index.js';

describe('database and migrations (CLI)', () => {
  let dir: { path: string; cleanup: () => void };
  const env = (dbPath: string) => ({ AUTOSOLVE_DATABASE_SQLITEPATH: dbPath });
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  it('migrates up, down and up again, recording each step, in a folder it creates', async () => {
    const db = join(dir.path, 'nested/deeper/autosolve.db');
    const up = await runCli(['migrate', 'up'], { cwd: dir.path, env: env(db) });
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /applied: 001-initial\napplied: 002-claim-indexes/);
    assert.ok(existsSync(db));
    const status = await runCli(['migrate', 'status'], { cwd: dir.path, env: env(db) });
    assert.match(status.stdout, /^applied\s+001-initial/m);
    assert.match(status.stdout, /^applied\s+002-claim-indexes/m);

    const one = await runCli(['migrate', 'down'], { cwd: dir.path, env: env(db) });
    assert.equal(one.code, 0, one.stderr);
    // Every migration added later is the last one: the test follows the list.
    const last = MIGRATION_NAMES.at(-1) ?? '';
    assert.equal(one.stdout, `reverted: ${last}\n`);
    const partly = await runCli(['migrate', 'status'], { cwd: dir.path, env: env(db) });
    assert.match(partly.stdout, /^applied\s+001-initial/m);
    assert.match(partly.stdout, new RegExp(`^pending\\s+${last}`, 'm'));

    const down = await runCli(['migrate', 'down', '99'], { cwd: dir.path, env: env(db) });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout, MIGRATION_NAMES.slice(0, -1).reverse().map((name) => `reverted: ${name}\n`).join(''));
    const after = await runCli(['migrate', 'status'], { cwd: dir.path, env: env(db) });
    assert.match(after.stdout, /^pending\s+001-initial/m);
    const sqlite = new BetterSqlite3(db, { readonly: true });
    const tables = sqlite.prepare(`SELECT name FROM sqlite_master WHERE type='table' AND name IN ('issues','jobs')`).all();
    sqlite.close();
    assert.deepEqual(tables, [], 'down dropped the tables');

    const again = await runCli(['migrate', 'up'], { cwd: dir.path, env: env(db) });
    assert.match(again.stdout, /applied: 001-initial\napplied: 002-claim-indexes/);
    const fresh = await runCli(['migrate', 'fresh'], { cwd: dir.path, env: env(db) });
    assert.equal(fresh.code, 0, fresh.stderr);
  });

  it('exits 1 naming the path when the database is not a SQLite file', async () => {
    const file = writeFile(dir.path, 'notes.db', 'these are my notes, not a database\n'.repeat(100));
    const result = await runCli(['migrate', 'up'], { cwd: dir.path, env: env(file) });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`cannot use the database ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the file is not a SQLite database`));
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    assert.equal(readFileSync(file, 'utf8').slice(0, 10), 'these are ', 'file untouched');
  });

  it('exits 1 naming the path when it cannot be written', async () => {
    const blocker = writeFile(dir.path, 'plain-file', 'x');
    const result = await runCli(['migrate', 'up'], { cwd: dir.path, env: env(join(blocker, 'sub/autosolve.db')) });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot use the database .*plain-file\/sub\/autosolve\.db/);

    const locked = join(dir.path, 'locked');
    mkdirSync(locked);
    writeFileSync(join(locked, 'autosolve.db'), '');
    chmodSync(locked, 0o500);
    if (process.getuid?.() !== 0) {
      const denied = await runCli(['migrate', 'up'], { cwd: dir.path, env: env(join(locked, 'other.db')) });
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /locked\/other\.db/);
    }
  });

  it('refuses a database whose schema is newer than this build, and changes nothing', async () => {
    const db = join(dir.path, 'newer.db');
    assert.equal((await runCli(['migrate', 'up'], { cwd: dir.path, env: env(db) })).code, 0);
    const sqlite = new BetterSqlite3(db);
    sqlite.prepare(`INSERT INTO kysely_migration (name, timestamp) VALUES ('999-from-the-future', '2030-01-01T00:00:00Z')`).run();
    const before = sqlite.prepare('SELECT name FROM kysely_migration ORDER BY name').all();
    sqlite.close();

    for (const args of [['migrate', 'up'], ['migrate', 'down'], ['migrate', 'fresh']]) {
      const result = await runCli(args, { cwd: dir.path, env: env(db) });
      assert.equal(result.code, 1, args.join(' '));
      assert.match(result.stderr, /newer schema than this build of autosolve \(unknown migrations: 999-from-the-future\)/);
    }
    const check = new BetterSqlite3(db, { readonly: true });
    assert.deepEqual(check.prepare('SELECT name FROM kysely_migration ORDER BY name').all(), before);
    assert.ok(check.prepare(`SELECT name FROM sqlite_master WHERE name = 'issues'`).get(), 'tables intact');
    check.close();
  });
});
