/**
 * Issue 12's store side, on each engine: what an issue sync stores of an edit
 * (the content hash, the author's association), the `revise` job an edit of an
 * answered issue queues, jobs about one comment (`subject_id`), and the comment
 * poller's one-transaction save of its cursor with the follow-up jobs.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { contentHash } from '../src/domain/content-hash.js';
import { ANSWER_JOB, FOLLOW_UP_JOB, REVISE_JOB } from '../src/domain/eligibility.js';
import { INITIAL_CURSOR, type Issue } from '../src/domain/entities.js';
import type { JobOutcome, JobRequest } from '../src/domain/ports.js';
import type { Database } from '../src/infra/store/index.js';
import { SqlCommentSyncStore, SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore, SqlScopeSyncStore } from '../src/infra/store/index.js';
import { testEngines } from './support/engines.js';
import { issue } from './support/issues.js';
import { refuseInserts, sharedDatabase } from './support/store.js';

const cursor = { since: null, page: 1, etag: null };
const answer = (...issues: Issue[]): JobRequest[] => issues.map((i) => ({ type: ANSWER_JOB, issueGithubId: i.githubId }));
const followUp = (issueGithubId: number, subjectId: number): JobRequest => ({ type: FOLLOW_UP_JOB, issueGithubId, subjectId });
/** The same issue, changed later on GitHub. */
const later = (base: Issue, day: number, change: Partial<Issue> = {}): Issue => ({ ...base, updatedAt: `2026-02-${String(day).padStart(2, '0')}T00:00:00Z`, ...change });

