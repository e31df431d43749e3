import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { RemoteRepository } from '../src/domain/entities.js';
import { SqlRepositoryStore, type Database } from '../src/infra/store/index.js';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir } from './support/cli.js';
import { daemonConfig, inspectDatabase, simulator } from './support/daemon.js';
import { freshDatabase } from './support/store.js';

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

describe('SqlRepositoryStore.record', () => {
  let database: Database;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ database, cleanup } = await freshDatabase());
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

function remote(owner: string, name: string): RemoteRepository {
  return { githubId: 42, owner, name, private: false, htmlUrl: `https://github.com/${owner}/${name}` };
}
