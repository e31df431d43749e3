import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { DiscoveredRepository } from '../src/domain/fleet/types.js';
import {
  openDatabase,
  SchemaMigrator,
  MIGRATION_NAMES,
  SqlFleetStore,
  SqlIssueSyncStore,
  SqlRepositoryStore,
  SqlScopeSyncStore,
  type Database,
} from '../src/infra/store/index.js';
import { runCli, tempDir, writeFile } from './support/cli.js';
import { issue } from './support/issues.js';
import { testEngines } from './support/engines.js';
import { refuseInserts, relationExists, sharedDatabase } from './support/store.js';

const ANSWER = 'answer';

function listed(owner: string, name: string, githubId: number): DiscoveredRepository {
  return { githubId, owner, name, private: false, htmlUrl: `https://github.com/${owner}/${name}`, archived: false, topics: [] };
}

/**
 * How the engine reads the watermarks' grouped query: from the index alone. PostgreSQL
 * would scan a table this small whatever the indexes, so it is asked how it would do
 * without that choice.
 */
async function groupedPlan(database: Database): Promise<string> {
  const query = 'SELECT repository_id, max(updated_at) FROM issues GROUP BY repository_id';
  if (database.engine === 'sqlite') {
    const plan = await sql<{ detail: string }>`EXPLAIN QUERY PLAN ${sql.raw(query)}`.execute(database.db);
    return plan.rows.map((r) => r.detail).join('\n');
  }
  return database.db.transaction().execute(async (trx) => {
    await sql`SET LOCAL enable_seqscan = off`.execute(trx);
    const plan = await sql<{ 'QUERY PLAN': string }>`EXPLAIN ${sql.raw(query)}`.execute(trx);
    return plan.rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}

const names = (entries: ReadonlyArray<{ owner: string; name: string }>) => entries.map((e) => `${e.owner}/${e.name}`).sort();

for (const engine of await testEngines()) {
  describe(`SqlFleetStore on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let fleet: SqlFleetStore;
    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
      fleet = new SqlFleetStore(database.db);
    });
    afterEach(() => cleanup());

    it('adds what an organisation lists, keeps it on a re-sync and drops what is no longer listed, remembering why', async () => {
      const first = await fleet.syncOrganization('acme', [listed('acme', 'api', 1), listed('acme', 'web', 2)]);
      assert.deepEqual(names(first.added), ['acme/api', 'acme/web']);
      assert.deepEqual(first.dropped, []);
      assert.deepEqual(names(first.members), ['acme/api', 'acme/web']);
      assert.deepEqual(first.members.map((m) => [m.source, m.organization, m.githubId]), [['discovered', 'acme', 1], ['discovered', 'acme', 2]]);

      const again = await fleet.syncOrganization('acme', [listed('acme', 'api', 1), listed('acme', 'web', 2)]);
      assert.deepEqual([again.added, again.dropped], [[], []]);
      assert.deepEqual(again.members.map((m) => m.repositoryId), first.members.map((m) => m.repositoryId), 'the same rows');

      const third = await fleet.syncOrganization('ACME', [listed('acme', 'web', 2)]);
      assert.deepEqual(names(third.dropped), ['acme/api'], 'the organisation matches case-insensitively');
      assert.deepEqual(names(third.members), ['acme/web']);
      assert.deepEqual(names(await fleet.members()), ['acme/web']);
      const row = await database.db.selectFrom('repositories').select(['dropped_at', 'drop_reason']).where('github_id', '=', 1).executeTakeFirstOrThrow();
      assert.ok(row.dropped_at);
      assert.match(row.drop_reason ?? '', /no longer listed in the organisation ACME/);
    });

    it('brings a dropped repository back when it is listed again, with its row, issues and first sync', async () => {
      const { added } = await fleet.syncOrganization('acme', [listed('acme', 'api', 1)]);
      const id = added[0]?.repositoryId ?? assert.fail('not added');
      await fleet.markJoined([id]);
      await fleet.drop(id, 'sweep: not found');
      assert.deepEqual(await fleet.members(), []);
      const dropped = await database.db.selectFrom('repositories').select(['drop_reason', 'first_synced_at']).where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(dropped.drop_reason, 'sweep: not found');

      const back = await fleet.syncOrganization('acme', [listed('acme', 'api-renamed', 1)]);
      assert.deepEqual(back.added.map((e) => [e.repositoryId, e.name]), [[id, 'api-renamed']], 'the same row, under its listed name');
      assert.deepEqual(back.members.map((e) => e.repositoryId), [id]);
      const row = await database.db.selectFrom('repositories').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(row.dropped_at, null);
      assert.equal(row.drop_reason, null);
      assert.equal(row.first_synced_at, dropped.first_synced_at, 'its first sync (the backlog cutoff) did not move');
    });

    it('leaves a configured repository configured, under its configured spelling, and never drops it', async () => {
      const repos = new SqlRepositoryStore(database.db);
      const configured = await repos.record({ owner: 'ACME', name: 'API' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
      const sync = await fleet.syncOrganization('acme', [listed('acme', 'api', 1), listed('acme', 'web', 2)]);
      assert.deepEqual(names(sync.added), ['acme/web']);
      assert.deepEqual(sync.members.map((m) => [`${m.owner}/${m.name}`, m.source, m.organization]), [['ACME/API', 'configured', null], ['acme/web', 'discovered', 'acme']]);

      const gone = await fleet.syncOrganization('acme', []);
      assert.deepEqual(names(gone.dropped), ['acme/web'], 'the configured one is not dropped');
      await fleet.drop(configured, 'sweep: not found');
      assert.deepEqual((await fleet.members()).map((m) => [m.repositoryId, m.source]), [[configured, 'configured']]);
    });

    it('follows a rename by GitHub id while the old name goes to a new repository', async () => {
      await fleet.syncOrganization('acme', [listed('acme', 'a', 1), listed('acme', 'b', 2)]);
      const before = new Map((await fleet.members()).map((m) => [m.githubId, m.repositoryId]));
      // a and b swap names: the unique owner/name must not stand in the way.
      const swapped = await fleet.syncOrganization('acme', [listed('acme', 'b', 1), listed('acme', 'a', 2), listed('acme', 'c', 3)]);
      assert.deepEqual(names(swapped.added), ['acme/c']);
      const after = await fleet.members();
      assert.deepEqual(after.map((m) => [m.githubId, m.repositoryId, m.name]), [[1, before.get(1), 'b'], [2, before.get(2), 'a'], [3, after[2]?.repositoryId, 'c']]);
    });

    it('adopts by name (case-insensitively) a row an older build left without a GitHub id', async () => {
      await sql`INSERT INTO repositories (owner, name, github_id, validated_at, created_at) VALUES ('Acme', 'Ops', NULL, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`.execute(database.db);
      const sync = await fleet.syncOrganization('acme', [listed('acme', 'ops', 9)]);
      assert.deepEqual(sync.added, []);
      assert.deepEqual(sync.members.map((m) => [m.repositoryId, `${m.owner}/${m.name}`, m.source]), [[1, 'Acme/Ops', 'configured']]);
      const count = await database.db.selectFrom('repositories').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(count.n), 1);
    });

    it('watermarks: the newest stored update per repository, in one query', async () => {
      const { members } = await fleet.syncOrganization('acme', [listed('acme', 'api', 1), listed('acme', 'web', 2), listed('acme', 'empty', 3)]);
      const [api, web, empty] = members.map((m) => m.repositoryId);
      const scopes = new SqlScopeSyncStore(database.db, { maxAttempts: 3 });
      await scopes.save('org:acme', [
        { repositoryId: api ?? 0, issue: issue(10, { updatedAt: '2026-01-03T00:00:00Z' }) },
        { repositoryId: api ?? 0, issue: issue(11, { updatedAt: '2026-01-05T00:00:00Z' }) },
        { repositoryId: web ?? 0, issue: issue(20, { updatedAt: '2026-01-02T00:00:00Z' }) },
      ], { since: null, page: 1, etag: null }, []);
      const marks = await fleet.watermarks();
      assert.deepEqual([...marks.entries()].sort(), [[api, '2026-01-05T00:00:00Z'], [web, '2026-01-02T00:00:00Z']].sort());
      assert.equal(marks.has(empty ?? 0), false);
      assert.match(await groupedPlan(database), /issues_repository_updated/);
    });

    it('markJoined sets the first sync of members that have none, and never moves one', async () => {
      let now = new Date('2026-03-01T10:00:00.250Z');
      fleet = new SqlFleetStore(database.db, { now: () => now });
      const { members } = await fleet.syncOrganization('acme', [listed('acme', 'api', 1), listed('acme', 'web', 2)]);
      const [api, web] = members.map((m) => m.repositoryId);
      await fleet.markJoined([api ?? 0]);
      now = new Date('2026-03-02T00:00:00Z');
      await fleet.markJoined([api ?? 0, web ?? 0, web ?? 0]);
      const rows = await database.db.selectFrom('repositories').select(['id', 'first_synced_at']).orderBy('id').execute();
      assert.deepEqual(rows.map((r) => r.first_synced_at), ['2026-03-01T10:00:00.000Z', '2026-03-02T00:00:00.000Z']);
    });

    it('recordPaths remembers each member’s detection path', async () => {
      const { members } = await fleet.syncOrganization('acme', [listed('acme', 'api', 1), listed('acme', 'web', 2), listed('acme', 'ops', 3)]);
      const [api, web, ops] = members.map((m) => m.repositoryId) as [number, number, number];
      await fleet.recordPaths(new Map([[api, 'stream'], [web, 'walk']]));
      await fleet.recordPaths(new Map([[web, 'sweep'], [ops, 'walk']]));
      const rows = await database.db.selectFrom('repositories').select(['id', 'detection_path']).orderBy('id').execute();
      assert.deepEqual(rows.map((r) => r.detection_path), ['stream', 'sweep', 'walk']);
    });

    it('syncs 10,000 repositories and re-syncs them in a few statements each, in chunks under SQLite’s parameter limit', async () => {
      // Counting statements rather than timing them: one statement per repository is the slow design
      // whatever the machine, and a count does not change with the machine's speed or load.
      let statements = 0;
      fleet = new SqlFleetStore(database.db.withPlugin({
        transformQuery: (args) => ((statements += 1), args.node),
        transformResult: (args) => Promise.resolve(args.result),
      }));
      const counted = async <T>(work: () => Promise<T>): Promise<{ result: T; statements: number }> => {
        const before = statements;
        const result = await work();
        return { result, statements: statements - before };
      };
      const all = Array.from({ length: 10_000 }, (_, i) => listed('big', `repo-${i}`, 100_000 + i));
      const { result: first, statements: firstStatements } = await counted(() => fleet.syncOrganization('big', all));
      assert.equal(first.added.length, 10_000);
      assert.equal(first.members.length, 10_000);

      const { result: again, statements: againStatements } = await counted(() => fleet.syncOrganization('big', all.slice(0, 9_000)));
      assert.equal(again.added.length, 0);
      assert.equal(again.dropped.length, 1_000);
      assert.equal((await fleet.members()).length, 9_000);
      const back = await fleet.syncOrganization('big', all);
      assert.equal(back.added.length, 1_000);

      const ids = back.members.map((m) => m.repositoryId);
      await fleet.markJoined(ids);
      await fleet.recordPaths(new Map(ids.map((id) => [id, 'stream'])));
      const unjoined = await database.db.selectFrom('repositories').select((eb) => eb.fn.countAll().as('n')).where('first_synced_at', 'is', null).executeTakeFirstOrThrow();
      assert.equal(Number(unjoined.n), 0);
      // A chunk holds hundreds of rows: a few statements per chunk, far from one per repository.
      assert.ok(firstStatements <= 100, `first sync: ${firstStatements} statements for 10,000 repositories`);
      assert.ok(againStatements <= 100, `re-sync: ${againStatements} statements for 10,000 repositories`);
    });

    it('a failed sync leaves nothing half-written', async () => {
      await fleet.syncOrganization('acme', [listed('acme', 'api', 1)]);
      await refuseInserts(database, 'repositories', 'repositories refused');
      await assert.rejects(fleet.syncOrganization('acme', [listed('acme', 'web', 2)]), /repositories refused/);
      assert.deepEqual(names(await fleet.members()), ['acme/api'], 'acme/api is not dropped');
    });
  });
}

for (const engine of await testEngines()) {
  describe(`SqlScopeSyncStore on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let scopes: SqlScopeSyncStore;
    let api: number;
    let web: number;
    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
      scopes = new SqlScopeSyncStore(database.db, { maxAttempts: 3 });
      const { members } = await new SqlFleetStore(database.db).syncOrganization('acme', [listed('acme', 'api', 1), listed('acme', 'web', 2)]);
      [api, web] = members.map((m) => m.repositoryId) as [number, number];
    });
    afterEach(() => cleanup());

    const jobs = () => database.db.selectFrom('jobs').select(['repository_id', 'issue_github_id', 'state']).orderBy('id').execute();

    it('stores a page of issues in their repositories, the jobs they imply and the scope’s cursor, together', async () => {
      const next = { since: '2026-01-01T00:00:00Z', page: 2, etag: 'W/"p1"' };
      const result = await scopes.save('org:acme', [{ repositoryId: api, issue: issue(10) }, { repositoryId: web, issue: issue(20) }], next, [
        { type: ANSWER, issueGithubId: 10, repositoryId: api },
        { type: ANSWER, issueGithubId: 20, repositoryId: web },
      ]);
      assert.deepEqual(result, { changed: 2, enqueued: 2, changedRepositories: [api, web].sort((a, b) => a - b) });
      assert.deepEqual(await scopes.cursor('org:acme'), next);
      assert.deepEqual(await scopes.cursor('user'), { since: null, page: 1, etag: null });
      const stored = await database.db.selectFrom('issues').select(['github_id', 'repository_id']).orderBy('github_id').execute();
      assert.deepEqual(stored, [{ github_id: 10, repository_id: api }, { github_id: 20, repository_id: web }]);
      assert.deepEqual(await jobs(), [{ repository_id: api, issue_github_id: 10, state: 'pending' }, { repository_id: web, issue_github_id: 20, state: 'pending' }]);
    });

    it('enqueues only for new or changed issues, coalesces into a live job and skips handled ones', async () => {
      const page = (title: string, updatedAt: string) => [{ repositoryId: api, issue: issue(10, { title, updatedAt }) }, { repositoryId: web, issue: issue(20, { title, updatedAt }) }];
      const want = [{ type: ANSWER, issueGithubId: 10, repositoryId: api }, { type: ANSWER, issueGithubId: 20, repositoryId: web }];
      await scopes.save('org:acme', page('t', '2026-01-01T00:00:00Z'), { since: null, page: 1, etag: null }, want);
      // A job that is not live would not absorb a new one: only the unchanged issue keeps it out.
      await database.db.updateTable('jobs').set({ state: 'dead' }).where('issue_github_id', '=', 10).execute();
      const unchanged = await scopes.save('org:acme', page('t', '2026-01-01T00:00:00Z'), { since: null, page: 1, etag: null }, want);
      assert.deepEqual(unchanged, { changed: 0, enqueued: 0, changedRepositories: [] });

      await database.db.updateTable('jobs').set({ state: 'done', outcome: 'answered' }).where('issue_github_id', '=', 20).execute();
      const edited = await scopes.save('org:acme', page('t2', '2026-01-02T00:00:00Z'), { since: null, page: 1, etag: null }, want);
      assert.equal(edited.changed, 2);
      assert.equal(edited.enqueued, 1, 'issue 10 changed: a new job; issue 20 was answered: none');
      await scopes.save('org:acme', page('t3', '2026-01-03T00:00:00Z'), { since: null, page: 1, etag: null }, want);
      assert.deepEqual((await jobs()).map((j) => [j.issue_github_id, j.state]), [[10, 'dead'], [20, 'done'], [10, 'pending']], 'the third change coalesces into the pending job');
    });

    it('moves an issue transferred to another repository of the scope', async () => {
      await scopes.save('org:acme', [{ repositoryId: api, issue: issue(10) }], { since: null, page: 1, etag: null }, []);
      const moved = await scopes.save('org:acme', [{ repositoryId: web, issue: issue(10, { number: 3 }) }], { since: null, page: 1, etag: null }, []);
      assert.deepEqual(moved.changedRepositories, [web]);
      const row = await database.db.selectFrom('issues').select(['repository_id', 'number']).executeTakeFirstOrThrow();
      assert.deepEqual(row, { repository_id: web, number: 3 });
    });

    it('rolls the whole save back when any part fails', async () => {
      const first = { since: 'T1', page: 1, etag: 'e1' };
      await scopes.save('org:acme', [{ repositoryId: api, issue: issue(10) }], first, []);
      await refuseInserts(database, 'jobs', 'queue refused');
      await assert.rejects(
        scopes.save(
          'org:acme',
          [{ repositoryId: api, issue: issue(10, { title: 'edited', updatedAt: '2026-02-01T00:00:00Z' }) }, { repositoryId: web, issue: issue(20) }],
          { since: 'T2', page: 1, etag: 'e2' },
          [{ type: ANSWER, issueGithubId: 20, repositoryId: web }],
        ),
        /queue refused/,
      );
      const stored = await database.db.selectFrom('issues').select(['github_id', 'title']).execute();
      assert.deepEqual(stored, [{ github_id: 10, title: 'Issue 10' }], 'neither the edit nor the new issue');
      assert.deepEqual(await scopes.cursor('org:acme'), first, 'the cursor did not advance');
      assert.deepEqual(await jobs(), []);
    });

    it('recordPoll keeps the last completed pass and the last error apart, without moving the cursor', async () => {
      const next = { since: 'T1', page: 3, etag: 'e1' };
      await scopes.save('org:acme', [], next, []);
      await scopes.recordPoll('org:acme', { ok: true });
      await scopes.recordPoll('org:acme', { ok: false, error: 'GitHub answered 502' });
      await scopes.recordPoll('user', { ok: false, error: 'forbidden' });
      const rows = await database.db.selectFrom('scope_cursors').selectAll().orderBy('scope').execute();
      assert.deepEqual(rows.map((r) => [r.scope, r.page, r.last_polled_at !== null, r.last_error]), [['org:acme', 3, true, 'GitHub answered 502'], ['user', 1, false, 'forbidden']]);
      await scopes.recordPoll('org:acme', { ok: true });
      assert.equal((await database.db.selectFrom('scope_cursors').select('last_error').where('scope', '=', 'org:acme').executeTakeFirstOrThrow()).last_error, null);
      assert.deepEqual(await scopes.cursor('org:acme'), next);
    });
  });
}

