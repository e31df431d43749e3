import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { COMMENT_MARKER } from '../src/domain/entities.js';
import type { Database } from '../src/infra/store/index.js';
import type { Simulator } from '../src/simulator/index.js';
import { simulator, TOKEN } from './support/daemon.js';
import { capturingLog, dispatcherFor, executor, seedQueue } from './support/dispatch.js';
import { testEngines } from './support/engines.js';

const LABELLED = ['autosolve'];

/** The issue as GitHub serves it now, with some fields changed. */
async function servedIssue(sim: Simulator, number: number, changes: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await fetch(`${sim.url}/repos/acme/api/issues/${number}`, { headers: { authorization: `token ${TOKEN}` } });
  return { ...((await response.json()) as Record<string, unknown>), ...changes };
}

for (const engine of await testEngines()) {
  describe(`right before posting: fresh eligibility and the last marker check on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let sim: Simulator;

    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
      sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: LABELLED }] }]);
      await seedQueue(database, sim);
    });
    afterEach(async () => {
      await sim.close();
      await cleanup();
    });

    /** Answers the one queued issue; `duringRun` happens while the model runs. */
    async function answerWhile(duringRun: () => Promise<void> | void) {
      const log = capturingLog();
      const spec = dispatcherFor(database, sim, {
        leaseMs: 30_000,
        log,
        executor: executor(async () => {
          await duringRun();
          return 'the answer';
        }),
      });
      await spec.work(new AbortController().signal);
      const job = await database.db.selectFrom('jobs').selectAll().executeTakeFirstOrThrow();
      return { log, job, comments: sim.comments('acme', 'api', 1), posts: sim.requests.filter((r) => r.method === 'POST').length };
    }

    it('posts nothing on an issue closed during the model run', async () => {
      const { job, comments, posts, log } = await answerWhile(() => void sim.updateIssue('acme', 'api', 1, { state: 'closed' }));
      assert.equal(posts, 0);
      assert.equal(comments.length, 0);
      assert.deepEqual([job.state, job.outcome], ['done', 'not-eligible']);
      assert.ok(log.lines.some((l) => /acme\/api#1: closed during the model run/.test(l.message)), JSON.stringify(log.lines));
    });

    it('posts nothing on an issue unlabelled during the model run', async () => {
      const { job, posts } = await answerWhile(() => void sim.updateIssue('acme', 'api', 1, { labels: [] }));
      assert.equal(posts, 0);
      assert.deepEqual([job.state, job.outcome], ['done', 'not-eligible']);
    });

    it('posts nothing on an issue locked during the model run', async () => {
      const locked = await servedIssue(sim, 1, { locked: true, active_lock_reason: 'too heated' });
      const { job, posts, log } = await answerWhile(() => sim.injectFault({ kind: 'status', status: 200, body: locked, match: { method: 'GET', path: '/repos/acme/api/issues/1' } }));
      assert.equal(posts, 0);
      assert.deepEqual([job.state, job.outcome], ['done', 'not-eligible']);
      assert.ok(log.lines.some((l) => /acme\/api#1: locked during the model run/.test(l.message)), JSON.stringify(log.lines));
    });

    it('posts nothing when another instance answered during the model run', async () => {
      const { job, comments } = await answerWhile(() => void sim.addComment('acme', 'api', 1, { body: `${COMMENT_MARKER}\nanswered elsewhere`, user: 'other-bot' }));
      assert.equal(comments.length, 1, 'only the other answer');
      assert.deepEqual([job.state, job.outcome], ['done', 'already-answered']);
    });

    it('posts the answer on an issue still open, labelled and unlocked', async () => {
      const { job, comments } = await answerWhile(() => undefined);
      assert.equal(comments.length, 1);
      assert.deepEqual([job.state, job.outcome], ['done', 'answered']);
    });
  });
}
