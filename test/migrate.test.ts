import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { MIGRATION_NAMES } from '../src/infra/store/migrator.js';
import { runCli, tempDir, writeFile } from './support/cli.js';
import { runningAsRoot } from './support/skips.js';

// Derived from the list, so that adding a migration does not rewrite this test.
const APPLIED_ALL = MIGRATION_NAMES.map((name) => `applied: ${name}\n`).join('');
const LAST = MIGRATION_NAMES.at(-1) ?? '';
const BEFORE_LAST = MIGRATION_NAMES.at(-2) ?? '';
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

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
    assert.equal(up.stdout, APPLIED_ALL);
    assert.ok(existsSync(db));
    const status = await runCli(['migrate', 'status'], { cwd: dir.path, env: env(db) });
    assert.match(status.stdout, /^applied\s+001-initial/m);
    assert.match(status.stdout, new RegExp(`^applied\\s+${LAST}`, 'm'));

    const one = await runCli(['migrate', 'down', '--yes'], { cwd: dir.path, env: env(db) });
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, `reverted: ${LAST}\n`);
    const partly = await runCli(['migrate', 'status'], { cwd: dir.path, env: env(db) });
    assert.match(partly.stdout, new RegExp(`^applied\\s+${BEFORE_LAST}`, 'm'));
    assert.match(partly.stdout, new RegExp(`^pending\\s+${LAST}`, 'm'));

    const down = await runCli(['migrate', 'down', String(MIGRATION_NAMES.length + 3), '--yes'], { cwd: dir.path, env: env(db) });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout, MIGRATION_NAMES.slice(0, -1).reverse().map((name) => `reverted: ${name}\n`).join(''));
    const after = await runCli(['migrate', 'status'], { cwd: dir.path, env: env(db) });
    assert.match(after.stdout, /^pending\s+001-initial/m);
    const sqlite = new BetterSqlite3(db, { readonly: true });
    const tables = sqlite.prepare(`SELECT name FROM sqlite_master WHERE type='table' AND name IN ('issues','jobs')`).all();
    sqlite.close();
    assert.deepEqual(tables, [], 'down dropped the tables');

    const again = await runCli(['migrate', 'up'], { cwd: dir.path, env: env(db) });
    assert.equal(again.stdout, APPLIED_ALL);
    const fresh = await runCli(['migrate', 'fresh', '--yes'], { cwd: dir.path, env: env(db) });
    assert.equal(fresh.code, 0, fresh.stderr);
  });

  it('migrate status says a missing database is missing and creates nothing', async () => {
    const folder = join(dir.path, 'not-yet');
    const db = join(folder, 'autosolve.db');
    const status = await runCli(['migrate', 'status'], { cwd: dir.path, env: env(db) });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`database: ${escape(db)} does not exist yet \\(\`autosolve migrate up\` or \`autosolve run\` creates it\\)`));
    assert.match(status.stdout, /^pending\s+001-initial$/m);
    assert.ok(!existsSync(db), 'no database file');
    assert.ok(!existsSync(folder), 'no folder either');
  });

  it('migrate fresh refuses without --yes, says how, and deletes nothing', async () => {
    const db = join(dir.path, 'keep.db');
    assert.equal((await runCli(['migrate', 'up'], { cwd: dir.path, env: env(db) })).code, 0);
    // fresh re-applies every migration, so the recorded times tell whether it ran.
    const applied = () => {
      const sqlite = new BetterSqlite3(db, { readonly: true });
      try {
        return sqlite.prepare('SELECT name, timestamp FROM kysely_migration ORDER BY name').all();
      } finally {
        sqlite.close();
      }
    };
    const before = applied();

    const refused = await runCli(['migrate', 'fresh'], { cwd: dir.path, env: env(db) });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, new RegExp(`migrate fresh deletes every issue, queue job and cursor in ${escape(db)}; to do that, run \`autosolve migrate fresh --yes\``));
    assert.deepEqual(applied(), before, 'nothing was reverted or re-applied');
    const confirmed = await runCli(['migrate', 'fresh', '--yes'], { cwd: dir.path, env: env(db) });
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.notDeepEqual(applied(), before, 'with --yes it does run');
  });

  it('migrate down refuses without --yes, naming the exact command, and reverts nothing', async () => {
    const db = join(dir.path, 'down.db');
    assert.equal((await runCli(['migrate', 'up'], { cwd: dir.path, env: env(db) })).code, 0);
    const refused = await runCli(['migrate', 'down', '2'], { cwd: dir.path, env: env(db) });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, new RegExp(`migrate down reverts the last 2 migrations of ${escape(db)}, deleting what they hold; to do that, run \`autosolve migrate down 2 --yes\``));
    const status = await runCli(['migrate', 'status'], { cwd: dir.path, env: env(db) });
    assert.match(status.stdout, new RegExp(`^applied\\s+${LAST}`, 'm'), 'nothing was reverted');
  });

  it('migrate fresh and down refuse while a daemon uses the database, naming it; a gone daemon does not hold them back', async () => {
    const db = join(dir.path, 'busy.db');
    assert.equal((await runCli(['migrate', 'up'], { cwd: dir.path, env: env(db) })).code, 0);
    const register = (host: string, pid: number, heartbeatAt: string) => {
      const sqlite = new BetterSqlite3(db);
      try {
        sqlite.prepare('DELETE FROM instances').run();
        sqlite.prepare(`INSERT INTO instances (id, host, pid, version, started_at, heartbeat_at) VALUES ('daemon', ?, ?, '0.1.0', ?, ?)`).run(host, pid, heartbeatAt, heartbeatAt);
      } finally {
        sqlite.close();
      }
    };
    const now = new Date().toISOString();
    // This test's own process stands for a daemon alive on this host.
    for (const [host, pid] of [[hostname(), process.pid], ['other-host', 4242]] as const) {
      register(host, pid, now);
      for (const args of [['migrate', 'fresh', '--yes'], ['migrate', 'down', '--yes']]) {
        const refused = await runCli(args, { cwd: dir.path, env: env(db) });
        assert.equal(refused.code, 1, `${args.join(' ')}: ${refused.stderr}`);
        assert.match(refused.stderr, new RegExp(`autosolve daemon pid ${pid} on host ${escape(host)} is using the database ${escape(db)}`));
        assert.match(refused.stderr, new RegExp(`stop it first \\(on ${escape(host)}: kill ${pid}\\)`));
      }
      const status = await runCli(['migrate', 'status'], { cwd: dir.path, env: env(db) });
      assert.match(status.stdout, new RegExp(`^applied\\s+${LAST}`, 'm'), 'nothing was reverted');
    }
    register('other-host', 4242, new Date(Date.now() - 10 * 60_000).toISOString());
    const stale = await runCli(['migrate', 'fresh', '--yes'], { cwd: dir.path, env: env(db) });
    assert.equal(stale.code, 0, 'a daemon on another host silent for ten minutes is gone: ' + stale.stderr);
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
  });

  it('exits 1 naming the path when its folder denies writing', { skip: runningAsRoot }, async () => {
    const locked = join(dir.path, 'locked');
    mkdirSync(locked);
    writeFileSync(join(locked, 'autosolve.db'), '');
    chmodSync(locked, 0o500);
    // Writable again afterwards, or the folder's cleanup could not remove what is inside it.
    const denied = await runCli(['migrate', 'up'], { cwd: dir.path, env: env(join(locked, 'other.db')) }).finally(() => chmodSync(locked, 0o700));
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /cannot use the database .*locked\/other\.db/);
  });

  it('refuses a database whose schema is newer than this build, and changes nothing', async () => {
    const db = join(dir.path, 'newer.db');
    assert.equal((await runCli(['migrate', 'up'], { cwd: dir.path, env: env(db) })).code, 0);
    const sqlite = new BetterSqlite3(db);
    sqlite.prepare(`INSERT INTO kysely_migration (name, timestamp) VALUES ('999-from-the-future', '2030-01-01T00:00:00Z')`).run();
    const before = sqlite.prepare('SELECT name FROM kysely_migration ORDER BY name').all();
    sqlite.close();

    for (const args of [['migrate', 'up'], ['migrate', 'down', '--yes'], ['migrate', 'fresh', '--yes']]) {
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
