/**
 * A queue job that keeps failing retries after `ai.retryDelay`, doubling each
 * attempt, but never more than an hour later (README, docs/architecture.md "The
 * queue"): a job with many attempts left must not vanish for days. The queue is
 * built as the daemon builds it (src/app.ts: `retryDelayMs` from the
 * configuration, the cap left at its default), on each engine, with its injected
 * clock.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { loadConfig } from '../src/config/load.js';
import { SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore, type Database } from '../src/infra/store/index.js';
import { testEngines, type TestEngine } from './support/engines.js';
import { issue } from './support/issues.js';

const DISPATCH = 'dispatch';
const HOUR = 3_600_000;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The configuration's ai.retryDelay: its default, or `retryDelay` given in a config file. */
function configuredRetryDelay(dir: string, retryDelay?: string): number {
  const file = join(dir, 'config.yml');
  writeFileSync(file, retryDelay === undefined ? 'ai: {}\n' : `ai:\n  retryDelay: ${retryDelay}\n`);
  return loadConfig({ file, env: {}, forRun: false }).config.ai.retryDelay;
}

/** A queue as the daemon builds it, one job with `maxAttempts`, and a clock that moves when told. */
async function setUp(engine: TestEngine, retryDelay: string | undefined, maxAttempts: number) {
  const { database, dir, cleanup } = await engine.fresh();
  cleanups.push(cleanup);
  const clock = { now: Date.parse('2026-06-01T00:00:00Z') };
  const now = () => new Date(clock.now);
  const queue = new SqlJobQueue(database.db, { retryDelayMs: configuredRetryDelay(dir, retryDelay), now });
  const repo = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
  await new SqlIssueSyncStore(database.db, { maxAttempts, now }).save(repo, [issue(1)], { since: null, page: 1, etag: null }, [{ type: DISPATCH, issueGithubId: 1 }]);
  return { database, queue, clock };
}

/** Claims the job as soon as it is visible and fails it, until it is dead; returns how far ahead each retry was put. */
async function failUntilDead({ database, queue, clock }: { database: Database; queue: SqlJobQueue; clock: { now: number } }): Promise<number[]> {
  const delays: number[] = [];
  for (;;) {
    const [job] = await queue.claim(DISPATCH, 1, 60_000);
    assert.ok(job, `the job is visible at its run_after (after ${delays.length} failures)`);
    if ((await queue.fail(job, 'exit 1: the model crashed')) === 'dead') return delays;
    const row = await database.db.selectFrom('jobs').select('run_after').where('id', '=', job.id).executeTakeFirstOrThrow();
    const runAfter = Date.parse(row.run_after);
    delays.push(runAfter - clock.now);
    // One millisecond early it is not visible yet.
    clock.now = runAfter - 1;
    assert.deepEqual(await queue.claim(DISPATCH, 1, 60_000), [], `not visible before its run_after (after ${delays.length} failures)`);
    clock.now = runAfter;
  }
}

for (const engine of await testEngines()) {
  void describe(`the queue caps the retry delay of a failing job at one hour on ${engine.name}`, { skip: engine.skip }, () => {
    void it('doubles the default ai.retryDelay of 1m each attempt, and never puts a retry more than 1h ahead', async () => {
      const delays = await failUntilDead(await setUp(engine, undefined, 12));
      const minute = 60_000;
      assert.deepEqual(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60].map((m) => m * minute));
    });

    void it('caps a configured ai.retryDelay longer than an hour at the hour from the first retry', async () => {
      const delays = await failUntilDead(await setUp(engine, '2h', 4));
      assert.deepEqual(delays, [HOUR, HOUR, HOUR]);
    });
  });
}
