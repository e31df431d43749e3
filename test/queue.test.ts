import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { QueueJob } from '../src/domain/ports.js';
import type { Database } from '../src/infra/store/index.js';
import { SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore } from '../src/infra/store/index.js';
import { testEngines } from './support/engines.js';
import { sharedDatabase } from './support/store.js';
import { issue } from './support/issues.js';

const DISPATCH = 'dispatch';

for (const engine of await testEngines()) {
  describe(`job queue on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let clock: number;
    let queue: SqlJobQueue;

    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
      clock = Date.parse('2026-06-01T00:00:00Z');
      const now = () => new Date(clock);
      queue = new SqlJobQueue(database.db, { retryDelayMs: 1000, maxRetryDelayMs: 4000, now });
      const repo = await new SqlRepositoryStore(database.db).record(
        { owner: 'acme', name: 'api' },
        { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' },
      );
      const sync = new SqlIssueSyncStore(database.db, { maxAttempts: 3, now });
      const issues = [issue(1), issue(2), issue(3)];
      await sync.save(repo, issues, { since: null, page: 1, etag: null }, issues.map((i) => ({ type: DISPATCH, issueGithubId: i.githubId })));
    });
    afterEach(() => cleanup());

    it('claims atomically: concurrent claimers never share a job', async () => {
      const claims = await Promise.all([queue.claim(DISPATCH, 2, 60_000), queue.claim(DISPATCH, 2, 60_000), queue.claim(DISPATCH, 2, 60_000)]);
      const ids = claims.flat().map((j) => j.id);
      assert.equal(ids.length, 3);
      assert.equal(new Set(ids).size, 3);
      assert.deepEqual(await queue.claim(DISPATCH, 5, 60_000), []);
    });

    it('brings a job back when its claim expires (a crashed worker), and ignores the stale claimer', async () => {
      const [first] = await queue.claim(DISPATCH, 1, 30_000);
      assert.ok(first);
      clock += 29_000;
      assert.equal((await queue.claim(DISPATCH, 5, 30_000)).some((j) => j.id === first.id), false);
      clock += 2_000;
      const again = await queue.claim(DISPATCH, 5, 30_000);
      const reclaimed = again.find((j) => j.id === first.id);
      assert.ok(reclaimed, 'expired claim is visible again');
      assert.equal(reclaimed.attempts, 2);
      await queue.complete(first, { outcome: 'answered' }); // the crashed worker's late write
      assert.equal((await queue.get(first.id))?.state, 'running', 'stale claim cannot complete');
      await queue.complete(reclaimed, { outcome: 'answered' });
      assert.equal((await queue.get(first.id))?.state, 'done');
    });

    it('backs off failed attempts, then dead-letters; retry brings a dead job back', async () => {
      let [job] = await queue.claim(DISPATCH, 1, 60_000);
      assert.ok(job);
      const id = job.id;
      assert.equal(await queue.fail(job, 'exit 1: boom'), 'retrying');
      assert.deepEqual((await queue.claim(DISPATCH, 5, 60_000)).filter((j) => j.id === id), [], 'not before the backoff');
      clock += 1000;
      [job] = (await queue.claim(DISPATCH, 5, 60_000)).filter((j) => j.id === id);
      assert.ok(job);
      assert.equal(await queue.fail(job, 'exit 1: boom again'), 'retrying');
      clock += 1999;
      assert.equal((await queue.claim(DISPATCH, 5, 60_000)).some((j) => j.id === id), false, 'second backoff doubles');
      clock += 1;
      [job] = (await queue.claim(DISPATCH, 5, 60_000)).filter((j) => j.id === id);
      assert.ok(job);
      assert.equal(job.attempts, 3);
      assert.equal(await queue.fail(job, 'exit 1: last'), 'dead');
      const dead = await queue.get(id);
      assert.equal(dead?.state, 'dead');
      assert.equal(dead?.lastError, 'exit 1: last');
      assert.equal(dead?.repository, 'acme/api');
      assert.deepEqual((await queue.list({ state: 'dead' })).map((j) => j.id), [id]);

      assert.equal(await queue.retry(id), true);
      const [revived] = (await queue.claim(DISPATCH, 5, 60_000)).filter((j) => j.id === id);
      assert.equal(revived?.attempts, 1);
      assert.equal(await queue.retry(999), false);
    });

    it('releases a job without spending an attempt when the backend is unavailable', async () => {
      const [job] = await queue.claim(DISPATCH, 1, 60_000);
      assert.ok(job);
      await queue.release(job, 5_000);
      assert.equal((await queue.get(job.id))?.attempts, 0);
      clock += 5_000;
      const [again] = (await queue.claim(DISPATCH, 5, 60_000)).filter((j) => j.id === job.id);
      assert.equal(again?.attempts, 1);
    });

    it('records the owner with a claim and forgets it when the job leaves running; a settled claim cannot be renewed', async () => {
      const owned = new SqlJobQueue(database.db, { now: () => new Date(clock), owner: { id: 'instance-1', host: 'host-1', pid: 4321 } });
      const owner = async (id: number) => {
        const row = await database.db.selectFrom('jobs').select(['owner_instance', 'owner_host', 'owner_pid']).where('id', '=', id).executeTakeFirstOrThrow();
        return [row.owner_instance, row.owner_host, row.owner_pid];
      };
      const [a, b, c] = await owned.claim(DISPATCH, 3, 60_000);
      assert.ok(a && b && c);
      assert.deepEqual(await owner(a.id), ['instance-1', 'host-1', 4321]);
      await owned.complete(a, { outcome: 'answered' });
      await owned.release(b, 0);
      await owned.fail(c, 'boom');
      for (const job of [a, b, c]) assert.deepEqual(await owner(job.id), [null, null, null]);
      assert.equal(await owned.renew(a, 60_000), false);
    });
  });
}

/** `count` issues of acme/api stored, each with a pending queue job. */
async function pendingJobs(database: Database, count: number): Promise<void> {
  const repo = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
  const issues = Array.from({ length: count }, (_, i) => issue(i + 1));
  await new SqlIssueSyncStore(database.db, { maxAttempts: 3 }).save(repo, issues, { since: null, page: 1, etag: null }, issues.map((i) => ({ type: DISPATCH, issueGithubId: i.githubId })));
}

for (const engine of await testEngines()) {
  describe(`job queue, several daemons on ${engine.name}`, { skip: engine.skip }, () => {
    // Three daemons: each its own connection (a pool on PostgreSQL), its own owner, one database.
    let databases: Database[];
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ databases, cleanup } = await sharedDatabase(engine, 3));
    });
    afterEach(() => cleanup());

    it('three claimers taking jobs at once until none is left claim every one of 200 jobs exactly once', async () => {
      const COUNT = 200;
      await pendingJobs(databases[0]!, COUNT);
      const queues = databases.map((database, i) => new SqlJobQueue(database.db, { owner: { id: `daemon-${i}`, host: hostname(), pid: process.pid } }));
      const claimedBy = await Promise.all(
        queues.map(async (queue) => {
          const claimed: QueueJob[] = [];
          for (;;) {
            const jobs = await queue.claim(DISPATCH, 3, 60_000);
            if (jobs.length === 0) return claimed;
            claimed.push(...jobs);
          }
        }),
      );
      const ids = claimedBy.flat().map((job) => job.id);
      assert.equal(ids.length, COUNT, 'as many claims as jobs');
      assert.equal(new Set(ids).size, COUNT, 'no job claimed twice');
      const rows = await databases[0]!.db.selectFrom('jobs').select(['id', 'state', 'attempts', 'owner_instance']).orderBy('id').execute();
      const holder = new Map(claimedBy.flatMap((jobs, i) => jobs.map((job) => [job.id, `daemon-${i}`] as const)));
      assert.deepEqual(
        rows.map((row) => [row.id, row.state, row.attempts, row.owner_instance]),
        rows.map((row) => [row.id, 'running', 1, holder.get(row.id)]),
        'each row claimed once, by the daemon that was handed it',
      );
      // Each claim stands: its holder settles it, fenced by its token.
      await Promise.all(claimedBy.map((jobs, i) => Promise.all(jobs.map((job) => queues[i]!.complete(job, { outcome: 'answered' })))));
      const done = await databases[0]!.db.selectFrom('jobs').select('id').where('state', '=', 'done').execute();
      assert.equal(done.length, COUNT);
    });

    if (engine.name === 'postgres') {
      it('skips the rows another claim holds instead of waiting for them', async () => {
        await pendingJobs(databases[0]!, 10);
        const queue = new SqlJobQueue(databases[1]!.db);
        // Another daemon's claim in flight: it holds the four oldest jobs until it commits.
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        let holding!: (pid: number) => void;
        const held = new Promise<number>((resolve) => (holding = resolve));
        const other = databases[0]!.db.transaction().execute(async (trx) => {
          await sql`SELECT id FROM jobs ORDER BY id LIMIT 4 FOR UPDATE`.execute(trx);
          holding((await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx)).rows[0]!.pid);
          await released;
        });
        try {
          const holder = await held;
          // A claim that waited for the held rows would never end here: watch for it blocking instead.
          const blocked = (async () => {
            for (;;) {
              const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM pg_stat_activity WHERE ${holder} = ANY(pg_blocking_pids(pid))`.execute(databases[2]!.db);
              if (Number(rows[0]?.n) > 0) return 'blocked' as const;
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
          })();
          const claimed = await Promise.race([queue.claim(DISPATCH, 3, 60_000), blocked]);
          assert.notEqual(claimed, 'blocked', 'the claim waited for the rows another claim holds');
          assert.deepEqual(claimed === 'blocked' ? [] : claimed.map((job) => job.id), [5, 6, 7], 'the next three, at once');
        } finally {
          release();
          await other;
        }
        assert.deepEqual((await queue.claim(DISPATCH, 10, 60_000)).map((job) => job.id), [1, 2, 3, 4, 8, 9, 10]);
      });
    }
  });
}
