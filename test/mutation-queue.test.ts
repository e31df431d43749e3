/**
 * The queue's settle paths, each checked on the row it leaves behind: what a
 * mutation run of src/infra/store/queue.ts found no test for
 * (docs/mutation-testing.md).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Database } from '../src/infra/store/index.js';
import { SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore } from '../src/infra/store/index.js';
import { testEngines } from './support/engines.js';
import { issue } from './support/issues.js';

const DISPATCH = 'dispatch';
const HOST = 'host-1';

for (const engine of await testEngines()) {
  describe(`job queue, settled rows on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let clock: number;
    let queue: SqlJobQueue;
    const now = () => new Date(clock);

    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
      clock = Date.parse('2026-06-01T00:00:00Z');
      queue = new SqlJobQueue(database.db, { retryDelayMs: 1000, maxRetryDelayMs: 4000, now });
      const repo = await new SqlRepositoryStore(database.db).record(
        { owner: 'acme', name: 'api' },
        { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' },
      );
      const sync = new SqlIssueSyncStore(database.db, { maxAttempts: 3, now });
      const issues = [issue(1), issue(2)];
      await sync.save(repo, issues, { since: null, page: 1, etag: null }, issues.map((i) => ({ type: DISPATCH, issueGithubId: i.githubId })));
    });
    afterEach(() => cleanup());

    async function claimOne() {
      const [job] = await queue.claim(DISPATCH, 1, 60_000);
      assert.ok(job);
      return job;
    }

    async function claimAgain(id: number) {
      const job = (await queue.claim(DISPATCH, 5, 60_000)).find((j) => j.id === id);
      assert.ok(job, `job ${id} is visible`);
      return job;
    }

    it('keeps the comment link and the number of secrets scrubbed of a completed job', async () => {
      const job = await claimOne();
      await queue.complete(job, { outcome: 'answered', commentUrl: 'https://github.com/acme/api/issues/1#issuecomment-9', scrubbed: 2 });
      const row = await queue.get(job.id);
      assert.equal(row?.commentUrl, 'https://github.com/acme/api/issues/1#issuecomment-9');
      assert.equal(row?.scrubbed, 2);
      assert.equal(row?.outcome, 'answered');
      assert.equal(row?.finishedAt, now().toISOString());
    });

    it('holds a released job back for its whole delay and records why it was released', async () => {
      const job = await claimOne();
      await queue.release(job, 5_000, 'backend unavailable: 503');
      assert.equal((await queue.get(job.id))?.lastError, 'backend unavailable: 503');
      assert.equal((await queue.claim(DISPATCH, 5, 60_000)).some((j) => j.id === job.id), false, 'not before the delay');
      clock += 4_999;
      assert.equal((await queue.claim(DISPATCH, 5, 60_000)).some((j) => j.id === job.id), false, 'not a millisecond early');
      clock += 1;
      assert.equal((await queue.claim(DISPATCH, 5, 60_000)).some((j) => j.id === job.id), true);
    });

    it('cuts a long error to 4000 characters, whichever way the job leaves', async () => {
      const long = 'x'.repeat(5_000);
      const failed = await claimOne();
      await queue.fail(failed, long);
      assert.equal((await queue.get(failed.id))?.lastError?.length, 4000);
      const released = await claimOne();
      await queue.release(released, 0, long);
      assert.equal((await queue.get(released.id))?.lastError?.length, 4000);
      const counted = await claimOne();
      await queue.releaseCounted(counted, long, 3);
      assert.equal((await queue.get(counted.id))?.lastError?.length, 4000);
    });

    it('caps the retry delay at maxRetryDelayMs and makes a dead job finish at once', async () => {
      const many = new SqlJobQueue(database.db, { retryDelayMs: 1000, maxRetryDelayMs: 1500, now });
      let job = await claimOne();
      assert.equal(await many.fail(job, 'one'), 'retrying');
      clock += 1000;
      job = await claimAgain(job.id);
      assert.equal(await many.fail(job, 'two'), 'retrying');
      // Uncapped the second delay is 2000 ms; the cap makes it 1500.
      clock += 1500;
      job = await claimAgain(job.id);
      assert.equal(job.attempts, 3);
      assert.equal(await many.fail(job, 'three'), 'dead');
      const dead = await queue.get(job.id);
      assert.equal(dead?.finishedAt, now().toISOString());
      assert.equal(dead?.runAfter, now().toISOString());
    });

    it('counts releases of a job the backend alone fails on, gives its attempt back, and kills it at the bound', async () => {
      let job = await claimOne();
      assert.deepEqual(await queue.releaseCounted(job, 'failed alone', 3), { state: 'released', releases: 1 });
      let row = await queue.get(job.id);
      assert.equal(row?.state, 'pending');
      assert.equal(row?.attempts, 0, 'a release spends no attempt');
      assert.equal(row?.releases, 1);
      assert.equal(row?.lastError, 'failed alone');
      assert.equal(row?.finishedAt, null);
      assert.equal(row?.lockedUntil, null);
      assert.equal(row?.runAfter, now().toISOString(), 'visible again at once');

      job = await claimAgain(job.id);
      assert.deepEqual(await queue.releaseCounted(job, 'failed alone again', 3), { state: 'released', releases: 2 });
      job = await claimAgain(job.id);
      assert.deepEqual(await queue.releaseCounted(job, 'failed alone a third time', 3), { state: 'dead', releases: 3 });
      row = await queue.get(job.id);
      assert.equal(row?.state, 'dead');
      assert.equal(row?.releases, 3);
      assert.equal(row?.finishedAt, now().toISOString());
      assert.equal(row?.attempts, 0);
    });

    it('a stale claim cannot release-count: the row stays with its new owner', async () => {
      const stale = await claimOne();
      clock += 61_000;
      const [fresh] = (await queue.claim(DISPATCH, 5, 60_000)).filter((j) => j.id === stale.id);
      assert.ok(fresh);
      assert.deepEqual(await queue.releaseCounted(stale, 'late', 3), { state: 'released', releases: 0 });
      const row = await queue.get(stale.id);
      assert.equal(row?.state, 'running');
      assert.equal(row?.releases, 0);
    });

    it('does not expire a claim recorded with its own pid: that process is this one', async () => {
      // Every other pid is reported dead, so only the own-pid rule keeps the claim.
      const isAlive = () => false;
      const earlier = new SqlJobQueue(database.db, { now, owner: { id: 'earlier', host: HOST, pid: 77 }, isAlive });
      const me = new SqlJobQueue(database.db, { now, owner: { id: 'me', host: HOST, pid: 77 }, isAlive });
      const [held] = await earlier.claim(DISPATCH, 1, 60_000);
      assert.ok(held);
      assert.equal((await me.claim(DISPATCH, 5, 60_000)).some((j) => j.id === held.id), false);
      assert.equal(await earlier.renew(held, 60_000), true, 'the claim still stands');
    });

    it('retryMatching gives the dead jobs a fresh set of attempts, at the queue’s clock', async () => {
      const many = new SqlJobQueue(database.db, { retryDelayMs: 1000, now });
      const job = await claimOne();
      const doomed = { ...job, attempts: job.maxAttempts };
      assert.equal(await many.fail(doomed, 'last'), 'dead');
      clock += 60_000;
      assert.deepEqual(await queue.retryMatching({ states: ['dead'] }), [job.id]);
      const row = await queue.get(job.id);
      assert.equal(row?.state, 'pending');
      assert.equal(row?.attempts, 0);
      assert.equal(row?.runAfter, now().toISOString());
    });
  });
}
