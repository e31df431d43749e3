import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ANSWER_JOB } from '../src/domain/eligibility.js';
import type { QueueJob } from '../src/domain/ports.js';
import { SqlJobQueue, type Database } from '../src/infra/store/index.js';
import type { Simulator } from '../src/simulator/index.js';
import { simulator } from './support/daemon.js';
import { capturingLog, client, dispatcherFor, executor, seedQueue, waitFor } from './support/dispatch.js';
import { testEngines } from './support/engines.js';

const LABELLED = ['autosolve'];

function jobRow(database: Database) {
  return database.db.selectFrom('jobs').selectAll().orderBy('id').executeTakeFirstOrThrow();
}

/** Another worker on the same host, alive, trying to take jobs every few milliseconds. */
function competitor(database: Database, leaseMs: number) {
  const queue = new SqlJobQueue(database.db, { owner: { id: 'competitor', host: hostname(), pid: process.pid } });
  const taken: QueueJob[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      taken.push(...(await queue.claim(ANSWER_JOB, 1, leaseMs)));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    taken,
    async stop() {
      running = false;
      await loop;
    },
  };
}

for (const engine of await testEngines()) {
  describe(`leases: a claim held while its worker lives on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let sim: Simulator | undefined;

    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
    });
    afterEach(async () => {
      await sim?.close();
      sim = undefined;
      await cleanup();
    });

    it('renews a claim that is still ours and refuses a lost one', async () => {
      sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'One', labels: LABELLED }] }]);
      await seedQueue(database, sim);
      let clock = Date.now() + 1000;
      const now = () => new Date(clock);
      const mine = new SqlJobQueue(database.db, { now, owner: { id: 'mine', host: 'h1', pid: 1 } });
      const theirs = new SqlJobQueue(database.db, { now, owner: { id: 'theirs', host: 'h2', pid: 2 } });
      const [job] = await mine.claim(ANSWER_JOB, 1, 1000);
      assert.ok(job);
      clock += 900;
      assert.equal(await mine.renew(job, 1000), true);
      clock += 900;
      assert.deepEqual(await theirs.claim(ANSWER_JOB, 1, 1000), [], 'the renewed lease still holds 1.8 s after the claim');
      clock += 200;
      const [taken] = await theirs.claim(ANSWER_JOB, 1, 1000);
      assert.equal(taken?.id, job.id, 'an unrenewed lease expires');
      assert.equal(await mine.renew(job, 1000), false, 'the first claim is lost for good');
      const row = await jobRow(database);
      assert.deepEqual([row.owner_instance, row.owner_host, row.owner_pid], ['theirs', 'h2', 2], 'the claim records its owner');
    });

    it('hands back at once a job whose owner died on this host, but waits out the lease of a live or remote owner', async () => {
      sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'One', labels: LABELLED }, { title: 'Two', labels: LABELLED }, { title: 'Three', labels: LABELLED }] }]);
      await seedQueue(database, sim);
      const DEAD = 999_001;
      const LIVE = 999_002;
      const isAlive = (pid: number) => pid !== DEAD;
      const here = hostname();
      const dead = new SqlJobQueue(database.db, { owner: { id: 'dead', host: here, pid: DEAD }, isAlive });
      const live = new SqlJobQueue(database.db, { owner: { id: 'live', host: here, pid: LIVE }, isAlive });
      const remote = new SqlJobQueue(database.db, { owner: { id: 'remote', host: 'elsewhere', pid: DEAD }, isAlive });
      const [c] = await remote.claim(ANSWER_JOB, 1, 60_000);
      const [b] = await live.claim(ANSWER_JOB, 1, 60_000);
      const [a] = await dead.claim(ANSWER_JOB, 1, 60_000);
      assert.ok(a && b && c);
      const me = new SqlJobQueue(database.db, { owner: { id: 'me', host: here, pid: process.pid }, isAlive });
      const reclaimed = await me.claim(ANSWER_JOB, 5, 60_000);
      assert.deepEqual(reclaimed.map((j) => j.id), [a.id], 'only the dead owner’s job, long before its lease ends');
      assert.equal(await dead.renew(a, 60_000), false, 'the dead owner’s claim is void');
    });

    it('keeps the claim through a model run three times longer than the lease', async () => {
      sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Slow', labels: LABELLED }] }]);
      await seedQueue(database, sim);
      const leaseMs = 300;
      const log = capturingLog();
      let other: ReturnType<typeof competitor> | undefined;
      try {
        const spec = dispatcherFor(database, sim, {
          leaseMs,
          log,
          executor: executor(async () => {
            other = competitor(database, leaseMs);
            const started = Date.now();
            // The lease running out is what is under test: let three of them pass.
            await waitFor(() => Date.now() - started > 3 * leaseMs);
            return 'slow answer';
          }),
        });
        await spec.work(new AbortController().signal);
      } finally {
        await other?.stop();
      }
      assert.deepEqual(other?.taken, [], 'no other worker got the job while it was being answered');
      assert.equal(sim.comments('acme', 'api', 1).length, 1);
      const row = await jobRow(database);
      assert.deepEqual([row.state, row.outcome, row.attempts], ['done', 'answered', 1]);
    });

    it('keeps the claim while the comment is held by write pacing', async () => {
      sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Answer me', labels: LABELLED }, { title: 'Not for us' }] }]);
      await seedQueue(database, sim, [1]);
      const leaseMs = 300;
      const paced = client(sim, { writeMinIntervalMs: 4 * leaseMs });
      // A write just happened: the next one waits for the pacing interval.
      await paced.createComment({ owner: 'acme', name: 'api' }, 2, 'a human-looking comment', new AbortController().signal);
      let other: ReturnType<typeof competitor> | undefined;
      try {
        const spec = dispatcherFor(database, sim, {
          leaseMs,
          log: capturingLog(),
          github: paced,
          executor: executor(() => {
            other = competitor(database, leaseMs);
            return Promise.resolve('quick answer');
          }),
        });
        await spec.work(new AbortController().signal);
      } finally {
        await other?.stop();
      }
      assert.deepEqual(other?.taken, [], 'no other worker got the job while its comment waited');
      assert.equal(sim.comments('acme', 'api', 1).length, 1);
    });

    it('posts nothing when the claim was lost before the comment goes out, and says so', async () => {
      sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Contested', labels: LABELLED }] }]);
      await seedQueue(database, sim);
      const log = capturingLog();
      // A long lease: no heartbeat runs before the post, so only the fence can notice.
      const spec = dispatcherFor(database, sim, {
        leaseMs: 60_000,
        log,
        executor: executor(async () => {
          // Another worker took the job over meanwhile (its lease had lapsed, say).
          await database.db.updateTable('jobs').set({ locked_by: 'another-worker', owner_instance: 'another' }).execute();
          return 'answer';
        }),
      });
      await spec.work(new AbortController().signal);
      assert.equal(sim.comments('acme', 'api', 1).length, 0);
      assert.equal(sim.requests.filter((r) => r.method === 'POST').length, 0, 'nothing was sent');
      assert.ok(log.lines.some((l) => l.level === 'error' && /acme\/api#1: claim lost while posting the comment; nothing posted/.test(l.message)), JSON.stringify(log.lines));
      const row = await jobRow(database);
      assert.deepEqual([row.state, row.locked_by], ['running', 'another-worker'], 'the new holder’s claim is untouched');
    });

    it('stops the model run when a heartbeat finds the claim lost', async () => {
      sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Contested', labels: LABELLED }] }]);
      await seedQueue(database, sim);
      const log = capturingLog();
      let aborted = false;
      const spec = dispatcherFor(database, sim, {
        leaseMs: 300,
        log,
        executor: executor(async (_input, signal) => {
          await database.db.updateTable('jobs').set({ locked_by: 'another-worker' }).execute();
          await waitFor(() => signal.aborted, 10_000);
          aborted = true;
          throw new Error('aborted');
        }),
      });
      await spec.work(new AbortController().signal);
      assert.equal(aborted, true);
      assert.equal(sim.comments('acme', 'api', 1).length, 0);
      assert.ok(log.lines.some((l) => /claim lost while running test executor/.test(l.message)), JSON.stringify(log.lines));
    });
  });
}

