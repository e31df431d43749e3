/**
 * GitHub's `updated_at` counts whole seconds, so two states of an issue can
 * share one: created and labelled by a bot within the second, edited right
 * after a poll read it. The listing's `since` is inclusive, so the next poll
 * lists the issue again with the same `updated_at` and the new labels or text;
 * the store must take that change (and queue what it implies), not skip the
 * row as unchanged because its time did not move. On each engine.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { contentHash } from '../src/domain/content-hash.js';
import { ANSWER_JOB, REVISE_JOB } from '../src/domain/eligibility.js';
import type { Database } from '../src/infra/store/index.js';
import { SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore } from '../src/infra/store/index.js';
import { testEngines } from './support/engines.js';
import { issue } from './support/issues.js';

const cursor = { since: null, page: 1, etag: null };

for (const engine of await testEngines()) {
  describe(`changes within one second of updated_at on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let repo: number;
    let sync: SqlIssueSyncStore;

    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
      repo = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
      sync = new SqlIssueSyncStore(database.db, { maxAttempts: 3, reanalyze: true });
    });
    afterEach(() => cleanup());

    const jobs = () => database.db.selectFrom('jobs').select(['type', 'state']).orderBy('id').execute();
    const stored = () => database.db.selectFrom('issues').select(['title', 'labels', 'state', 'content_hash']).where('github_id', '=', 1).executeTakeFirstOrThrow();

    it('a label added within the second the issue was first stored queues its answer', async () => {
      await sync.save(repo, [issue(1, { labels: [] })], cursor, []);
      const labelled = issue(1, { labels: ['autosolve'] });
      const saved = await sync.save(repo, [labelled], cursor, [{ type: ANSWER_JOB, issueGithubId: 1 }]);
      assert.equal(saved.changed, 1, 'the label is a change');
      assert.deepEqual(JSON.parse((await stored()).labels), ['autosolve']);
      assert.deepEqual(await jobs(), [{ type: ANSWER_JOB, state: 'pending' }]);
    });

    it('an edit of an answered issue within the second queues its revision, and a closing is stored', async () => {
      await sync.save(repo, [issue(1)], cursor, [{ type: ANSWER_JOB, issueGithubId: 1 }]);
      const queue = new SqlJobQueue(database.db);
      for (const job of await queue.claim(ANSWER_JOB, 1, 60_000)) await queue.complete(job, { outcome: 'answered' });
      const edited = issue(1, { title: 'Crash on start, edited' });
      await sync.save(repo, [edited], cursor, []);
      assert.equal((await stored()).content_hash, contentHash(edited));
      assert.deepEqual((await jobs()).map((j) => [j.type, j.state]), [[ANSWER_JOB, 'done'], [REVISE_JOB, 'pending']]);
      await sync.save(repo, [issue(1, { title: 'Crash on start, edited', state: 'closed' })], cursor, []);
      assert.equal((await stored()).state, 'closed');
    });

    it('the same issue listed again unchanged is not a change', async () => {
      await sync.save(repo, [issue(1)], cursor, [{ type: ANSWER_JOB, issueGithubId: 1 }]);
      const again = await sync.save(repo, [issue(1)], cursor, [{ type: ANSWER_JOB, issueGithubId: 1 }]);
      assert.equal(again.changed, 0);
      assert.equal((await jobs()).length, 1);
    });
  });
}
