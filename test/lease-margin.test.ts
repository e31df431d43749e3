/**
 * The claim on a queue job lives exactly as long as its worker. The default
 * `ai.visibilityTimeout` (30s) is far shorter than the default `ai.timeout`
 * (5m) on purpose (src/config/schema.ts): the lease is renewed every third of
 * it while the worker lives (src/domain/tasks/global/lease.ts), so a model run
 * as long as `ai.timeout` keeps its claim, a renewal may fail once on a busy
 * database with the lease still holding, and a dead worker's job comes back
 * one lease after its last renewal. What is pinned here:
 * - with the default configuration, a model run lasting the whole `ai.timeout`
 *   is never claimed by another worker, even one that claims at the very
 *   instant a renewal is due, and its lease never has less than two thirds of
 *   `ai.visibilityTimeout` ahead (the margin the renewal every third gives);
 * - a worker that stops renewing loses the job exactly `ai.visibilityTimeout`
 *   after its last renewal, not later.
 * The dispatcher is the real one, on each engine and the simulator. Time
 * is virtual: the queue's injected clock, and node's mocked setInterval for
 * the heartbeat, moved together by the model run.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { loadConfig } from '../src/config/load.js';
import { ANSWER_JOB } from '../src/domain/eligibility.js';
import type { QueueJob } from '../src/domain/ports.js';
import { SqlJobQueue, type Database } from '../src/infra/store/index.js';
import type { Simulator } from '../src/simulator/index.js';
import { simulator } from './support/daemon.js';
import { capturingLog, dispatcherFor, executor, seedQueue } from './support/dispatch.js';
import { flush } from './support/shared-clock.js';
import { testEngines } from './support/engines.js';

/** The defaults a daemon runs with when the configuration says nothing. */
function defaults(dir: string): { visibilityTimeout: number; timeout: number } {
  const file = join(dir, 'config.yml');
  writeFileSync(file, 'ai: {}\n');
  const { ai } = loadConfig({ file, env: {}, forRun: false }).config;
  return { visibilityTimeout: ai.visibilityTimeout, timeout: ai.timeout };
}

/**
 * The real queue, keeping the renewals still on their way to the database, so
 * the test waits for a heartbeat's write before it reads the lease: on SQLite
 * the write is done within a few turns of the event loop, on PostgreSQL it
 * goes over the network.
 */
class WatchedQueue extends SqlJobQueue {
  readonly #renewing = new Set<Promise<boolean>>();

  override renew(job: QueueJob, leaseMs: number): Promise<boolean> {
    const renewal = super.renew(job, leaseMs);
    this.#renewing.add(renewal);
    const done = () => void this.#renewing.delete(renewal);
    renewal.then(done, done);
    return renewal;
  }

