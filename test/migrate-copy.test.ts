// `autosolve migrate copy --from sqlite:PATH --to postgres://…`: a daemon's installation moves to PostgreSQL
// with its cursors, queue and answered state, and the daemon carries on there without answering anything twice.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { COMMENT_MARKER } from '../src/domain/entities.js';
import { copyDatabase, openDatabase, SchemaMigrator, tablesNotCovered, UnknownTableError, type Database } from '../src/infra/store/index.js';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir, writeFile, type CliResult } from './support/cli.js';
import { daemonConfig, inspectDatabase, jobsOf, listRequests, simulator, type DaemonConfig } from './support/daemon.js';
import { createSchema, dropSchema, postgresMissing, schemaUrl, testEngines } from './support/engines.js';
import { skipUnlessAvailable } from './support/skips.js';

const PASSWORD = 'pw-Cq73vN-never-shown';
/** The test server trusts every login, so any password connects: what matters is that it never shows. */
const withPassword = (url: string) => {
  const parsed = new URL(url);
  parsed.password = PASSWORD;
  return parsed.toString();
};
/** Tables a move leaves behind, by this test's own account (not the code's list, so dropping one there fails here). */
const NOT_MOVED = new Set(['instances', 'work_leases', 'kysely_migration', 'kysely_migration_lock']);

type Row = Record<string, unknown>;
const sorted = (rows: Row[]) => rows.map((r) => JSON.stringify(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)))).sort();

