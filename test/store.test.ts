import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Database } from '../src/infra/store/index.js';
import { SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore, SqlScopeSyncStore } from '../src/infra/store/index.js';
import { testEngines } from './support/engines.js';
import { refuseInserts, sharedDatabase } from './support/store.js';
import { issue } from './support/issues.js';

const DISPATCH = 'dispatch';

for (const engine of await testEngines()) {
  describe(`issue-sync store on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let sync: SqlIssueSyncStore;
    let repoA: number;
    let repoB: number;

    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
      sync = new SqlIssueSyncStore(database.db, { maxAttempts: 3 });
      const repos = new SqlRepositoryStore(database.db);
      repoA = await repos.record({ owner: 'acme', name: 'api' }, { githubId: 101, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
      repoB = await repos.record({ owner: 'acme', name: 'web' }, { githubId: 102, owner: 'acme', name: 'web', private: false, htmlUrl: '' });
    });
    afterEach(() => cleanup());

    const rows = () => database.db.selectFrom('issues').selectAll().orderBy('github_id').execute();
    const jobs = () => database.db.selectFrom('jobs').selectAll().orderBy('id').execute();

    it('stores issues, the cursor and the jobs together', async () => {
      const next = { since: '2026-01-01T00:00:00Z', page: 1, etag: 'W/"abc"' };
      const result = await sync.save(repoA, [issue(1), issue(2, { isPullRequest: true })], next, [{ type: DISPATCH, issueGithubId: 1 }]);
      assert.deepEqual(result, { changed: 2, enqueued: 1 });
      assert.deepEqual(await sync.cursor(repoA), next);
      assert.deepEqual(await sync.cursor(repoB), { since: null, page: 1, etag: null });
      const stored = await rows();
      assert.equal(stored.length, 2);
      assert.equal(stored[1]?.is_pull_request, 1);
      assert.deepEqual(JSON.parse(stored[0]?.labels ?? ''), ['autosolve']);
      assert.equal((await jobs()).length, 1);
    });

    it('rolls the whole save back when any part fails', async () => {
      const first = { since: 'T1', page: 1, etag: 'e1' };
      await sync.save(repoA, [issue(1)], first, []);
      // Make the last part of the transaction (the queue insert) fail.
      await refuseInserts(database, 'jobs', 'queue refused');
      await assert.rejects(
        sync.save(repoA, [issue(1, { title: 'edited', updatedAt: '2026-02-01T00:00:00Z' }), issue(2)], { since: 'T2', page: 1, etag: 'e2' }, [
          { type: DISPATCH, issueGithubId: 2 },
        ]),
        /queue refused/,
      );
      const stored = await rows();
      assert.equal(stored.length, 1, 'the new issue is not stored');
      assert.equal(stored[0]?.title, 'Issue 1', 'the edit is not stored');
      assert.deepEqual(await sync.cursor(repoA), first, 'the cursor did not advance');
      assert.equal((await jobs()).length, 0);
    });

    it('corrects a row stored with a stale repository id (the original project\'s bug)', async () => {
      // A row as the buggy conflict clause left it: the right issue, the wrong repository.
      await database.db
        .insertInto('issues')
        .values({
          github_id: 7, repository_id: repoB, number: 7, title: 'old', body: null, state: 'open', is_pull_request: 0,
          labels: '[]', author: null, html_url: '', comments_count: 0, created_at: 'T', updated_at: '2026-01-01T00:00:00Z', synced_at: 'T',
        })
        .execute();
      await sync.save(repoA, [issue(7)], { since: null, page: 1, etag: null }, []);
      const [row] = await rows();
      assert.equal(row?.repository_id, repoA);
      assert.equal(row?.title, 'Issue 7');
    });

    it('moves a transferred issue to its new repository and number', async () => {
      await sync.save(repoA, [issue(9, { number: 5 })], { since: null, page: 1, etag: null }, []);
      await sync.save(repoB, [issue(9, { number: 12, updatedAt: '2026-03-01T00:00:00Z', htmlUrl: 'https://github.com/acme/web/issues/12' })], { since: null, page: 1, etag: null }, []);
      const stored = await rows();
      assert.equal(stored.length, 1);
      assert.equal(stored[0]?.repository_id, repoB);
      assert.equal(stored[0]?.number, 12);
      assert.equal(stored[0]?.html_url, 'https://github.com/acme/web/issues/12');
    });

    it('enqueues only new or changed issues, coalesces into a live job, and never re-enqueues an answered one', async () => {
      const cursor = { since: null, page: 1, etag: null };
      const want = [{ type: DISPATCH, issueGithubId: 1 }];
      assert.equal((await sync.save(repoA, [issue(1)], cursor, want)).enqueued, 1);
      assert.equal((await sync.save(repoA, [issue(1)], cursor, want)).enqueued, 0, 'unchanged issue re-read at the boundary');
      assert.equal((await sync.save(repoA, [issue(1, { updatedAt: '2026-01-02T00:00:00Z' })], cursor, want)).enqueued, 0, 'coalesced into the pending job');
      assert.equal((await jobs()).length, 1);

      const queue = new SqlJobQueue(database.db);
      const [claimed] = await queue.claim(DISPATCH, 1, 60_000);
      assert.ok(claimed);
      await queue.complete(claimed, { outcome: 'answered', commentUrl: 'https://example.test/c/1' });
      // Our own comment bumps updated_at: no new job.
      assert.equal((await sync.save(repoA, [issue(1, { updatedAt: '2026-01-03T00:00:00Z' })], cursor, want)).enqueued, 0);
      assert.equal((await jobs()).length, 1);
    });

    it('enqueues again after a job ended without answering (not eligible then)', async () => {
      const cursor = { since: null, page: 1, etag: null };
      const want = [{ type: DISPATCH, issueGithubId: 3 }];
      await sync.save(repoA, [issue(3)], cursor, want);
      const queue = new SqlJobQueue(database.db);
      const [claimed] = await queue.claim(DISPATCH, 1, 60_000);
      assert.ok(claimed);
      await queue.complete(claimed, { outcome: 'not-eligible' });
      assert.equal((await sync.save(repoA, [issue(3, { updatedAt: '2026-05-01T00:00:00Z' })], cursor, want)).enqueued, 1);
    });
  });
}

// Several daemons on one database: PostgreSQL only, since one daemon owns an SQLite file
// (src/infra/store/instances.ts) and SQLite runs one writer at a time.
for (const engine of (await testEngines()).filter((e) => e.name === 'postgres')) {
  describe(`issue writes, several daemons on ${engine.name}`, { skip: engine.skip }, () => {
    let databases: Database[];
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ databases, cleanup } = await sharedDatabase(engine, 2));
    });
    afterEach(() => cleanup());

    it('an organisation’s stream and a repository’s walk storing the same issues at once, in opposite orders, both succeed and queue each issue once', async () => {
      const [one, two] = databases as [Database, Database];
      const repo = await new SqlRepositoryStore(one.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
      const stream = new SqlScopeSyncStore(one.db, { maxAttempts: 3 });
      const walk = new SqlIssueSyncStore(two.db, { maxAttempts: 3 });
      const COUNT = 300;
      const cursor = { since: null, page: 1, etag: null };
      for (let round = 0; round < 3; round++) {
        const issues = Array.from({ length: COUNT }, (_, i) => issue(i + 1, { updatedAt: `2026-01-0${round + 1}T00:00:00Z` }));
        const reversed = [...issues].reverse();
        const [streamed, walked] = await Promise.all([
          stream.save('org:acme', issues.map((i) => ({ repositoryId: repo, issue: i })), cursor, issues.map((i) => ({ type: DISPATCH, issueGithubId: i.githubId, repositoryId: repo }))),
          walk.save(repo, reversed, cursor, reversed.map((i) => ({ type: DISPATCH, issueGithubId: i.githubId }))),
        ]);
        assert.equal(streamed.changed + walked.changed, COUNT, `round ${round}: each change stored once`);
        assert.equal(streamed.enqueued + walked.enqueued, round === 0 ? COUNT : 0, `round ${round}: each issue queued once, then coalesced`);
      }
      const jobs = await one.db.selectFrom('jobs').select(['issue_github_id', 'state']).orderBy('issue_github_id').execute();
      assert.deepEqual(jobs, Array.from({ length: COUNT }, (_, i) => ({ issue_github_id: i + 1, state: 'pending' })));
    });
  });
}
