import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { RemoteRepository } from '../src/domain/entities.js';
import { MIGRATION_NAMES, SchemaMigrator, SqlRepositoryStore, type Database } from '../src/infra/store/index.js';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir } from './support/cli.js';
import { daemonConfig, inspectDatabase, simulator } from './support/daemon.js';
import { testEngines } from './support/engines.js';
import { sharedDatabase } from './support/store.js';

// The CLI on an SQLite file, as a configuration edit meets it; the store below runs on each engine.
describe('repositories are identified by GitHub’s id', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await sim.close();
    dir.cleanup();
  });

  it('keeps one repository, its first sync and its answers when the configuration changes acme/api to ACME/API', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: ['autosolve'] }] }]);
    const answering = { github: { issues: { requiredLabel: 'autosolve' } } };
    const first = daemonConfig(dir.path, sim, ['acme/api'], answering);
    const run1 = await runCli(['run', '--once', '--config', first.file], { cwd: dir.path });
    assert.equal(run1.code, 0, run1.stdout + run1.stderr);
    const before = inspectDatabase(first.database, (db) => db.prepare('SELECT id, owner, name, first_synced_at FROM repositories').all());
    assert.equal(before.length, 1);

    const second = daemonConfig(dir.path, sim, ['ACME/API'], answering);
    const statusBefore = await runCli(['status', '--json', '--config', second.file], { cwd: dir.path });
    const listedBefore = (JSON.parse(statusBefore.stdout) as { repositories: Array<{ repository: string; configured: boolean }> }).repositories;
    assert.deepEqual(listedBefore.map((r) => [r.repository, r.configured]), [['acme/api', true]], 'status matches ACME/API to the stored acme/api before the run renames it');
    const run2 = await runCli(['run', '--once', '--config', second.file], { cwd: dir.path });
    assert.equal(run2.code, 0, run2.stdout + run2.stderr);
    const after = inspectDatabase(second.database, (db) => db.prepare('SELECT id, owner, name, first_synced_at FROM repositories').all());
    const [was] = before as Array<{ id: number; first_synced_at: string }>;
    assert.deepEqual(after, [{ id: was?.id, owner: 'ACME', name: 'API', first_synced_at: was?.first_synced_at }], 'one row, renamed to the configured spelling, its first sync kept');
    assert.equal(sim.comments('acme', 'api', 1).length, 1, 'the issue is answered once');

    const status = await runCli(['status', '--json', '--config', second.file], { cwd: dir.path });
    assert.equal(status.code, 0, status.stderr);
    const repositories = (JSON.parse(status.stdout) as { repositories: Array<{ repository: string; configured: boolean }> }).repositories;
    assert.deepEqual(repositories.map((r) => [r.repository, r.configured]), [['ACME/API', true]]);
    const text = await runCli(['status', '--config', second.file], { cwd: dir.path });
    assert.doesNotMatch(text.stdout, /no longer in the configuration/);
  });
});

