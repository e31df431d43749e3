/**
 * The issue sync's one transaction (src/infra/store/issue-sync.ts and
 * issue-writes.ts), read back from the database on each engine: what it stores, what
 * counts as changed, which jobs it queues and which it never queues again.
 * Written for what a mutation run found untested (docs/mutation-testing.md).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { contentHash } from '../src/domain/content-hash.js';
import { INITIAL_CURSOR, type Issue } from '../src/domain/entities.js';
import type { Database } from '../src/infra/store/index.js';
import { SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore } from '../src/infra/store/index.js';
import { testEngines } from './support/engines.js';
import { issue } from './support/issues.js';

const ANSWER = 'answer';
const START = Date.parse('2026-06-01T10:20:30.456Z');
const cursorAt = (since: string | null, page = 1, etag: string | null = null) => ({ since, page, etag });
const answer = (issues: readonly Issue[]) => issues.map((i) => ({ type: ANSWER, issueGithubId: i.githubId }));

for (const engine of await testEngines()) {
  describe(`issue sync store on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let clock: number;
    let sync: SqlIssueSyncStore;
    let api: number;
    let web: number;
    const now = () => new Date(clock);

    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
      clock = START;
      sync = new SqlIssueSyncStore(database.db, { maxAttempts: 4, now });
      const repositories = new SqlRepositoryStore(database.db);
      api = await repositories.record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
      web = await repositories.record({ owner: 'acme', name: 'web' }, { githubId: 2, owner: 'acme', name: 'web', private: false, htmlUrl: '' });
    });
    afterEach(() => cleanup());

    const issueRow = (githubId: number) => database.db.selectFrom('issues').selectAll().where('github_id', '=', githubId).executeTakeFirstOrThrow();
    const jobRows = () => database.db.selectFrom('jobs').selectAll().orderBy('id').execute();
    const cursorRow = (repositoryId: number) => database.db.selectFrom('sync_cursors').selectAll().where('repository_id', '=', repositoryId).executeTakeFirstOrThrow();

    it('starts from the initial cursor, then resumes from the one saved last, per repository', async () => {
      assert.deepEqual(await sync.cursor(api), INITIAL_CURSOR);
      await sync.save(api, [], cursorAt('2026-05-01T00:00:00Z', 3, '"a"'), []);
      assert.deepEqual(await sync.cursor(api), cursorAt('2026-05-01T00:00:00Z', 3, '"a"'));
      await sync.save(api, [], cursorAt('2026-05-02T00:00:00Z', 1, null), []);
      assert.deepEqual(await sync.cursor(api), cursorAt('2026-05-02T00:00:00Z', 1, null));
      assert.deepEqual(await sync.cursor(web), INITIAL_CURSOR);
      assert.equal((await cursorRow(api)).updated_at, now().toISOString());
      // The topic status.ts reads, and every database already written holds: another name restarts every walk.
      assert.equal((await cursorRow(api)).topic, 'issues');
    });

    it('stores every field of an issue, and every field again when it changes', async () => {
      const first = issue(10, { title: 'Crash', body: 'It crashes', labels: ['autosolve', 'bug'], author: 'bob', authorAssociation: 'MEMBER', commentsCount: 2, htmlUrl: 'https://github.com/acme/api/issues/10' });
      await sync.save(api, [first], cursorAt(null), []);
      let row = await issueRow(10);
      assert.deepEqual(
        { ...row, id: 0 },
        {
          id: 0, github_id: 10, repository_id: api, number: 10, title: 'Crash', body: 'It crashes', state: 'open', is_pull_request: 0,
          labels: '["autosolve","bug"]', author: 'bob', html_url: 'https://github.com/acme/api/issues/10', comments_count: 2,
          created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', synced_at: now().toISOString(),
          content_hash: contentHash(first), author_association: 'MEMBER',
        },
      );
      clock += 1000;
      const edited = { ...first, title: 'Crash on start', body: null, state: 'closed' as const, isPullRequest: true, labels: [], author: null, authorAssociation: 'NONE', commentsCount: 3, htmlUrl: 'https://github.com/acme/api/pull/10', createdAt: '2026-01-01T00:00:01Z', updatedAt: '2026-01-02T00:00:00Z' };
      assert.equal((await sync.save(api, [edited], cursorAt(null), [])).changed, 1);
      row = await issueRow(10);
      assert.deepEqual(
        [row.title, row.body, row.state, row.is_pull_request, row.labels, row.author, row.html_url, row.comments_count, row.created_at, row.updated_at, row.synced_at, row.content_hash, row.author_association],
        ['Crash on start', null, 'closed', 1, '[]', null, 'https://github.com/acme/api/pull/10', 3, '2026-01-01T00:00:01Z', '2026-01-02T00:00:00Z', now().toISOString(), contentHash(edited), 'NONE'],
      );
    });

    it('an issue seen again unchanged is not changed and queues nothing; a new updated_at or title, a transfer or a new number is a change', async () => {
      const one = issue(1);
      assert.deepEqual(await sync.save(api, [one], cursorAt(null), answer([one])), { changed: 1, enqueued: 1 });
      await settle();
      assert.deepEqual(await sync.save(api, [one], cursorAt(null), answer([one])), { changed: 0, enqueued: 0 }, 'listed again, unchanged');
      // updated_at counts whole seconds: a retitle within the same one is a change all the same (test/same-second-changes.test.ts).
      assert.deepEqual(await sync.save(api, [{ ...one, title: 'retitled, same updated_at' }], cursorAt(null), answer([one])), { changed: 1, enqueued: 0 });
      assert.equal((await issueRow(1)).title, 'retitled, same updated_at');
      assert.equal((await sync.save(api, [{ ...one, updatedAt: '2026-01-03T00:00:00Z' }], cursorAt(null), [])).changed, 1);
      assert.equal((await sync.save(web, [{ ...one, updatedAt: '2026-01-03T00:00:00Z' }], cursorAt(null), [])).changed, 1, 'transferred');
      assert.equal((await issueRow(1)).repository_id, web);
      assert.equal((await sync.save(web, [{ ...one, number: 99, updatedAt: '2026-01-03T00:00:00Z' }], cursorAt(null), [])).changed, 1, 'renumbered');
      assert.equal((await issueRow(1)).number, 99);
    });

    /** Settles every job as answered: the issue is handled. */
    async function settle(outcome: 'answered' | 'not-eligible' | 'already-answered' = 'answered'): Promise<void> {
      const queue = new SqlJobQueue(database.db, { now });
      for (const job of await queue.claim(ANSWER, 100, 60_000)) await queue.complete(job, { outcome });
    }

    it('queues only for changed issues, with the configured attempts, visible now, in the issue’s repository', async () => {
      const [a, b] = [issue(1), issue(2)];
      await sync.save(web, [a], cursorAt(null), []);
      const result = await sync.save(web, [a, b], cursorAt(null), answer([a, b]));
      assert.deepEqual(result, { changed: 1, enqueued: 1 });
      const [job, ...rest] = await jobRows();
      assert.deepEqual(rest, []);
      assert.ok(job);
      assert.deepEqual(
        [job.type, job.issue_github_id, job.repository_id, job.state, job.attempts, job.max_attempts, job.run_after, job.created_at, job.payload],
        [ANSWER, 2, web, 'pending', 0, 4, now().toISOString(), now().toISOString(), '{}'],
      );
    });

    it('a live job absorbs a second request; an answered issue is never queued again; one judged not eligible is', async () => {
      const one = issue(1);
      await sync.save(api, [one], cursorAt(null), answer([one]));
      assert.deepEqual(await sync.save(api, [{ ...one, updatedAt: '2026-01-02T00:00:00Z' }], cursorAt(null), answer([one])), { changed: 1, enqueued: 0 }, 'coalesced');
      await settle('answered');
      assert.deepEqual(await sync.save(api, [{ ...one, updatedAt: '2026-01-03T00:00:00Z' }], cursorAt(null), answer([one])), { changed: 1, enqueued: 0 }, 'handled');
      assert.deepEqual(await sync.save(api, [{ ...one, updatedAt: '2026-01-04T00:00:00Z' }], cursorAt(null), [{ type: 'other', issueGithubId: 1 }]), { changed: 1, enqueued: 1 }, 'handled per type');

      const two = issue(2);
      await sync.save(api, [two], cursorAt(null), answer([two]));
      await new SqlJobQueue(database.db, { now }).claim('other', 10, 60_000);
      await settle('not-eligible');
      assert.deepEqual(await sync.save(api, [{ ...two, updatedAt: '2026-01-05T00:00:00Z' }], cursorAt(null), answer([two])), { changed: 1, enqueued: 1 }, 'not handled');

      const three = issue(3);
      await sync.save(api, [three], cursorAt(null), answer([three]));
      await settle('already-answered');
      assert.deepEqual(await sync.save(api, [{ ...three, updatedAt: '2026-01-05T00:00:00Z' }], cursorAt(null), answer([three])), { changed: 1, enqueued: 0 }, 'already answered is handled');
    });

    it('one row per issue in a save, the last seen winning', async () => {
      const older = issue(5, { title: 'old', updatedAt: '2026-01-01T00:00:00Z' });
      const newer = issue(5, { title: 'new', updatedAt: '2026-01-02T00:00:00Z' });
      assert.equal((await sync.save(api, [older, newer], cursorAt(null), [])).changed, 1);
      assert.equal((await issueRow(5)).title, 'new');
    });

    it('saves and queues more issues than one statement holds', async () => {
      const many = Array.from({ length: 1_201 }, (_, i) => issue(i + 1));
      assert.deepEqual(await sync.save(api, many, cursorAt(null), answer(many)), { changed: 1_201, enqueued: 1_201 });
      const count = await database.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(count.n), 1_201);
      await settle();
      const again = many.map((i) => ({ ...i, updatedAt: '2026-02-01T00:00:00Z' }));
      assert.deepEqual(await sync.save(api, again, cursorAt(null), answer(again)), { changed: 1_201, enqueued: 0 }, 'every chunk checks what was handled');
    });

    it('records each poll: success clears the error, failure keeps the last success', async () => {
      await sync.recordPoll(api, { ok: false, error: 'HTTP 502' });
      let row = await cursorRow(api);
      assert.deepEqual([row.page, row.since, row.last_error, row.last_error_at, row.last_polled_at], [1, null, 'HTTP 502', now().toISOString(), null]);
      const failedAt = now().toISOString();
      clock += 5_000;
      await sync.recordPoll(api, { ok: true });
      row = await cursorRow(api);
      assert.deepEqual([row.last_error, row.last_error_at, row.last_polled_at], [null, failedAt, now().toISOString()]);
      const polledAt = now().toISOString();
      clock += 5_000;
      await sync.save(api, [], cursorAt('2026-05-01T00:00:00Z', 2, '"e"'), []);
      await sync.recordPoll(api, { ok: false, error: 'timeout' });
      row = await cursorRow(api);
      assert.deepEqual([row.since, row.page, row.etag, row.last_error, row.last_error_at, row.last_polled_at], ['2026-05-01T00:00:00Z', 2, '"e"', 'timeout', now().toISOString(), polledAt]);
    });

    it('marks the first sync once, in whole seconds, and never moves it', async () => {
      assert.deepEqual(await sync.markFirstSync(api), { at: '2026-06-01T10:20:30.000Z', first: true });
      clock += 3_600_000;
      assert.deepEqual(await sync.markFirstSync(api), { at: '2026-06-01T10:20:30.000Z', first: false });
      const restarted = new SqlIssueSyncStore(database.db, { maxAttempts: 4, now });
      assert.deepEqual(await restarted.markFirstSync(api), { at: '2026-06-01T10:20:30.000Z', first: false }, 'another process finds it set');
      assert.deepEqual(await restarted.markFirstSync(web), { at: '2026-06-01T11:20:30.000Z', first: true });
      const stored = await database.db.selectFrom('repositories').select('first_synced_at').where('id', '=', api).executeTakeFirstOrThrow();
      assert.equal(stored.first_synced_at, '2026-06-01T10:20:30.000Z');
    });
  });
}