function sqliteTables(path: string): string[] {
  return inspectDatabase(path, (db) => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'").all() as Array<{ name: string }>).map((r) => r.name));
}
function sqliteRows(path: string, table: string): Row[] {
  return inspectDatabase(path, (db) => db.prepare(`SELECT * FROM ${table}`).all() as Row[]);
}
async function withPostgres<T>(schema: string, look: (database: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase(schemaUrl(schema));
  try {
    return await look(database);
  } finally {
    await database.close();
  }
}
const pgRows = (database: Database, table: string) => sql<Row>`SELECT * FROM ${sql.table(table)}`.execute(database.db).then((r) => r.rows);
const pgTables = (database: Database) =>
  sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()`.execute(database.db).then((r) => r.rows.map((t) => t.name).sort());

describe('autosolve migrate copy', async () => {
  const skip = skipUnlessAvailable({ what: 'PostgreSQL', missing: await postgresMissing(), requiredBy: 'AUTOSOLVE_REQUIRE_POSTGRES' });
  let dir: { path: string; cleanup: () => void };
  const schemas: string[] = [];
  const outputs: CliResult[] = [];
  const newSchema = async () => {
    const schema = await createSchema();
    schemas.push(schema);
    return schema;
  };
  const copy = async (from: string, schema: string, extra: readonly string[] = []) => {
    const result = await runCli(['migrate', 'copy', '--from', `sqlite:${from}`, '--to', withPassword(schemaUrl(schema)), ...extra], { cwd: dir.path });
    outputs.push(result);
    return result;
  };
  /** A migrated SQLite file, made through the library (the CLI needs a configuration for `migrate up`). */
  const sqliteAt = async (name: string, prepare?: (database: Database) => Promise<void>) => {
    const path = join(dir.path, name);
    const database = await openDatabase(path);
    try {
      await new SchemaMigrator(database.db, database.path).up();
      await prepare?.(database);
    } finally {
      await database.close();
    }
    return path;
  };

  before(() => {
    dir = tempDir();
  });
  after(async () => {
    for (const schema of schemas) await dropSchema(schema);
    dir.cleanup();
  });

  describe("moves a daemon's installation, and the daemon carries on there", { skip }, () => {
    let sim: Simulator;
    let config: DaemonConfig;
    let schema = '';
    let failFlag = '';
    const answers = (repo: string, n: number) => sim.comments('acme', repo, n).filter((c) => c.body.includes(COMMENT_MARKER)).length;

    before(async () => {
      const labelled = (n: number) => ({ title: `Issue ${n}`, labels: ['autosolve'] });
      sim = await simulator([
        { owner: 'acme', name: 'api', issues: [labelled(1), labelled(2), labelled(3), labelled(4), { title: 'Question' }] },
        { owner: 'acme', name: 'web', issues: [labelled(1), { title: 'Idea' }] },
      ]);
      failFlag = join(dir.path, 'fail');
      writeFile(dir.path, 'fail', '');
      const script = writeFile(
        dir.path,
        'executor.cjs',
        `const fs = require('fs'); const input = JSON.parse(fs.readFileSync(0, 'utf8'));
if (fs.existsSync(${JSON.stringify(failFlag)}) && input.number >= 3) { process.stderr.write('model crashed'); process.exit(3); }
process.stdout.write('Answer for ' + input.repository + '#' + input.number);`,
      );
      config = daemonConfig(dir.path, sim, ['acme/api', 'acme/web'], {
        github: { issues: { requiredLabel: 'autosolve' } },
        ai: { provider: 'command', command: { run: [process.execPath, script] }, maxAttempts: 1 },
      });
      // On SQLite: api#1, api#2 and web#1 answered; api#3 and api#4 dead; api#4's job retried, so pending.
      const run = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
      assert.equal(run.code, 3, run.stdout + run.stderr);
      const dead4 = jobsOf(config.database).find((j) => j.number === 4);
      assert.ok(dead4);
      const retry = await runCli(['jobs', 'retry', String(dead4.id), '--config', config.file], { cwd: dir.path });
      assert.equal(retry.code, 0, retry.stderr);
      assert.deepEqual(
        jobsOf(config.database).map((j) => [j.number, j.state, j.outcome]),
        [[1, 'done', 'answered'], [2, 'done', 'answered'], [3, 'dead', null], [4, 'pending', null], [1, 'done', 'answered']],
      );
      schema = await newSchema();
    });
    after(async () => {
      await sim.close();
    });

    it('copies every row of every table but the instances, ids and fields as they were, and says what is next', async () => {
      const result = await copy(config.database, schema);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^target migrated: \d+ migrations applied/m);
      assert.match(result.stdout, /point database\.url \(or DATABASE_URL\) at the new database and start the daemons/);
      const printed = new Map([...result.stdout.matchAll(/^ {2}(\w+) +(\d+)$/gm)].map((m) => [m[1], Number(m[2])]));

      const tables = sqliteTables(config.database).filter((t) => !NOT_MOVED.has(t));
      assert.ok(tables.includes('jobs') && tables.includes('sync_cursors'), tables.join());
      await withPostgres(schema, async (pg) => {
        for (const table of tables) {
          const before = sqliteRows(config.database, table);
          const moved = await pgRows(pg, table);
          assert.equal(printed.get(table), before.length, `${table}: the printed count`);
          assert.equal(moved.length, before.length, `${table}: rows`);
          assert.deepEqual(sorted(moved), sorted(before), `${table}: every field`);
        }
        assert.deepEqual(await pgRows(pg, 'instances'), [], "the old daemon's registration stays behind");
        const [job] = await pgRows(pg, 'jobs').then((rows) => rows.filter((r) => r.state === 'pending'));
        const [original] = sqliteRows(config.database, 'jobs').filter((r) => r.state === 'pending');
        assert.deepEqual(job, original, 'the pending job, field by field');
      });
      assert.ok(sqliteRows(config.database, 'jobs').some((r) => typeof r.comment_url === 'string'), 'answered jobs carry their comment url');
    });

    it('the daemon on PostgreSQL answers the pending job and new issues, nothing twice, resuming from the copied cursors, with fresh ids', async () => {
      const copiedMax = await withPostgres(schema, async (pg) => ({
        job: Math.max(...(await pgRows(pg, 'jobs')).map((r) => Number(r.id))),
        issue: Math.max(...(await pgRows(pg, 'issues')).map((r) => Number(r.id))),
        jobs: await pgRows(pg, 'jobs'),
        repositories: await pgRows(pg, 'repositories'),
        cursors: (await pgRows(pg, 'sync_cursors')).filter((c) => c.topic === 'issues'),
      }));
      assert.equal(copiedMax.cursors.length, 2, JSON.stringify(copiedMax.cursors));
      const { rmSync } = await import('node:fs');
      rmSync(failFlag);
      sim.addIssue('acme', 'api', { title: 'Issue 6', labels: ['autosolve'] });
      sim.clearRequests();
      const run = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path, env: { DATABASE_URL: withPassword(schemaUrl(schema)) } });
      outputs.push(run);
      assert.equal(run.code, 0, run.stdout + run.stderr);

      for (const [repo, n, expected] of [['api', 1, 1], ['api', 2, 1], ['api', 3, 0], ['api', 4, 1], ['api', 6, 1], ['web', 1, 1]] as const) {
        assert.equal(answers(repo, n), expected, `acme/${repo}#${n}: marker comments`);
      }
      // Each repository's first issue list resumes from its copied cursor: its since and its ETag.
      for (const cursor of copiedMax.cursors) {
        const repo = copiedMax.repositories.find((r) => r.id === cursor.repository_id);
        const [first] = listRequests(sim, `${String(repo?.owner)}/${String(repo?.name)}`);
        assert.ok(first, `acme/${String(repo?.name)} was polled`);
        assert.equal(first.query.since ?? null, cursor.since, `${first.path}: since`);
        assert.equal(first.ifNoneMatch, cursor.etag, `${first.path}: If-None-Match`);
      }
      assert.ok(copiedMax.cursors.some((c) => c.since !== null || c.etag !== null), 'the copied cursors say where to resume');

      await withPostgres(schema, async (pg) => {
        const jobs = await pgRows(pg, 'jobs');
        const added = jobs.filter((j) => Number(j.id) > copiedMax.job);
        assert.equal(added.length, 1, 'one new queue job, for the new issue only: ' + JSON.stringify(added));
        const issue6 = (await pgRows(pg, 'issues')).find((i) => i.number === 6);
        assert.ok(issue6 && Number(issue6.id) > copiedMax.issue, 'the new issue has a fresh id');
        assert.equal(added[0]?.issue_github_id, issue6.github_id);
        assert.equal(added[0]?.outcome, 'answered');
        for (const old of copiedMax.jobs) {
          const now = jobs.find((j) => j.id === old.id);
          if (old.state === 'pending') assert.equal(now?.outcome, 'answered', 'the copied pending job ran');
          else assert.deepEqual(now, old, `copied job ${String(old.id)} untouched`);
        }
      });
    });

    it('refuses a target that holds data, naming what it holds, and changes nothing', async () => {
      const snapshot = () => withPostgres(schema, async (pg) => Promise.all(['repositories', 'issues', 'jobs', 'sync_cursors'].map((t) => pgRows(pg, t).then(sorted))));
      const before = await snapshot();
      const result = await copy(config.database, schema);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, /the target postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/test\S* already holds data \(2 repositories, \d+ issues, \d+ sync_cursors, 6 jobs.*\); nothing was copied/);
      assert.deepEqual(await snapshot(), before);
    });
  });

  describe('refusals and failures (CLI)', { skip }, () => {
    it('refuses a source behind this build, naming the fix, and a missing source; the target is not touched', async () => {
      const behind = await sqliteAt('behind.db', async (database) => {
        await new SchemaMigrator(database.db, database.path).down(1);
      });
      const schema = await newSchema();
      const result = await copy(behind, schema);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, /the source \S+behind\.db is behind this build's schema \(pending: \d{3}-[\w-]+\); bring it up to date first with `autosolve migrate up`/);
      const missing = await copy(join(dir.path, 'nowhere.db'), schema);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /the source \S+nowhere\.db does not exist/);
      await withPostgres(schema, async (pg) => assert.deepEqual(await pgTables(pg), [], 'nothing created in the target'));
    });

    it('refuses a source a daemon still uses, naming it', async () => {
      const busy = await sqliteAt('busy.db');
      const now = new Date().toISOString();
      const sqlite = new BetterSqlite3(busy);
      // This test's own process stands for a daemon alive on this host.
      sqlite.prepare(`INSERT INTO instances (id, host, pid, version, started_at, heartbeat_at) VALUES ('daemon', ?, ?, '0.1.0', ?, ?)`).run(hostname(), process.pid, now, now);
      sqlite.close();
      const schema = await newSchema();
      const result = await copy(busy, schema);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, new RegExp(`an autosolve daemon pid ${process.pid} on host \\S+ is using the database \\S+busy\\.db .*stop it first`));
      await withPostgres(schema, async (pg) => assert.deepEqual(await pgTables(pg), []));
    });

    it('a row the target cannot take midway rolls the whole copy back', async () => {
      // PostgreSQL text cannot hold a NUL byte, SQLite's can: the jobs come after repositories and issues.
      const source = await sqliteAt('nul.db', async ({ db }) => {
        const at = '2025-01-01T00:00:00.000Z';
        const { id } = await db.insertInto('repositories').values({ owner: 'acme', name: 'api', github_id: 7, validated_at: at, created_at: at, first_synced_at: at, organization: null, dropped_at: null, drop_reason: null, detection_path: null }).returning('id').executeTakeFirstOrThrow();
        await db.insertInto('issues').values({ github_id: 70, repository_id: id, number: 1, title: 'One', body: null, state: 'open', is_pull_request: 0, labels: '[]', author: 'a', html_url: 'u', comments_count: 0, created_at: at, updated_at: at, synced_at: at }).execute();
        await db.insertInto('jobs').values({ type: 'answer', repository_id: id, issue_github_id: 70, state: 'dead', attempts: 1, max_attempts: 1, run_after: at, locked_until: null, locked_by: null, owner_instance: null, owner_host: null, owner_pid: null, last_error: 'model wrote \u0000', outcome: null, comment_url: null, payload: '{}', created_at: at, updated_at: at, finished_at: at }).execute();
      });
      const schema = await newSchema();
      const result = await copy(source, schema);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, /copying into \S+ failed and was rolled back, so the target holds no data: .*jobs/);
      await withPostgres(schema, async (pg) => {
        for (const table of ['repositories', 'issues', 'jobs']) assert.deepEqual(await pgRows(pg, table), [], `${table} is empty`);
      });
    });

    it('exits 2 on usage errors, naming the flag and never its value', async () => {
      const url = withPassword(schemaUrl('public'));
      for (const [args, message] of [
        [['--from', 'autosolve.db', '--to', url], /--from takes sqlite:PATH/],
        [['--from', url, '--to', url], /--from takes sqlite:PATH.*copying from PostgreSQL is not supported/],
        [['--from', 'sqlite:', '--to', url], /--from sqlite: needs the path/],
        [['--from', 'sqlite:a.db', '--to', `mysql://app:${PASSWORD}@db/autosolve`], /--to takes a postgres:\/\/user:password@host:5432\/database URL/],
        [['--from', 'sqlite:a.db', '--to', join(dir.path, 'b.db')], /--to takes a postgres:\/\//],
        [['--from', 'sqlite:a.db'], /required option '--to <url>'/],
      ] as const) {
        const result = await runCli(['migrate', 'copy', ...args], { cwd: dir.path });
        outputs.push(result);
        assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
        assert.match(result.stderr, message);
      }
    });

    it('never prints the password, in any output above', () => {
      assert.ok(outputs.length >= 10, `${outputs.length} outputs`);
      for (const { stdout, stderr } of outputs) assert.ok(!`${stdout}${stderr}`.includes(PASSWORD), `${stdout}${stderr}`);
    });
  });

  describe('copyDatabase', async () => {
    for (const engine of await testEngines()) {
      it(`pages every table by its key, composite keys included, into ${engine.name} (batches of 3)`, { skip: engine.skip }, async () => {
        const source = await sqliteAt(`paged-${engine.name}.db`, async ({ db }) => {
          const at = (i: number) => new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString();
          for (let r = 1; r <= 4; r++) {
            const { id } = await db.insertInto('repositories').values({ owner: `o${r % 2}`, name: `r${r}`, github_id: 100 + r, validated_at: at(r), created_at: at(r), first_synced_at: null, organization: null, dropped_at: null, drop_reason: null, detection_path: null }).returning('id').executeTakeFirstOrThrow();
            for (const topic of ['issues', 'comments', 'a', 'b']) {
              await db.insertInto('sync_cursors').values({ repository_id: id, topic, since: at(r), page: r, etag: `"${r}${topic}"`, updated_at: at(r), last_polled_at: null, last_error: null, last_error_at: null }).execute();
            }
            for (let n = 1; n <= 5; n++) {
              const github = r * 1000 + n;
              await db.insertInto('issues').values({ github_id: github, repository_id: id, number: n, title: `T${n}`, body: n % 2 ? null : 'b', state: 'open', is_pull_request: 0, labels: '["x"]', author: null, html_url: 'u', comments_count: n, created_at: at(n), updated_at: at(n), synced_at: at(n) }).execute();
              await db.insertInto('jobs').values({ type: 'answer', repository_id: id, issue_github_id: github, state: 'done', attempts: 1, max_attempts: 3, run_after: at(n), locked_until: null, locked_by: null, owner_instance: null, owner_host: null, owner_pid: null, last_error: null, outcome: 'answered', comment_url: `c${github}`, payload: '{}', created_at: at(n), updated_at: at(n), finished_at: at(n) }).execute();
            }
          }
          // Gaps in the ids stay gaps: ids are kept, not renumbered.
          await db.deleteFrom('jobs').where('id', '=', 2).execute();
          for (const owner of ['a', 'b', 'c']) {
            for (const name of ['x', 'y', 'z']) await db.insertInto('setup_failures').values({ owner, name, error: `${owner}/${name}`, failed_at: at(1) }).execute();
            await db.insertInto('scope_cursors').values({ scope: `org:${owner}`, since: null, page: 1, etag: null, updated_at: at(1), last_polled_at: null, last_error: null, last_error_at: null }).execute();
            await db.insertInto('state').values({ key: `k.${owner}`, value: '{}', updated_at: at(1) }).execute();
            await db.insertInto('github_holds').values({ credential: `cred-${owner}`, hold_until: Date.UTC(2025, 0, 1), reason: 'secondary', updated_at: at(1) }).execute();
          }
          // The write budget's history has no key: the same write twice must arrive twice.
          for (const at of [1, 2, 2, 3, 4, 5, 6]) await db.insertInto('github_writes').values({ credential: 'cred-a', at: Date.UTC(2025, 0, 1) + at, instance: 'old' }).execute();
        });
        const from = await openDatabase(source);
        const target = await engine.fresh();
        try {
          const counts = await copyDatabase(from, target.database, { batchSize: 3 });
          const expected = { repositories: 4, issues: 20, sync_cursors: 16, scope_cursors: 3, jobs: 19, state: 3, setup_failures: 9, github_writes: 7, github_holds: 3 };
          assert.deepEqual(Object.fromEntries(counts.map((c) => [c.table, c.rows])), expected);
          for (const table of Object.keys(expected)) {
            const moved = await sql<Row>`SELECT * FROM ${sql.table(table)}`.execute(target.database.db);
            assert.deepEqual(sorted(moved.rows), sorted(sqliteRows(source, table)), table);
          }
          // The next id follows the copied maximum (PostgreSQL: the sequence was moved past it).
          const { id } = await target.database.db.insertInto('repositories').values({ owner: 'new', name: 'one', github_id: null, validated_at: null, created_at: 'now', first_synced_at: null, organization: null, dropped_at: null, drop_reason: null, detection_path: null }).returning('id').executeTakeFirstOrThrow();
          assert.equal(id, 5);
          const job = await target.database.db.insertInto('jobs').values({ type: 'answer', repository_id: id, issue_github_id: 1, state: 'pending', attempts: 0, max_attempts: 3, run_after: 'now', locked_until: null, locked_by: null, owner_instance: null, owner_host: null, owner_pid: null, last_error: null, outcome: null, comment_url: null, payload: '{}', created_at: 'now', updated_at: 'now', finished_at: null }).returning('id').executeTakeFirstOrThrow();
          assert.equal(job.id, 21);
        } finally {
          await from.close();
          await target.cleanup();
        }
      });

      it(`refuses a target on ${engine.name} at another schema than the source`, { skip: engine.skip }, async () => {
        const source = await openDatabase(await sqliteAt(`schema-${engine.name}.db`));
        const target = await engine.fresh();
        try {
          await new SchemaMigrator(target.database.db, target.database.path).down(1);
          await assert.rejects(copyDatabase(source, target.database), /are at different schemas; migrate both to this build's latest first/);
        } finally {
          await source.close();
          await target.cleanup();
        }
      });

      it(`every table a migration creates on ${engine.name} is copied or deliberately skipped`, { skip: engine.skip }, async () => {
        const store = await engine.fresh();
        try {
          assert.deepEqual(await tablesNotCovered(store.database.db), [], 'add the table to COPIED_TABLES or SKIPPED_TABLES in src/infra/store/copy.ts');
          await store.database.db.schema.createTable('mystery').addColumn('id', 'integer').execute();
          assert.deepEqual(await tablesNotCovered(store.database.db), ['mystery']);
          const other = await engine.fresh();
          try {
            await assert.rejects(copyDatabase(store.database, other.database), (error: unknown) => error instanceof UnknownTableError && /mystery/.test(error.message));
          } finally {
            await other.cleanup();
          }
        } finally {
          await store.cleanup();
        }
      });
    }
  });
});