  /** Once the heartbeats due have run, and every renewal they started is written. */
  async settled(): Promise<void> {
    await flush();
    while (this.#renewing.size > 0) {
      await Promise.allSettled([...this.#renewing]);
      await flush();
    }
  }
}

/** How far ahead the job's lease runs, at `now`. */
async function leaseLeft(database: Database, now: number): Promise<number> {
  const row = await database.db.selectFrom('jobs').select('locked_until').executeTakeFirstOrThrow();
  assert.ok(row.locked_until !== null, 'the job is claimed');
  return Date.parse(row.locked_until) - now;
}

for (const engine of await testEngines()) {
  void describe(`a claim lives as long as its worker, with the default lease on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let dir: string;
    let cleanup: () => Promise<void>;
    let sim: Simulator | undefined;
    const clock = { now: 0 };
    const now = () => new Date(clock.now);

    beforeEach(async () => {
      ({ database, dir, cleanup } = await engine.fresh());
      // Just ahead of the wall clock, which stamped the seeded job's run_after.
      clock.now = Date.now() + 1000;
    });
    afterEach(async () => {
      mock.timers.reset();
      await sim?.close();
      sim = undefined;
      await cleanup();
    });

    void it('keeps the claim through a model run lasting the whole ai.timeout, renewing with two thirds of the lease to spare', async () => {
      const { visibilityTimeout, timeout } = defaults(dir);
      sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Slow one', labels: ['autosolve'] }] }]);
      await seedQueue(database, sim);
      const mine = new WatchedQueue(database.db, { now, owner: { id: 'mine', host: 'host-a', pid: 101 } });
      // A live worker on another host: it takes any job whose lease has run out.
      const theirs = new SqlJobQueue(database.db, { now, owner: { id: 'theirs', host: 'host-b', pid: 202 } });
      const taken: QueueJob[] = [];
      let least = Number.POSITIVE_INFINITY;
      let ran = 0;
      mock.timers.enable({ apis: ['setInterval'] });
      const spec = dispatcherFor(database, sim, {
        leaseMs: visibilityTimeout,
        log: capturingLog(),
        queue: mine,
        executor: executor(async () => {
          // The model runs for ai.timeout, a second at a time. Each second the other
          // worker tries first, before any heartbeat due at that instant.
          const step = 1_000;
          for (ran = 0; ran < timeout; ran += step) {
            clock.now += step;
            taken.push(...(await theirs.claim(ANSWER_JOB, 1, visibilityTimeout)));
            mock.timers.tick(step);
            await mine.settled();
            least = Math.min(least, await leaseLeft(database, clock.now));
          }
          return 'a slow answer';
        }),
      });
      await spec.work(new AbortController().signal);

      assert.equal(ran, timeout, 'the model ran for the whole ai.timeout');
      assert.deepEqual(taken, [], 'no other worker claimed the job while its worker lived');
      assert.ok(least >= (2 * visibilityTimeout) / 3, `the lease kept at least two thirds of ${visibilityTimeout} ms ahead; it fell to ${least} ms`);
      assert.equal(sim.comments('acme', 'api', 1).length, 1);
      const row = await database.db.selectFrom('jobs').select(['state', 'outcome', 'attempts']).executeTakeFirstOrThrow();
      assert.deepEqual([row.state, row.outcome, row.attempts], ['done', 'answered', 1]);
    });

    void it('gives the job of a worker that stopped renewing to another worker exactly ai.visibilityTimeout after its last renewal', async () => {
      const { visibilityTimeout } = defaults(dir);
      sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Orphaned', labels: ['autosolve'] }] }]);
      await seedQueue(database, sim);
      const mine = new WatchedQueue(database.db, { now, owner: { id: 'mine', host: 'host-a', pid: 101 } });
      const theirs = new SqlJobQueue(database.db, { now, owner: { id: 'theirs', host: 'host-b', pid: 202 } });
      let lastRenewal = 0;
      let taken: QueueJob[] = [];
      mock.timers.enable({ apis: ['setInterval'] });
      const spec = dispatcherFor(database, sim, {
        leaseMs: visibilityTimeout,
        log: capturingLog(),
        queue: mine,
        executor: executor(async (_input, signal) => {
          // Renewed a few times while the worker lives…
          for (let beat = 0; beat < 4; beat++) {
            clock.now += visibilityTimeout / 3;
            mock.timers.tick(visibilityTimeout / 3);
            await mine.settled();
          }
          lastRenewal = clock.now;
          assert.equal(await leaseLeft(database, clock.now), visibilityTimeout, 'a renewal runs the lease a whole visibilityTimeout from now');
          // …then the worker hangs where no heartbeat runs (as if its process froze): only the clock moves.
          mock.timers.reset();
          clock.now = lastRenewal + visibilityTimeout - 1;
          assert.deepEqual(await theirs.claim(ANSWER_JOB, 1, visibilityTimeout), [], 'not a millisecond early');
          clock.now = lastRenewal + visibilityTimeout;
          taken = await theirs.claim(ANSWER_JOB, 1, visibilityTimeout);
          assert.ok(signal.aborted || taken.length === 1);
          return 'too late';
        }),
      });
      await spec.work(new AbortController().signal);

      assert.equal(taken.length, 1, 'the other worker took the job one lease after the last renewal');
      assert.equal(sim.comments('acme', 'api', 1).length, 0, 'the worker that lost its claim posted nothing');
      const row = await database.db.selectFrom('jobs').select(['state', 'owner_instance']).executeTakeFirstOrThrow();
      assert.deepEqual([row.state, row.owner_instance], ['running', 'theirs']);
    });
  });
}
