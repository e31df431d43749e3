/**
 * Issue 12's queue side, on each engine: the revision log (ai.maxRevisionsPerIssue),
 * the operator's view and retry of jobs about one comment, the issue catalog's
 * author association, the backlog's answer-only reading, and migration 012.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { ANSWER_JOB, FOLLOW_UP_JOB, REVISE_JOB } from '../src/domain/eligibility.js';
import type { JobOutcome, JobRequest } from '../src/domain/ports.js';
import type { Database } from '../src/infra/store/index.js';
import {
  MIGRATION_NAMES,
  openDatabase,
  SchemaMigrator,
  SqlBacklogStore,
  SqlCommentSyncStore,
  SqlIssueCatalog,
  SqlIssueSyncStore,
  SqlJobQueue,
  SqlRepositoryStore,
} from '../src/infra/store/index.js';
import { testEngines } from './support/engines.js';
import { issue } from './support/issues.js';
import { relationExists } from './support/store.js';

const cursor = { since: null, page: 1, etag: null };
const followUp = (issueGithubId: number, subjectId: number): JobRequest => ({ type: FOLLOW_UP_JOB, issueGithubId, subjectId });

for (const engine of await testEngines()) {
  describe(`conversation: the queue on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let repo: number;
    let clock: number;
    let queue: SqlJobQueue;
    let sync: SqlIssueSyncStore;
    let comments: SqlCommentSyncStore;
    let day: number;
    const now = () => new Date(clock);

    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
      clock = Date.parse('2026-06-01T00:00:00.000Z');
      day = 1;
      repo = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
      queue = new SqlJobQueue(database.db, { now });
      sync = new SqlIssueSyncStore(database.db, { maxAttempts: 3, reanalyze: true, now });
      comments = new SqlCommentSyncStore(database.db, { maxAttempts: 3, now });
      await sync.save(repo, [issue(1), issue(2)], cursor, [1, 2].map((id) => ({ type: ANSWER_JOB, issueGithubId: id })));
    });
    afterEach(() => cleanup());

    const settle = async (type: string, outcome: JobOutcome) => {
      for (const job of await queue.claim(type, 100, 60_000)) await queue.complete(job, { outcome });
    };
    /** Edits issue `id` (already answered): its revise job is queued. */
    const edit = (id: number) => sync.save(repo, [issue(id, { title: `edit ${++day}`, updatedAt: `2026-03-${String(day).padStart(2, '0')}T00:00:00Z` })], cursor, []);

    it('tells when an issue’s answer was revised: only revise jobs that ended revised, at or after the time asked, oldest first', async () => {
      await settle(ANSWER_JOB, 'answered');
      const finished: string[] = [];
      for (const outcome of ['revised', 'current', 'revised', 'skipped', 'revised'] as const) {
        await edit(1);
        await edit(2);
        clock += 60_000;
        await settle(REVISE_JOB, outcome);
        if (outcome === 'revised') finished.push(now().toISOString());
      }
      await edit(1);
      const [running] = await queue.claim(REVISE_JOB, 1, 60_000);
      assert.equal(running?.issueGithubId, 1, 'a running revise is not a revision yet');
      assert.deepEqual(await queue.revisionsSince(1, new Date(0).toISOString()), finished);
      assert.deepEqual(await queue.revisionsSince(1, finished[1]!), finished.slice(1), 'at or after');
      assert.deepEqual(await queue.revisionsSince(1, new Date(clock + 1).toISOString()), []);
      assert.deepEqual(await queue.revisionsSince(2, new Date(0).toISOString()), finished, 'per issue');
      assert.deepEqual(await queue.revisionsSince(3, new Date(0).toISOString()), []);
    });

    it('lists and shows which comment a job is about', async () => {
      await comments.save(repo, cursor, [followUp(1, 9_100_000_001)]);
      const [listed] = await queue.list({ limit: 1 });
      assert.deepEqual([listed?.type, listed?.subjectId, listed?.issueNumber], [FOLLOW_UP_JOB, 9_100_000_001, 1]);
      assert.equal((await queue.get(listed!.id))?.subjectId, 9_100_000_001);
      const answerJob = (await queue.list()).find((j) => j.type === ANSWER_JOB);
      assert.equal(answerJob?.subjectId, 0, 'about the issue itself');
    });

    it('retries a follow-up by its own subject: another mention answered does not stop it, its own does', async () => {
      await comments.save(repo, cursor, [followUp(1, 11), followUp(1, 12), followUp(1, 13), followUp(1, 15)]);
      const outcomes = new Map<number, JobOutcome>([[11, 'answered'], [12, 'dry-run'], [13, 'dry-run'], [15, 'dry-run']]);
      for (const job of await queue.claim(FOLLOW_UP_JOB, 10, 60_000)) await queue.complete(job, { outcome: outcomes.get(job.subjectId)! });
      const idOf = async (subject: number) => (await queue.list()).find((j) => j.subjectId === subject)!.id;
      assert.equal(await queue.retry(await idOf(12)), true, 'subject 11 answered is another mention');
      assert.deepEqual(await queue.retryMatching({ states: ['done'], outcome: 'dry-run' }), [await idOf(13), await idOf(15)], 'each subject’s latest job');

      // Subject 14: a dry run, then queued again and answered. The dry run is never retried: its mention was answered.
      await settle(FOLLOW_UP_JOB, 'answered');
      await comments.save(repo, cursor, [followUp(1, 14)]);
      await settle(FOLLOW_UP_JOB, 'dry-run');
      const dryRun = await idOf(14);
      assert.deepEqual(await comments.save(repo, cursor, [followUp(1, 14)]), { enqueued: 1 });
      await settle(FOLLOW_UP_JOB, 'answered');
      assert.equal(await queue.retry(dryRun), false, 'its subject was answered since');
      assert.deepEqual(await queue.retryMatching({ states: ['done'] }), []);
    });

    it('retries a revise job as a revise, whatever the issue’s answer; an answered issue’s answer job never', async () => {
      await settle(ANSWER_JOB, 'answered');
      await edit(1);
      const [revise] = await queue.claim(REVISE_JOB, 1, 60_000);
      await queue.fail({ ...revise!, attempts: revise!.maxAttempts }, 'exit 1');
      assert.deepEqual(await queue.retryMatching({ states: ['dead', 'done'] }), [revise!.id], 'only the dead revise: the answers are answered');
      const retried = await queue.get(revise!.id);
      assert.deepEqual([retried?.type, retried?.state], [REVISE_JOB, 'pending']);
      assert.equal((await database.db.selectFrom('jobs').selectAll().where('type', '=', ANSWER_JOB).where('state', '=', 'pending').execute()).length, 0);

      // No outcome of a later revision settles the issue's revisions for good: a dead one can still be retried.
      const [again] = await queue.claim(REVISE_JOB, 1, 60_000);
      await queue.fail({ ...again!, attempts: again!.maxAttempts }, 'exit 1');
      await edit(1);
      await settle(REVISE_JOB, 'already-answered');
      assert.equal(await queue.retry(revise!.id), true);
    });

    it('the backlog reads answer jobs only: a follow-up or a live revise is not an answer', async () => {
      await settle(ANSWER_JOB, 'not-eligible');
      await sync.save(repo, [issue(3)], cursor, []);
      await comments.save(repo, cursor, [followUp(3, 31)]);
      await settle(FOLLOW_UP_JOB, 'answered');
      const backlog = new SqlBacklogStore(database.db);
      const unanswered = async () => (await backlog.unanswered(repo)).map((u) => [u.issue.number, u.latestJob?.outcome ?? null]);
      assert.deepEqual(await unanswered(), [[1, 'not-eligible'], [2, 'not-eligible'], [3, null]], 'a follow-up answered is not the issue’s answer');
      await comments.save(repo, cursor, [followUp(3, 32)]);
      assert.deepEqual((await backlog.pending(repo)).map((p) => p.issue.number), [], 'a pending follow-up is not a pending answer');
      assert.equal(await backlog.enqueue(repo, [3]), 1, 'the answer job sits beside the live follow-up');
    });

    it('finds an issue with its author’s association as stored', async () => {
      await sync.save(repo, [issue(4, { authorAssociation: 'CONTRIBUTOR' })], cursor, []);
      const catalog = new SqlIssueCatalog(database.db);
      const found = await catalog.find(4);
      assert.equal(found?.issue.authorAssociation, 'CONTRIBUTOR');
      assert.deepEqual(found?.repository, { owner: 'acme', name: 'api' });
      const unknown = await catalog.find(1);
      assert.ok(unknown && !('authorAssociation' in unknown.issue), 'absent where unknown');
    });
  });

  describe(`conversation: migration 012 on ${engine.name}`, { skip: engine.skip }, () => {
    it('down keeps the issue’s own jobs under the old one-live-job rule, up brings subjects back', async () => {
      const blank = await engine.blank();
      const database = await openDatabase(blank.target);
      try {
        const migrator = new SchemaMigrator(database.db, database.path);
        await migrator.up();
        const from012 = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('012-conversation'));
        const repo = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
        await new SqlIssueSyncStore(database.db, { maxAttempts: 3 }).save(repo, [issue(1)], cursor, [{ type: ANSWER_JOB, issueGithubId: 1 }]);
        await new SqlCommentSyncStore(database.db, { maxAttempts: 3 }).save(repo, cursor, [followUp(1, 5), followUp(1, 6)]);
        assert.ok(await relationExists(database, 'jobs_one_live_per_subject'));

        assert.deepEqual(await migrator.down(from012.length), [...from012].reverse());
        const left = await sql<{ type: string }>`SELECT type FROM jobs`.execute(database.db);
        assert.deepEqual(left.rows.map((r) => r.type), [ANSWER_JOB]);
        assert.ok(await relationExists(database, 'jobs_one_live_per_issue'));
        assert.equal(await relationExists(database, 'jobs_one_live_per_subject'), false);

        assert.deepEqual(await migrator.up(), from012);
        const hashes = await sql<{ content_hash: string | null }>`SELECT content_hash FROM issues`.execute(database.db);
        assert.deepEqual(hashes.rows, [{ content_hash: null }], 'known again at the next change');
        assert.deepEqual(await new SqlCommentSyncStore(database.db, { maxAttempts: 3 }).save(repo, cursor, [followUp(1, 5), followUp(1, 6)]), { enqueued: 2 });
      } finally {
        await database.close();
        await blank.cleanup();
      }
    });
  });
}