for (const engine of await testEngines()) {
  describe(`SqlRepositoryStore.record on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
    });
    afterEach(() => cleanup());

    it('keeps the row of a renamed repository (same GitHub id), under its new name', async () => {
      const store = new SqlRepositoryStore(database.db);
      const id = await store.record({ owner: 'acme', name: 'api' }, remote('acme', 'api'));
      assert.equal(await store.record({ owner: 'acme', name: 'backend' }, remote('acme', 'backend')), id);
      assert.equal(await store.idOf({ owner: 'acme', name: 'backend' }), id);
      assert.equal(await store.idOf({ owner: 'ACME', name: 'Backend' }), id, 'owner/name match case-insensitively');
      assert.equal(await store.idOf({ owner: 'acme', name: 'api' }), undefined);
    });
  });
}

for (const engine of await testEngines()) {
  describe(`migration 008-repository-identity on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
    });
    afterEach(() => cleanup());

    it('merges the rows an older build made for one GitHub id into the oldest, keeping its first sync and taking the others’ issues and jobs', async () => {
      const migrator = new SchemaMigrator(database.db, database.path);
      const from008 = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('008-repository-identity')).reverse();
      assert.deepEqual(await migrator.down(from008.length), from008);
      const db = database.db;
      await db.insertInto('repositories').values([
        { owner: 'acme', name: 'api', github_id: 42, validated_at: '2026-01-01T00:00:00.000Z', created_at: '2026-01-01T00:00:00.000Z', first_synced_at: '2026-01-01T00:00:00.000Z' },
        { owner: 'ACME', name: 'API', github_id: 42, validated_at: '2026-03-01T00:00:00.000Z', created_at: '2026-03-01T00:00:00.000Z', first_synced_at: '2026-03-01T00:00:00.000Z' },
        { owner: 'acme', name: 'web', github_id: 43, validated_at: null, created_at: '2026-01-01T00:00:00.000Z', first_synced_at: null },
      ]).execute();
      const issue = (githubId: number, repositoryId: number) => ({
        github_id: githubId, repository_id: repositoryId, number: githubId, title: 't', body: null, state: 'open', is_pull_request: 0, labels: '[]',
        author: null, html_url: 'u', comments_count: 0, created_at: 'c', updated_at: 'u', synced_at: 's',
      });
      await db.insertInto('issues').values([issue(1, 1), issue(2, 2)]).execute();
      await db.insertInto('jobs').values({ type: 'answer', repository_id: 2, issue_github_id: 2, state: 'pending', attempts: 0, max_attempts: 5, run_after: 'r',
        locked_until: null, locked_by: null, owner_instance: null, owner_host: null, owner_pid: null, last_error: null, outcome: null, comment_url: null,
        payload: '{}', created_at: 'c', updated_at: 'u', finished_at: null }).execute();
      const cursor = (repositoryId: number, topic: string) => ({ repository_id: repositoryId, topic, since: null, page: 1, etag: null, updated_at: 'u', last_polled_at: null, last_error: null, last_error_at: null });
      await db.insertInto('sync_cursors').values([cursor(1, 'issues'), cursor(2, 'issues'), cursor(2, 'other')]).execute();

      await migrator.up();
      const rows = await db.selectFrom('repositories').select(['id', 'owner', 'name', 'first_synced_at']).orderBy('id').execute();
      assert.deepEqual(rows, [
        { id: 1, owner: 'ACME', name: 'API', first_synced_at: '2026-01-01T00:00:00.000Z' },
        { id: 3, owner: 'acme', name: 'web', first_synced_at: null },
      ]);
      assert.deepEqual((await db.selectFrom('issues').select('repository_id').execute()).map((r) => r.repository_id), [1, 1]);
      assert.deepEqual((await db.selectFrom('jobs').select('repository_id').execute()).map((r) => r.repository_id), [1]);
      assert.deepEqual((await db.selectFrom('sync_cursors').select(['repository_id', 'topic']).orderBy('topic').execute()), [
        { repository_id: 1, topic: 'issues' },
        { repository_id: 1, topic: 'other' },
      ]);
    });
  });
}

// Several daemons on one database: PostgreSQL only, since one daemon owns an SQLite file (src/infra/store/instances.ts).
for (const engine of (await testEngines()).filter((e) => e.name === 'postgres')) {
  describe(`SqlRepositoryStore.record, several daemons on ${engine.name}`, { skip: engine.skip }, () => {
    let databases: Database[];
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ databases, cleanup } = await sharedDatabase(engine, 3));
    });
    afterEach(() => cleanup());

    it('three daemons validating the same repository at once (each one’s setup does) get one row, and its setup failure is cleared', async () => {
      await new SqlRepositoryStore(databases[0]!.db).recordSetupFailure({ owner: 'acme', name: 'api' }, 'GitHub answered 502');
      const ids = await Promise.all(databases.map((database) => new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, remote('acme', 'api'))));
      assert.equal(new Set(ids).size, 1, `one row: ${ids.join(', ')}`);
      const rows = await databases[0]!.db.selectFrom('repositories').select(['id', 'owner', 'name']).execute();
      assert.deepEqual(rows, [{ id: ids[0], owner: 'acme', name: 'api' }]);
      assert.deepEqual(await databases[0]!.db.selectFrom('setup_failures').selectAll().execute(), []);
    });
  });
}

function remote(owner: string, name: string): RemoteRepository {
  return { githubId: 42, owner, name, private: false, htmlUrl: `https://github.com/${owner}/${name}` };
}
