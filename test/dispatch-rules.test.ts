/**
 * The dispatcher's rules, in-process: the real dispatcher, a real database (each engine),
 * the real GitHub client against the simulator, and an executor the test holds
 * until it lets each run answer. Each rule here was once breakable without a
 * test failing (issue 15).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { hasMarker } from '../src/domain/comment.js';
import { COMMENT_MARKER } from '../src/domain/entities.js';
import type { Executor, ExecutorInput } from '../src/domain/ports.js';
import type { Database } from '../src/infra/store/index.js';
import type { Simulator } from '../src/simulator/index.js';
import { simulator } from './support/daemon.js';
import { capturingLog, dispatcherFor, executor, seedQueue, waitFor } from './support/dispatch.js';
import { testEngines } from './support/engines.js';

const LABELLED = ['autosolve'];
/** In the past, so that a change made now moves updated_at and a later sync stores it. */
const LONG_AGO = '2025-01-01T00:00:00Z';

interface HeldRun {
  readonly number: number;
  /** Lets this run answer. */
  answer(): void;
}

/**
 * An executor whose runs wait until the test answers them one by one, or until
 * their signal aborts them (as a real executor does: the run rejects).
 */
function heldExecutor(): { executor: Executor; started: number[]; waiting: HeldRun[]; inFlight(): number; most(): number } {
  const started: number[] = [];
  const waiting: HeldRun[] = [];
  let inFlight = 0;
  let most = 0;
  const run = (input: ExecutorInput, signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      let settled = false;
      const end = () => {
        if (settled) return false;
        settled = true;
        inFlight--;
        waiting.splice(waiting.indexOf(held), 1);
        return true;
      };
      const held: HeldRun = { number: input.number, answer: () => void (end() && resolve(`Answer for #${input.number}.`)) };
      signal.addEventListener('abort', () => void (end() && reject(signal.reason)), { once: true });
      inFlight++;
      most = Math.max(most, inFlight);
      started.push(input.number);
      waiting.push(held);
    });
  return { executor: executor(run), started, waiting, inFlight: () => inFlight, most: () => most };
}

/** An executor that answers at once and counts its runs per issue. */
function answeringExecutor(): { executor: Executor; started: number[] } {
  const started: number[] = [];
  return {
    started,
    executor: executor(async (input) => {
      started.push(input.number);
      return `Answer for #${input.number}.`;
    }),
  };
}

function jobsOf(database: Database) {
  return database.db
    .selectFrom('jobs')
    .innerJoin('issues', 'issues.github_id', 'jobs.issue_github_id')
    .select(['issues.number', 'jobs.state', 'jobs.outcome', 'jobs.attempts', 'jobs.locked_by', 'jobs.run_after'])
    .orderBy('issues.number')
    .execute();
}

const posts = (sim: Simulator) => sim.requests.filter((r) => r.method === 'POST' && /\/comments$/.test(r.path)).length;

