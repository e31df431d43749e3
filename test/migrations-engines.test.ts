// The whole migration history, up and down and up again, on each engine: the same migrations, written once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIGRATION_NAMES, openDatabase, SchemaMigrator, SqlJobQueue, SqlRepositoryStore } from '../src/infra/store/index.js';
import { testEngines } from './support/engines.js';

for (const engine of await testEngines()) {
  describe(`migrations on ${engine.name}`, { skip: engine.skip }, () => {
    it('applies every migration, reverts every one, applies them again, and the store works after', async () => {
      const blank = await engine.blank();
      const database = await openDatabase(blank.target);
      try {
        assert.equal(database.engine, engine.name);
        const migrator = new SchemaMigrator(database.db, database.path);
        assert.deepEqual(await migrator.up(), MIGRATION_NAMES);
        assert.deepEqual((await migrator.status()).map((m) => m.executedAt !== null), MIGRATION_NAMES.map(() => true));
        assert.deepEqual(await migrator.down(MIGRATION_NAMES.length), [...MIGRATION_NAMES].reverse());
        assert.deepEqual(await migrator.up(), MIGRATION_NAMES);

        // A repository, an issue's job, a claim: the schema is the one the code expects.
        const repositories = new SqlRepositoryStore(database.db);
        const repository = await repositories.record({ owner: 'acme', name: 'api' }, { githubId: 12345678901, owner: 'acme', name: 'api', private: false, htmlUrl: 'https://github.com/acme/api' });
        assert.equal(await repositories.idOf({ owner: 'ACME', name: 'Api' }), repository);
        await database.db
          .insertInto('jobs')
          .values({
            type: 'answer',
            repository_id: repository,
            issue_github_id: 9007199254740,
            state: 'pending',
            attempts: 0,
            payload: '{}',
            max_attempts: 3,
            run_after: new Date(0).toISOString(),
            created_at: new Date().toISOString(),
            updated_at: new Date().toISOString(),
          })
          .execute();
        const [job] = await new SqlJobQueue(database.db).claim('answer', 5, 60_000);
        assert.equal(job?.issueGithubId, 9007199254740, 'a bigint id comes back as the same number');
      } finally {
        await database.close();
        await blank.cleanup();
      }
    });
  });
}