/** 009-fleet and every migration after it, newest first: what reverting 009 takes. */
const FROM_009 = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('009-fleet')).reverse();

for (const engine of await testEngines()) {
  describe(`migration 009-fleet on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
    });
    afterEach(() => cleanup());

    it('keeps repositories, issues and jobs down and up again; configured rows stay configured', async () => {
      const migrator = new SchemaMigrator(database.db, database.path);
      assert.deepEqual(await migrator.down(FROM_009.length), FROM_009);
      const db = database.db;
      await sql`INSERT INTO repositories (owner, name, github_id, validated_at, created_at, first_synced_at)
        VALUES ('acme', 'api', 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`.execute(db);
      await migrator.up();
      const fleet = new SqlFleetStore(db);
      assert.deepEqual((await fleet.members()).map((m) => [m.name, m.source, m.organization]), [['api', 'configured', null]]);
      await fleet.syncOrganization('acme', [listed('acme', 'web', 2)]);
      await new SqlScopeSyncStore(db, { maxAttempts: 3 }).save('org:acme', [{ repositoryId: 2, issue: issue(20) }], { since: 'T', page: 1, etag: null }, [
        { type: ANSWER, issueGithubId: 20, repositoryId: 2 },
      ]);

      assert.deepEqual(await migrator.down(FROM_009.length), FROM_009);
      const repos = await sql<{ id: number; name: string; first_synced_at: string | null }>`SELECT id, name, first_synced_at FROM repositories ORDER BY id`.execute(db);
      assert.deepEqual(repos.rows.map((r) => [r.id, r.name]), [[1, 'api'], [2, 'web']], 'the discovered row stays, for the older build to list');
      assert.deepEqual([await relationExists(database, 'scope_cursors'), await relationExists(database, 'issues_repository_updated')], [false, false]);
      assert.equal((await sql<{ n: number }>`SELECT count(*) AS n FROM issues`.execute(db)).rows[0]?.n, 1);
      assert.equal((await sql<{ n: number }>`SELECT count(*) AS n FROM jobs`.execute(db)).rows[0]?.n, 1);

      await migrator.up();
      const rows = await db.selectFrom('repositories').select(['id', 'source', 'organization', 'dropped_at']).orderBy('id').execute();
      assert.deepEqual(rows, [
        { id: 1, source: 'configured', organization: null, dropped_at: null },
        { id: 2, source: 'configured', organization: null, dropped_at: null },
      ], 'up again: what the older build knew is configured');
    });
  });
}

// Several daemons on one database: PostgreSQL only, since one daemon owns an SQLite file
// (src/infra/store/instances.ts) and SQLite runs one writer at a time.
for (const engine of (await testEngines()).filter((e) => e.name === 'postgres')) {
  describe(`SqlFleetStore, several daemons on ${engine.name}`, { skip: engine.skip }, () => {
    let databases: Database[];
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ databases, cleanup } = await sharedDatabase(engine, 3));
    });
    afterEach(() => cleanup());

    it('three daemons listing an organisation at once (each one’s setup does) all succeed, with one row per repository', async () => {
      const repositories = new SqlRepositoryStore(databases[0]!.db);
      const configured = await repositories.record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
      for (let round = 0; round < 5; round++) {
        // Each round the organisation has five new repositories (and loses the oldest of the last round's).
        const listing = [listed('acme', 'api', 1), ...Array.from({ length: 5 }, (_, i) => listed('acme', `r${round}-${i}`, 100 + round * 10 + i))];
        const results = await Promise.all(databases.map((database) => new SqlFleetStore(database.db).syncOrganization('acme', listing)));
        const expected = listing.map((r) => `${r.owner}/${r.name}`).sort();
        for (const result of results) assert.deepEqual(names(result.members), expected, `round ${round}: every daemon sees the whole organisation`);
        assert.deepEqual(names(results.flatMap((r) => r.added)), expected.filter((n) => n !== 'acme/api'), `round ${round}: each new repository added by one daemon`);
        assert.equal(results.flatMap((r) => r.dropped).length, round === 0 ? 0 : 5, `round ${round}: each repository gone dropped by one daemon`);
      }
      const rows = await databases[0]!.db.selectFrom('repositories').select(['github_id']).where('dropped_at', 'is', null).orderBy('github_id').execute();
      assert.deepEqual(rows.map((r) => r.github_id), [1, 140, 141, 142, 143, 144]);
      assert.deepEqual((await new SqlFleetStore(databases[1]!.db).members()).map((m) => [m.repositoryId, m.source])[0], [configured, 'configured']);
    });
  });
}

// The CLI on an SQLite file, as a first installation runs it: what `status` prints does not depend on the engine.
describe('status of a fleet of 10,000 (CLI)', () => {
  let dir: { path: string; cleanup: () => void };
  let config: string;
  const cli = (...args: string[]) => runCli([...args, '--config', config], { cwd: dir.path });

  before(async () => {
    dir = tempDir();
    const database = await openDatabase(join(dir.path, 'fleet.db'));
    try {
      await new SchemaMigrator(database.db, database.path).up();
      const ago = (ms: number) => () => new Date(Date.now() - ms);
      const configured = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
      const fleet = new SqlFleetStore(database.db, { now: ago(3_600_000) });
      const all = Array.from({ length: 10_000 }, (_, i) => listed('big', `repo-${String(i).padStart(5, '0')}`, 100_000 + i));
      await fleet.syncOrganization('big', all);
      // Seven leave the organisation: the latest few are named, with the reason.
      const { members } = await new SqlFleetStore(database.db, { now: ago(600_000) }).syncOrganization('big', all.slice(7));
      await fleet.recordPaths(new Map([[configured, 'walk'], ...members.filter((m) => m.source === 'discovered').map((m) => [m.repositoryId, 'stream'] as const)]));
      const [first, second] = members.filter((m) => m.source === 'discovered');
      const sync = new SqlIssueSyncStore(database.db, { maxAttempts: 3, now: ago(120_000) });
      await sync.recordPoll(first?.repositoryId ?? 0, { ok: false, error: 'GitHub answered 404 Not Found' });
      const scopes = new SqlScopeSyncStore(database.db, { maxAttempts: 3, now: ago(60_000) });
      await scopes.save('org:big', [{ repositoryId: second?.repositoryId ?? 0, issue: issue(7) }], { since: '2026-06-01T00:00:00Z', page: 3, etag: 'W/"s1"' }, [
        { type: 'answer', issueGithubId: 7, repositoryId: second?.repositoryId ?? 0 },
      ]);
      await scopes.recordPoll('org:big', { ok: true });
      await new SqlScopeSyncStore(database.db, { maxAttempts: 3, now: ago(30_000) }).recordPoll('org:big', { ok: false, error: 'GitHub answered 502 Bad Gateway' });
    } finally {
      await database.close();
    }
    config = writeFile(dir.path, 'config.yml', ['database:', '  sqlitePath: fleet.db', 'github:', '  repositories: [acme/api]', '  organizations: [big]', ''].join('\n'));
  });
  after(() => dir.cleanup());

  it('names only the repositories with an error or a live job, counts the rest and describes the fleet', async () => {
    const result = await cli('status');
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.ok(lines.length < 60, `${lines.length} lines:\n${result.stdout}`);
    for (const line of lines.slice(1)) assert.ok([...line].length <= 80, `too wide: ${line}`);
    assert.match(result.stdout, /^big\/repo-00007 .*\n.*\n {2}error {3}2m ago: GitHub answered 404 Not Found$/m, 'the failing repository');
    assert.match(result.stdout, /^big\/repo-00008 .*✓\s+never\s+1\s+1\s+1\s+0\s+0\s+0$/m, 'the one with a live job');
    assert.doesNotMatch(result.stdout, /^acme\/api /m, 'a fine repository is not listed');
    assert.match(result.stdout, /^9,992 repositories with no error and no live job not listed$/m);
    assert.match(result.stdout, /^fleet {7}9,994 members: 1 configured, 9,993 discovered$/m);
    assert.match(result.stdout, /^ {12}detection: 9,993 stream, 1 walk$/m);
    assert.match(result.stdout, /^ {12}7 discovered repositories dropped, latest:\n {14}big\/repo-0000\d 10m ago: no longer listed in the organisation big/m);
    assert.equal(lines.filter((l) => /^ {14}big\/repo-0000[0-6] /.test(l)).length, 5);
    assert.match(result.stdout, /^stream {6}org:big, last pass 1m ago\n {12}cursor {2}since 2026-06-01T00:00:00Z, page 3, etag W\/"s1"\n {12}error {3}3\ds ago: GitHub answered 502 Bad Gateway$/m);
  });

  it('--json lists every member and the fleet', async () => {
    const result = await cli('status', '--json');
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout) as {
      repositories: Array<{ repository: string; source: string; organization: string | null; detectionPath: string | null; configured: boolean }>;
      fleet: { members: { total: number; bySource: object; byPath: object }; dropped: { count: number; latest: unknown[] }; scopes: Array<{ scope: string; lastError: string }> };
    };
    assert.equal(status.repositories.length, 9_994, 'dropped repositories are left out');
    assert.deepEqual(status.repositories[0], { ...status.repositories[0], repository: 'acme/api', source: 'configured', organization: null, detectionPath: 'walk', configured: true });
    assert.deepEqual(status.repositories.find((r) => r.repository === 'big/repo-09999'), {
      ...status.repositories.find((r) => r.repository === 'big/repo-09999'),
      source: 'discovered',
      organization: 'big',
      detectionPath: 'stream',
      configured: false,
    });
    assert.deepEqual(status.fleet.members, { total: 9_994, bySource: { configured: 1, discovered: 9_993 }, byPath: { walk: 1, stream: 9_993, sweep: 0, undecided: 0 } });
    assert.equal(status.fleet.dropped.count, 7);
    assert.equal(status.fleet.dropped.latest.length, 5);
    assert.deepEqual(status.fleet.scopes.map((s) => [s.scope, s.lastError]), [['org:big', 'GitHub answered 502 Bad Gateway']]);
  });
});