for (const engine of await testEngines()) {
  describe(`conversation: issue writes on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let repo: number;
    let sync: SqlIssueSyncStore;
    let queue: SqlJobQueue;

    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
      repo = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
      sync = new SqlIssueSyncStore(database.db, { maxAttempts: 3, reanalyze: true });
      queue = new SqlJobQueue(database.db);
    });
    afterEach(() => cleanup());

    const jobs = () => database.db.selectFrom('jobs').select(['type', 'issue_github_id', 'subject_id', 'state', 'outcome', 'repository_id']).orderBy('id').execute();
    const live = async (type: string) => (await jobs()).filter((j) => j.type === type && (j.state === 'pending' || j.state === 'running'));
    /** Claims every visible job of `type` and settles it with `outcome`. */
    const settle = async (type: string, outcome: JobOutcome) => {
      for (const job of await queue.claim(type, 100, 60_000)) await queue.complete(job, { outcome });
    };
    /** Issue 1, answered. */
    const answered = async (base = issue(1)) => {
      await sync.save(repo, [base], cursor, answer(base));
      await settle(ANSWER_JOB, 'answered');
      return base;
    };

    it('stores the content hash and the author association, and both again when they change', async () => {
      const first = issue(1, { authorAssociation: 'MEMBER' });
      await sync.save(repo, [first, issue(2)], cursor, []);
      const row = (id: number) => database.db.selectFrom('issues').select(['content_hash', 'author_association']).where('github_id', '=', id).executeTakeFirstOrThrow();
      assert.deepEqual(await row(1), { content_hash: contentHash(first), author_association: 'MEMBER' });
      assert.match((await row(1)).content_hash ?? '', /^[0-9a-f]{16}$/);
      assert.deepEqual(await row(2), { content_hash: contentHash(issue(2)), author_association: null }, 'unknown association: null');
      const edited = later(first, 2, { body: 'Rewritten', authorAssociation: 'OWNER' });
      await sync.save(repo, [edited], cursor, []);
      assert.deepEqual(await row(1), { content_hash: contentHash(edited), author_association: 'OWNER' });
      assert.notEqual(contentHash(edited), contentHash(first));
    });

    it('a title or body edit of an answered issue queues exactly one revise job, in the same save', async () => {
      const one = await answered();
      const result = await sync.save(repo, [later(one, 2, { title: 'Crash on start (edited)' })], cursor, answer(one));
      assert.deepEqual(result, { changed: 1, enqueued: 1 }, 'the revise counts as enqueued: the dispatcher is woken');
      assert.deepEqual(await live(REVISE_JOB), [{ type: REVISE_JOB, issue_github_id: 1, subject_id: 0, state: 'pending', outcome: null, repository_id: repo }]);
      assert.deepEqual(await live(ANSWER_JOB), [], 'an answered issue is never answered again');

      await sync.save(repo, [later(issue(2), 2)], cursor, []);
      const two = await answered(issue(3));
      await sync.save(repo, [later(two, 3, { body: 'More detail' })], cursor, []);
      assert.deepEqual((await live(REVISE_JOB)).map((j) => j.issue_github_id), [1, 3], 'a body edit too, whatever the poller asked');
    });

    it('a label change, a comment bump, a close or a reformatted body queue no revise job', async () => {
      const one = await answered();
      assert.equal((await sync.save(repo, [later(one, 2, { labels: ['autosolve', 'bug'] })], cursor, [])).enqueued, 0, 'labels');
      assert.equal((await sync.save(repo, [later(one, 3, { commentsCount: 4 })], cursor, [])).enqueued, 0, 'a comment bumps updated_at only');
      assert.equal((await sync.save(repo, [later(one, 4, { state: 'closed' })], cursor, [])).enqueued, 0, 'closed');
      assert.equal((await sync.save(repo, [later(one, 5, { body: `${one.body ?? ''}\r\n  ` })], cursor, [])).enqueued, 0, 'line endings and blanks');
      assert.deepEqual(await live(REVISE_JOB), []);
    });

    it('an edit of an issue not answered queues no revise job: never asked, waiting, dry run, judged not eligible', async () => {
      const never = issue(1);
      const waiting = issue(2);
      const dry = issue(3);
      const notEligible = issue(4);
      await sync.save(repo, [never, waiting], cursor, answer(waiting));
      for (const [subject, outcome] of [[dry, 'dry-run'], [notEligible, 'not-eligible']] as const) {
        await sync.save(repo, [subject], cursor, answer(subject));
        await settle(ANSWER_JOB, outcome);
      }
      const edits = [never, waiting, dry, notEligible].map((i) => later(i, 2, { title: `${i.title} (edited)` }));
      assert.equal((await sync.save(repo, edits, cursor, [])).changed, 4);
      assert.deepEqual(await live(REVISE_JOB), []);
    });

    it('an edit of an issue whose answer job found an answer there queues a revise job: it may be ours, posted before a kill', async () => {
      const found = issue(5);
      await sync.save(repo, [found], cursor, answer(found));
      await settle(ANSWER_JOB, 'already-answered');
      assert.equal((await sync.save(repo, [later(found, 2, { title: `${found.title} (edited)` })], cursor, [])).enqueued, 1);
      assert.equal((await live(REVISE_JOB)).length, 1);
    });

    it('queues nothing when reanalyze is off, its default', async () => {
      const one = await answered();
      const quiet = new SqlIssueSyncStore(database.db, { maxAttempts: 3 });
      assert.deepEqual(await quiet.save(repo, [later(one, 2, { title: 'edited' })], cursor, []), { changed: 1, enqueued: 0 });
      assert.deepEqual(await live(REVISE_JOB), []);
    });

    it('an issue stored before its hash was known is not an edit: its first change only records the hash', async () => {
      const one = await answered();
      await database.db.updateTable('issues').set({ content_hash: null }).execute();
      assert.equal((await sync.save(repo, [later(one, 2, { title: 'edited' })], cursor, [])).enqueued, 0);
      assert.equal((await sync.save(repo, [later(one, 3, { title: 'edited again' })], cursor, [])).enqueued, 1, 'the next edit is one');
    });

    it('an edit a running job absorbed is revised when that job settles with the hash stored when it was claimed', async () => {
      const one = await answered();
      await sync.save(repo, [later(one, 2, { title: 'edit 1' })], cursor, []);
      const [running] = await queue.claim(REVISE_JOB, 1, 60_000);
      const edit1 = contentHash(later(one, 2, { title: 'edit 1' }));
      assert.equal((await sync.save(repo, [later(one, 3, { title: 'edit 2' })], cursor, [])).enqueued, 0, 'the running job absorbs the second edit');
      // Claimed when edit 1 was stored: edit 2 came in while it ran, and is still to be revised.
      await queue.complete(running!, { outcome: 'revised', claimedHash: edit1 });
      assert.equal((await live(REVISE_JOB)).length, 1, 'a revision follows');
      // A job during which the store took nothing queues nothing more.
      const [next] = await queue.claim(REVISE_JOB, 1, 60_000);
      await queue.complete(next!, { outcome: 'revised', claimedHash: contentHash(later(one, 3, { title: 'edit 2' })) });
      assert.deepEqual(await live(REVISE_JOB), []);
    });

    it('a second edit while a revise job is live coalesces into it; once it ends, a further edit queues again', async () => {
      const one = await answered();
      await sync.save(repo, [later(one, 2, { title: 'edit 1' })], cursor, []);
      assert.equal((await sync.save(repo, [later(one, 3, { title: 'edit 2' })], cursor, [])).enqueued, 0, 'pending absorbs it');
      const [claimed] = await queue.claim(REVISE_JOB, 1, 60_000);
      assert.equal((await sync.save(repo, [later(one, 4, { title: 'edit 3' })], cursor, [])).enqueued, 0, 'running absorbs it');
      await queue.complete(claimed!, { outcome: 'revised' });
      let day = 5;
      // Whatever a revision ended with, even an outcome that settles an answer for good.
      for (const outcome of ['revised', 'current', 'skipped', 'already-answered'] as const) {
        assert.equal((await sync.save(repo, [later(one, day, { title: `edit ${day}` })], cursor, [])).enqueued, 1, `after ${outcome}`);
        await settle(REVISE_JOB, outcome);
        day++;
      }
      assert.equal((await sync.save(repo, [later(one, day, { title: 'last' })], cursor, [])).enqueued, 1, 'after already-answered');
      const revisions = (await jobs()).filter((j) => j.type === REVISE_JOB).map((j) => [j.state, j.outcome]);
      assert.deepEqual(revisions, [['done', 'revised'], ['done', 'revised'], ['done', 'current'], ['done', 'skipped'], ['done', 'already-answered'], ['pending', null]]);
    });

    it('the organisation stream’s store queues revise jobs the same way, each in its issue’s repository', async () => {
      const web = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'web' }, { githubId: 2, owner: 'acme', name: 'web', private: false, htmlUrl: '' });
      const stream = new SqlScopeSyncStore(database.db, { maxAttempts: 3, reanalyze: true });
      const one = issue(1);
      const two = issue(2);
      await stream.save('org:acme', [{ repositoryId: repo, issue: one }, { repositoryId: web, issue: two }], cursor, [
        { type: ANSWER_JOB, issueGithubId: 1, repositoryId: repo },
        { type: ANSWER_JOB, issueGithubId: 2, repositoryId: web },
      ]);
      await settle(ANSWER_JOB, 'answered');
      const edits = [{ repositoryId: repo, issue: later(one, 2, { body: 'x' }) }, { repositoryId: web, issue: later(two, 2, { labels: [] }) }];
      assert.deepEqual(await stream.save('org:acme', edits, cursor, []), { changed: 2, enqueued: 1, changedRepositories: [repo, web] });
      assert.deepEqual((await live(REVISE_JOB)).map((j) => [j.issue_github_id, j.repository_id]), [[1, repo]]);
      const quiet = new SqlScopeSyncStore(database.db, { maxAttempts: 3 });
      await settle(REVISE_JOB, 'revised');
      assert.equal((await quiet.save('org:acme', [{ repositoryId: repo, issue: later(one, 3, { body: 'y' }) }], cursor, [])).enqueued, 0, 'reanalyze off');
    });

    it('queues jobs about comments: one per subject, a live one absorbing its subject’s, a handled subject never again', async () => {
      const one = issue(1);
      await sync.save(repo, [one], cursor, []);
      const comments = new SqlCommentSyncStore(database.db, { maxAttempts: 3 });
      assert.deepEqual(await comments.save(repo, { since: 'T1', page: 1, etag: null }, [followUp(1, 9_000_000_001), followUp(1, 9_000_000_002)]), { enqueued: 2 });
      assert.deepEqual(await comments.save(repo, { since: 'T2', page: 1, etag: null }, [followUp(1, 9_000_000_001)]), { enqueued: 0 }, 'coalesced');
      const subjects = async () => (await live(FOLLOW_UP_JOB)).map((j) => Number(j.subject_id));
      assert.deepEqual(await subjects(), [9_000_000_001, 9_000_000_002]);
      const claimed = await queue.claim(FOLLOW_UP_JOB, 10, 60_000);
      assert.deepEqual(claimed.map((j) => j.subjectId), [9_000_000_001, 9_000_000_002], 'the claim says which comment');
      const outcomes = new Map<number, JobOutcome>([[9_000_000_001, 'answered'], [9_000_000_002, 'not-eligible']]);
      for (const job of claimed) await queue.complete(job, { outcome: outcomes.get(job.subjectId)! });

      const again = [followUp(1, 9_000_000_001), followUp(1, 9_000_000_002), followUp(1, 9_000_000_003)];
      assert.deepEqual(await comments.save(repo, { since: 'T3', page: 1, etag: null }, again), { enqueued: 2 }, 'the answered mention is not asked again');
      assert.deepEqual(await subjects(), [9_000_000_002, 9_000_000_003]);
      await settle(FOLLOW_UP_JOB, 'already-answered');
      assert.deepEqual(await comments.save(repo, { since: 'T4', page: 1, etag: null }, again), { enqueued: 0 }, 'already answered is handled too');

      // Subjects are per type: the issue's own answer is another job.
      assert.equal((await sync.save(repo, [later(one, 2)], cursor, answer(one))).enqueued, 1);
    });

    it('an answered issue still gets follow-ups, and a follow-up does not count as its answer', async () => {
      const one = issue(1);
      const comments = new SqlCommentSyncStore(database.db, { maxAttempts: 3 });
      await sync.save(repo, [one], cursor, []);
      await comments.save(repo, cursor, [followUp(1, 77)]);
      await settle(FOLLOW_UP_JOB, 'answered');
      assert.equal((await sync.save(repo, [later(one, 2, { title: 'edited' })], cursor, answer(one))).enqueued, 1, 'its answer job');
      assert.deepEqual((await live(ANSWER_JOB)).length, 1);
      assert.deepEqual(await live(REVISE_JOB), [], 'nothing to revise: only a follow-up was posted');
      await settle(ANSWER_JOB, 'answered');
      assert.deepEqual(await comments.save(repo, cursor, [followUp(1, 78)]), { enqueued: 1 });
    });
  });

  describe(`conversation: the comment poller's store on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let repo: number;
    let clock: number;
    let comments: SqlCommentSyncStore;
    const now = () => new Date(clock);

    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
      clock = Date.parse('2026-06-01T10:00:00.000Z');
      repo = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
      comments = new SqlCommentSyncStore(database.db, { maxAttempts: 4, now });
    });
    afterEach(() => cleanup());

    const cursorRows = () => database.db.selectFrom('sync_cursors').selectAll().orderBy('topic').execute();

    it('keeps its own cursor (topic comments) beside the issue poller’s, per repository', async () => {
      const issues = new SqlIssueSyncStore(database.db, { maxAttempts: 4, now });
      assert.deepEqual(await comments.cursor(repo), INITIAL_CURSOR);
      await issues.save(repo, [], { since: 'I1', page: 2, etag: '"i"' }, []);
      assert.deepEqual(await comments.cursor(repo), INITIAL_CURSOR, 'not the issues’ cursor');
      const next = { since: '2026-06-01T09:00:00Z', page: 3, etag: 'W/"c"' };
      await comments.save(repo, next, []);
      assert.deepEqual(await comments.cursor(repo), next);
      assert.deepEqual(await issues.cursor(repo), { since: 'I1', page: 2, etag: '"i"' });
      assert.deepEqual((await cursorRows()).map((r) => [r.topic, r.since, r.updated_at]), [['comments', next.since, now().toISOString()], ['issues', 'I1', now().toISOString()]]);
    });

    it('queues follow-up jobs with the configured attempts, visible now', async () => {
      assert.deepEqual(await comments.save(repo, cursor, [followUp(5, 42)]), { enqueued: 1 });
      const row = await database.db.selectFrom('jobs').selectAll().executeTakeFirstOrThrow();
      assert.deepEqual(
        [row.type, row.issue_github_id, Number(row.subject_id), row.repository_id, row.state, row.attempts, row.max_attempts, row.run_after],
        [FOLLOW_UP_JOB, 5, 42, repo, 'pending', 0, 4, now().toISOString()],
      );
    });

    it('stores the cursor and the jobs together: a failing save leaves neither', async () => {
      const first = { since: 'C1', page: 1, etag: 'e1' };
      await comments.save(repo, first, []);
      await refuseInserts(database, 'jobs', 'queue refused');
      await assert.rejects(comments.save(repo, { since: 'C2', page: 1, etag: 'e2' }, [followUp(5, 42)]), /queue refused/);
      assert.deepEqual(await comments.cursor(repo), first, 'the cursor did not advance');
      assert.equal((await database.db.selectFrom('jobs').selectAll().execute()).length, 0);
    });

    it('records each poll on its own row: the issue poller’s status is untouched', async () => {
      const issues = new SqlIssueSyncStore(database.db, { maxAttempts: 4, now });
      await issues.recordPoll(repo, { ok: true });
      const issuesPolledAt = now().toISOString();
      clock += 5_000;
      await comments.recordPoll(repo, { ok: false, error: 'HTTP 502' });
      const [failed, issueRow] = await cursorRows();
      assert.deepEqual([failed?.topic, failed?.last_error, failed?.last_error_at, failed?.last_polled_at], ['comments', 'HTTP 502', now().toISOString(), null]);
      assert.deepEqual([issueRow?.topic, issueRow?.last_error, issueRow?.last_polled_at], ['issues', null, issuesPolledAt]);
      clock += 5_000;
      await comments.recordPoll(repo, { ok: true });
      const [succeeded] = await cursorRows();
      assert.deepEqual([succeeded?.last_error, succeeded?.last_polled_at], [null, now().toISOString()]);
    });
  });

  // PostgreSQL only: its row locks are what the id order protects. SQLite has one writer at a time, and two
  // of its connections in one process share the thread, so a writer waiting for the other blocks it (its
  // daemons are separate processes).
  if (engine.name !== 'postgres') continue;
  describe(`conversation: issue writes, several daemons on ${engine.name}`, { skip: engine.skip }, () => {
    let databases: Database[];
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ databases, cleanup } = await sharedDatabase(engine, 2));
    });
    afterEach(() => cleanup());

    it('a stream and a walk storing the same edits of answered issues at once, in opposite orders, queue each revise once', async () => {
      const [one, two] = databases as [Database, Database];
      const repo = await new SqlRepositoryStore(one.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
      const stream = new SqlScopeSyncStore(one.db, { maxAttempts: 3, reanalyze: true });
      const walk = new SqlIssueSyncStore(two.db, { maxAttempts: 3, reanalyze: true });
      const COUNT = 200;
      const base = Array.from({ length: COUNT }, (_, i) => issue(i + 1));
      await walk.save(repo, base, cursor, base.map((i) => ({ type: ANSWER_JOB, issueGithubId: i.githubId })));
      const queue = new SqlJobQueue(one.db);
      for (const job of await queue.claim(ANSWER_JOB, COUNT, 60_000)) await queue.complete(job, { outcome: 'answered' });
      const edited = base.map((i) => later(i, 2, { title: `${i.title} (edited)` }));
      const reversed = [...edited].reverse();
      const [streamed, walked] = await Promise.all([
        stream.save('org:acme', edited.map((i) => ({ repositoryId: repo, issue: i })), cursor, []),
        walk.save(repo, reversed, cursor, []),
      ]);
      assert.equal(streamed.changed + walked.changed, COUNT, 'each edit stored once');
      assert.equal(streamed.enqueued + walked.enqueued, COUNT, 'each revise queued once');
      const revises = await one.db.selectFrom('jobs').select('issue_github_id').where('type', '=', REVISE_JOB).orderBy('issue_github_id').execute();
      assert.deepEqual(revises.map((r) => r.issue_github_id), base.map((i) => i.githubId));
    });
  });
}