for (const engine of await testEngines()) {
  describe(`dispatch rules on ${engine.name}`, { skip: engine.skip }, () => {
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

    /** acme/api with `count` labelled open issues, each queued. */
    async function queued(count: number): Promise<Simulator> {
      const issues = Array.from({ length: count }, (_, i) => ({ title: `Issue ${i + 1}`, labels: LABELLED, createdAt: LONG_AGO, updatedAt: LONG_AGO }));
      sim = await simulator([{ owner: 'acme', name: 'api', issues }]);
      await seedQueue(database, sim);
      return sim;
    }

    /** Stores what GitHub says now and queues nothing, as the poller's next pass would. */
    const polled = (github: Simulator) => seedQueue(database, github, []);

    describe('eligibility at dispatch: an issue closed or unlabelled after it was queued is not answered', () => {
      const changes: ReadonlyArray<readonly [string, Parameters<Simulator['updateIssue']>[3]]> = [
        ['closed', { state: 'closed' }],
        ['unlabelled', { labels: [] }],
      ];

      for (const [what, patch] of changes) {
        it(`${what} and polled before the dispatch: no model run, no comment, the job not-eligible`, async () => {
          const github = await queued(2);
          github.updateIssue('acme', 'api', 1, patch);
          await polled(github);
          const model = answeringExecutor();
          await dispatcherFor(database, github, { executor: model.executor, leaseMs: 30_000, log: capturingLog() }).work(new AbortController().signal);

          assert.deepEqual(model.started, [2], 'the model runs only for the issue still eligible');
          assert.equal(github.comments('acme', 'api', 1).length, 0);
          assert.equal(github.comments('acme', 'api', 2).length, 1, 'the other issue is answered');
          const jobs = await jobsOf(database);
          assert.deepEqual(jobs.map((j) => [j.number, j.state, j.outcome]), [[1, 'done', 'not-eligible'], [2, 'done', 'answered']]);
        });

        it(`${what} on GitHub before the poll saw it: no comment, the job not-eligible`, async () => {
          const github = await queued(2);
          github.updateIssue('acme', 'api', 1, patch);
          const model = answeringExecutor();
          await dispatcherFor(database, github, { executor: model.executor, leaseMs: 30_000, log: capturingLog() }).work(new AbortController().signal);

          assert.equal(github.comments('acme', 'api', 1).length, 0);
          assert.equal(github.comments('acme', 'api', 2).length, 1, 'the other issue is answered');
          assert.equal(posts(github), 1, 'one comment posted in all');
          const jobs = await jobsOf(database);
          assert.deepEqual(jobs.map((j) => [j.number, j.state, j.outcome]), [[1, 'done', 'not-eligible'], [2, 'done', 'answered']]);
        });
      }
    });

    describe('a marker that appears while the model runs stops the post', () => {
      const markers = [
        ['another instance', `${COMMENT_MARKER}\nanswered elsewhere`],
        ['a writer of the compact marker', '<!--autosolve-->\nanswered elsewhere'],
      ] as const;

      for (const [who, body] of markers) {
        it(`${who}: exactly one marker comment, the job already-answered`, async () => {
          const github = await queued(1);
          const model = heldExecutor();
          const pass = dispatcherFor(database, github, { executor: model.executor, leaseMs: 30_000, log: capturingLog() }).work(new AbortController().signal);
          await waitFor(() => model.waiting.length === 1);
          github.addComment('acme', 'api', 1, { body, user: 'other-bot' });
          model.waiting[0]?.answer();
          await pass;

          assert.deepEqual(model.started, [1], 'the marker was not there when the model started');
          const marked = github.comments('acme', 'api', 1).filter((c) => hasMarker(c.body));
          assert.deepEqual(marked.map((c) => c.user), ['other-bot'], 'only the other answer');
          assert.equal(posts(github), 0);
          const [job] = await jobsOf(database);
          assert.deepEqual([job?.state, job?.outcome], ['done', 'already-answered']);
        });
      }
    });

    it('ai.concurrency 3: three model runs at once, never a fourth, each issue answered exactly once', async () => {
      const github = await queued(7);
      const model = heldExecutor();
      const shutdown = new AbortController();
      const pass = dispatcherFor(database, github, { executor: model.executor, leaseMs: 30_000, log: capturingLog(), concurrency: 3 }).work(shutdown.signal);
      const running = async () => (await jobsOf(database)).filter((j) => j.state === 'running').length;
      try {
        // Answer one run at a time, each only once every claimed job has reached the
        // model (nothing between claim and run) and the expected number are waiting.
        for (let answered = 0; answered < 7; answered++) {
          const expected = Math.min(3, 7 - answered);
          await waitFor(async () => model.inFlight() >= expected && (await running()) === model.inFlight()).catch(() =>
            assert.fail(`${model.inFlight()} model runs in flight with ${answered} answered; ${expected} expected`),
          );
          assert.equal(model.inFlight(), expected, `runs in flight with ${answered} answered`);
          model.waiting[0]?.answer();
        }
      } finally {
        // On failure, nothing is left running after the test.
        if (model.inFlight() > 0) shutdown.abort();
        await pass;
      }

      assert.equal(model.most(), 3, 'three at once, never more');
      assert.deepEqual([...model.started].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7], 'one model run per issue');
      for (let number = 1; number <= 7; number++) assert.equal(github.comments('acme', 'api', number).length, 1, `issue #${number}: one comment`);
      assert.ok((await jobsOf(database)).every((j) => j.state === 'done' && j.outcome === 'answered'));
    });

    it('a job aborted at shutdown goes back to the queue: pending, attempts unchanged, no comment; the next pass answers it', async () => {
      const github = await queued(1);
      const [before] = await jobsOf(database);
      const model = heldExecutor();
      const stopping = new AbortController();
      const abort = new AbortController();
      const log = capturingLog();
      const pass = dispatcherFor(database, github, { executor: model.executor, leaseMs: 30_000, log }).work(abort.signal, stopping.signal);
      await waitFor(() => model.waiting.length === 1);
      // Shutdown: no more claims, then the grace runs out while the model runs.
      stopping.abort();
      abort.abort();
      await pass;

      const [job] = await jobsOf(database);
      assert.deepEqual([job?.state, job?.attempts, job?.locked_by], ['pending', before?.attempts, null], 'released, no attempt spent');
      assert.ok(Date.parse(job?.run_after ?? '') <= Date.now(), 'visible again at once');
      assert.equal(posts(github), 0);
      assert.ok(log.lines.some((l) => /acme\/api#1: aborted by shutdown while running test executor; job returned to the queue/.test(l.message)), JSON.stringify(log.lines));

      const next = answeringExecutor();
      await dispatcherFor(database, github, { executor: next.executor, leaseMs: 30_000, log: capturingLog() }).work(new AbortController().signal);
      assert.deepEqual(next.started, [1]);
      assert.equal(github.comments('acme', 'api', 1).length, 1);
      const [after] = await jobsOf(database);
      assert.deepEqual([after?.state, after?.outcome, after?.attempts], ['done', 'answered', 1]);
    });
  });
}
