/**
 * The dispatcher's pass (src/domain/tasks/global/dispatcher.ts, with lease.ts
 * and in-flight.ts) in-process: the real dispatcher on a real SQLite file, the
 * real GitHub client against the simulator, and an executor the test holds or
 * answers. One rule per test, written for what a mutation run found untested
 * (docs/mutation-testing.md); the engines' own differences are covered by
 * dispatch-rules, post-checks and the lease tests.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { sql } from 'kysely';
import { COMMENT_MARKER } from '../src/domain/entities.js';
import { Doorbell } from '../src/domain/doorbell.js';
import { ClassifiedError } from '../src/domain/failure.js';
import type { DispatchObserver, Executor, ExecutorInput, QueueJob } from '../src/domain/ports.js';
import { DEFAULT_PROMPT } from '../src/domain/prompt.js';
import { dispatcher, type DispatcherDeps } from '../src/domain/tasks/global/dispatcher.js';
import { SqlIssueCatalog, SqlJobQueue, type Database } from '../src/infra/store/index.js';
import type { SimIssueInput, Simulator } from '../src/simulator/index.js';
import { simulator, TOKEN } from './support/daemon.js';
import { capturingLog, client, executor, queueOf, seedQueue, waitFor, type LogLine } from './support/dispatch.js';
import { freshDatabase } from './support/store.js';

const LABELLED = ['autosolve'];

/** An executor that answers at once (`answer` decides the text) and records what it was given. */
function answering(answer: (input: ExecutorInput) => string = (input) => `Answer for #${input.number}.`): { executor: Executor; inputs: ExecutorInput[] } {
  const inputs: ExecutorInput[] = [];
  return {
    inputs,
    executor: executor(async (input) => {
      inputs.push(input);
      return answer(input);
    }),
  };
}

/** An executor whose runs wait until the test answers them, or until their signal aborts them. */
function held(): { executor: Executor; started: number[]; waiting: Map<number, () => void> } {
  const started: number[] = [];
  const waiting = new Map<number, () => void>();
  const run = (input: ExecutorInput, signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      started.push(input.number);
      waiting.set(input.number, () => {
        waiting.delete(input.number);
        resolve(`Answer for #${input.number}.`);
      });
      signal.addEventListener('abort', () => void (waiting.delete(input.number) && reject(signal.reason)), { once: true });
    });
  return { executor: executor(run), started, waiting };
}

/** Every observer event, in order. */
function recordingObserver(): DispatchObserver & { events: Array<[string, object]> } {
  const events: Array<[string, object]> = [];
  return {
    events,
    executorFinished: (info) => void events.push(['executorFinished', info]),
    commentPosted: (info) => void events.push(['commentPosted', info]),
    jobSettled: (info) => void events.push(['jobSettled', info]),
  };
}

/** The real queue, counting the renewals asked of it. */
class CountingQueue extends SqlJobQueue {
  renewals = 0;
  override renew(job: QueueJob, leaseMs: number): Promise<boolean> {
    this.renewals++;
    return super.renew(job, leaseMs);
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the dispatcher pass, rule by rule', () => {
  let database: Database;
  let cleanup: () => Promise<void>;
  let sim: Simulator | undefined;
  let log: ReturnType<typeof capturingLog>;

  beforeEach(async () => {
    ({ database, cleanup } = await freshDatabase());
    log = capturingLog();
  });
  afterEach(async () => {
    mock.timers.reset();
    await sim?.close();
    sim = undefined;
    await cleanup();
  });

  /** acme/api with these issues (labelled unless they say otherwise), each queued unless `only` lists some. */
  async function queued(issues: SimIssueInput[], only?: readonly number[]): Promise<Simulator> {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: issues.map((i) => ({ labels: LABELLED, ...i })) }]);
    await seedQueue(database, sim, only);
    return sim;
  }

  const titled = (count: number): SimIssueInput[] => Array.from({ length: count }, (_, i) => ({ title: `Issue ${i + 1}` }));

  /** The dispatcher as the app wires it, with the test's changes. */
  function build(github: Simulator, changes: Partial<DispatcherDeps> & { executor: Executor }) {
    return dispatcher({
      queue: queueOf(database),
      catalog: new SqlIssueCatalog(database.db),
      github: client(github),
      interval: 1000,
      concurrency: 1,
      leaseMs: 30_000,
      requiredLabel: 'autosolve',
      promptTemplate: DEFAULT_PROMPT,
      maxBodyChars: 8000,
      dryRun: false,
      secrets: [TOKEN],
      log,
      ...changes,
    });
  }

  function jobsOf() {
    return database.db
      .selectFrom('jobs')
      .leftJoin('issues', 'issues.github_id', 'jobs.issue_github_id')
      .select(['jobs.id', 'issues.number', 'jobs.state', 'jobs.outcome', 'jobs.attempts', 'jobs.locked_by', 'jobs.locked_until', 'jobs.comment_url', 'jobs.scrubbed', 'jobs.last_error'])
      .orderBy('jobs.id')
      .execute();
  }

  const lines = (level: string, match: RegExp): LogLine[] => log.lines.filter((l) => l.level === level && match.test(l.message));
  const posts = (github: Simulator) => github.requests.filter((r) => r.method === 'POST').length;
  const stoppingLines = () => log.lines.filter((l) => l.message.startsWith('dispatcher: stopping'));

  it('is the draining dispatcher to the scheduler, woken by its doorbell when it has one', async () => {
    const github = await queued([]);
    const bell = new Doorbell();
    const rung = build(github, { executor: answering().executor, interval: 2500, wake: bell });
    assert.deepEqual([rung.resource, rung.interval, rung.drains, rung.wake], ['dispatcher', 2500, true, bell]);
    assert.equal(build(github, { executor: answering().executor }).wake, undefined);
  });

  it('gives the model the issue and the prompt rendered from it, the body cut to ai.maxBodyChars', async () => {
    const github = await queued([
      { title: 'Crash on start', body: 'It crashes when started.', labels: ['autosolve', 'bug'] },
      { title: 'Nothing said', body: null },
    ]);
    const model = answering();
    await build(github, { executor: model.executor, promptTemplate: '{{repository}} #{{number}} [{{labels}}] {{url}}\n{{title}}\n{{body}}', maxBodyChars: 10 }).work(new AbortController().signal);

    const [first, second] = [...model.inputs].sort((a, b) => a.number - b.number);
    assert.ok(first && second);
    const { prompt, ...issue } = first;
    assert.deepEqual(issue, { repository: 'acme/api', number: 1, title: 'Crash on start', body: 'It crashes when started.', labels: ['autosolve', 'bug'], url: 'https://github.com/acme/api/issues/1' });
    assert.ok(prompt.startsWith('acme/api #1 [autosolve, bug] https://github.com/acme/api/issues/1\n'), prompt);
    assert.match(prompt, /Crash on start/);
    assert.match(prompt, /It crashes/);
    assert.doesNotMatch(prompt, /when started/, 'the body is cut');
    assert.match(prompt, /\[truncated: \d+ more characters\]/);
    assert.equal(second.body, '', 'an issue without a body gives the model an empty one');
  });

  it('posts the formatted comment with secrets scrubbed, records its URL, and tells the observer and the log', async () => {
    const github = await queued(titled(2));
    const observer = recordingObserver();
    const model = answering((input) => (input.number === 1 ? `Log in with ${TOKEN} and retry.` : 'Restart it.'));
    const before = Date.now();
    await build(github, { executor: model.executor, observer }).work(new AbortController().signal);
    const elapsed = Date.now() - before;

    const urls = [1, 2].map((number) => {
      const comments = github.comments('acme', 'api', number);
      assert.equal(comments.length, 1);
      const [comment] = comments;
      assert.ok(comment?.body.startsWith(COMMENT_MARKER), 'the marker leads the comment');
      assert.ok(!comment.body.includes(TOKEN), 'no secret posted');
      return comment.id;
    });
    assert.match(github.comments('acme', 'api', 1)[0]?.body ?? '', /Log in with .+ and retry\./);
    const jobs = await jobsOf();
    assert.deepEqual(
      jobs.map((j) => [j.number, j.state, j.outcome, j.scrubbed]),
      [
        [1, 'done', 'answered', 1],
        [2, 'done', 'answered', 0],
      ],
    );
    jobs.forEach((job, i) => assert.ok(job.comment_url?.endsWith(`/acme/api/issues/${i + 1}#issuecomment-${urls[i]}`), `job ${i + 1}: ${job.comment_url}`));

    const posted = observer.events.filter(([kind]) => kind === 'commentPosted').map(([, info]) => info);
    assert.deepEqual(posted, jobs.map((j) => ({ repository: 'acme/api', number: j.number, url: j.comment_url })));
    assert.deepEqual(
      observer.events.filter(([kind]) => kind === 'jobSettled').map(([, info]) => info),
      [1, 2].map((number) => ({ repository: 'acme/api', number, outcome: 'answered', type: 'answer' })),
    );
    const finished = observer.events.filter(([kind]) => kind === 'executorFinished').map(([, info]) => info as { repository: string; durationMs: number; ok: boolean });
    assert.deepEqual(finished.map((f) => [f.repository, f.ok]), [['acme/api', true], ['acme/api', true]]);
    for (const f of finished) assert.ok(f.durationMs >= 0 && f.durationMs <= elapsed, `a model run's duration (${f.durationMs} ms) within the pass (${elapsed} ms)`);

    const scrubs = lines('warn', /secret-looking/);
    assert.deepEqual(scrubs, [{ level: 'warn', message: 'acme/api#1: removed 1 secret-looking strings from the comment before posting', fields: { repository: 'acme/api', number: 1, scrubbed: 1 } }]);
    const answered = lines('info', /^answered /);
    assert.deepEqual(answered.map((l) => [l.message, l.fields]), jobs.map((j) => [`answered acme/api#${j.number}: ${j.comment_url}`, { repository: 'acme/api', number: j.number, url: j.comment_url }]));
    assert.deepEqual(lines('info', /nothing posted/), [], 'an answered job is not reported as nothing posted');
  });

  it('answers nothing on an issue that carries the marker among other comments before the run', async () => {
    const github = await queued([
      { title: 'Asked before', comments: [{ body: 'Same here', user: 'alice' }, { body: `${COMMENT_MARKER}\nanswered earlier`, user: 'autosolve-bot' }, { body: 'Still broken', user: 'bob' }] },
    ]);
    const model = answering();
    const observer = recordingObserver();
    await build(github, { executor: model.executor, observer }).work(new AbortController().signal);

    assert.deepEqual(model.inputs, [], 'no model run');
    assert.equal(posts(github), 0);
    const [job] = await jobsOf();
    assert.deepEqual([job?.state, job?.outcome], ['done', 'already-answered']);
    assert.deepEqual(observer.events, [['jobSettled', { repository: 'acme/api', number: 1, outcome: 'already-answered', type: 'answer' }]]);
    assert.deepEqual(lines('info', /nothing posted/), [{ level: 'info', message: 'acme/api#1: already-answered, nothing posted', fields: { repository: 'acme/api', issue: 1, outcome: 'already-answered' } }]);
  });

  it('in a dry run logs the scrubbed comment instead of posting it, and records the job as a dry run', async () => {
    const github = await queued(titled(1));
    await build(github, { executor: answering(() => `Use ${TOKEN}.`).executor, dryRun: true }).work(new AbortController().signal);

    assert.equal(posts(github), 0);
    const [job] = await jobsOf();
    assert.deepEqual([job?.state, job?.outcome, job?.scrubbed, job?.comment_url], ['done', 'dry-run', 1, null]);
    const [shown] = lines('info', /^dry run: would post this comment on acme\/api#1$/);
    const fields = shown?.fields as { repository: string; number: number; comment: string } | undefined;
    assert.deepEqual([fields?.repository, fields?.number], ['acme/api', 1]);
    assert.ok(fields?.comment.startsWith(COMMENT_MARKER) && !fields.comment.includes(TOKEN), fields?.comment);
    assert.equal(lines('info', /^acme\/api#1: dry-run, nothing posted$/).length, 1);
  });

  it('says which label an issue lost during the model run', async () => {
    const github = await queued(titled(1));
    const model = executor(async (input) => {
      github.updateIssue('acme', 'api', input.number, { labels: ['bug'] });
      return 'too late';
    });
    await build(github, { executor: model }).work(new AbortController().signal);
    assert.deepEqual(lines('info', /during the model run/), [
      { level: 'info', message: 'acme/api#1: no longer labelled autosolve during the model run', fields: { repository: 'acme/api', number: 1, reason: 'no longer labelled autosolve' } },
    ]);
    assert.equal(posts(github), 0);
  });

  it('settles a job whose issue is no longer stored as not eligible, and goes on', async () => {
    const github = await queued(titled(2));
    await database.db.deleteFrom('issues').where('number', '=', 1).execute();
    const observer = recordingObserver();
    const model = answering();
    await build(github, { executor: model.executor, observer }).work(new AbortController().signal);

    assert.deepEqual(model.inputs.map((i) => i.number), [2]);
    const jobs = await jobsOf();
    assert.deepEqual(jobs.map((j) => [j.number, j.state, j.outcome]), [[null, 'done', 'not-eligible'], [2, 'done', 'answered']]);
    assert.deepEqual(observer.events.filter(([kind]) => kind === 'jobSettled')[0], ['jobSettled', { repository: '?', number: 0, outcome: 'not-eligible', type: 'answer' }]);
    assert.deepEqual(lines('info', /nothing posted/), [{ level: 'info', message: '?#0: not-eligible, nothing posted', fields: { repository: '?', issue: 0, outcome: 'not-eligible' } }]);
  });

  describe("a job's own failure spends an attempt and the pass goes on", () => {
    it('the model failing: the attempt spent with the reason, the observer told, the next issue answered', async () => {
      const github = await queued(titled(2));
      const observer = recordingObserver();
      const model = executor(async (input) => {
        if (input.number === 1) throw new Error('exit 1: the tool crashed');
        return 'fine';
      });
      await build(github, { executor: model, observer }).work(new AbortController().signal);

      const jobs = await jobsOf();
      assert.deepEqual(
        jobs.map((j) => [j.number, j.state, j.outcome, j.attempts, j.last_error]),
        [
          [1, 'pending', null, 1, 'cannot answer acme/api#1: test executor failed: exit 1: the tool crashed'],
          [2, 'done', 'answered', 1, null],
        ],
      );
      const finished = observer.events.filter(([kind]) => kind === 'executorFinished').map(([, info]) => (info as { ok: boolean }).ok);
      assert.deepEqual(finished, [false, true]);
    });

    const steps = [
      ['reading the comments', { method: 'GET', path: '/repos/acme/api/issues/1/comments' }],
      ['reading the issue again before posting', { method: 'GET', path: '/repos/acme/api/issues/1' }],
      ['posting the comment', { method: 'POST', path: '/repos/acme/api/issues/1/comments' }],
    ] as const;
    for (const [step, match] of steps) {
      it(`GitHub refusing ${step}: the attempt spent, the step named`, async () => {
        const github = await queued(titled(1));
        github.injectFault({ kind: 'status', status: 422, body: { message: 'Validation Failed' }, match });
        await build(github, { executor: answering().executor }).work(new AbortController().signal);
        const [job] = await jobsOf();
        assert.deepEqual([job?.state, job?.attempts], ['pending', 1]);
        assert.ok(job?.last_error?.startsWith(`cannot answer acme/api#1: ${step} failed: `), job?.last_error ?? 'no error');
        assert.equal(github.comments('acme', 'api', 1).length, 0);
      });
    }

    it('a cause chain that loops back on itself is still just the job failing', async () => {
      const github = await queued(titled(1));
      const looping = new Error('the tool crashed');
      Object.assign(looping, { cause: looping });
      await build(github, { executor: executor(() => Promise.reject(looping)) }).work(new AbortController().signal);
      const [job] = await jobsOf();
      assert.deepEqual([job?.state, job?.attempts, job?.last_error], ['pending', 1, 'cannot answer acme/api#1: test executor failed: the tool crashed']);
    });
  });

  it('the backend unavailable: the pass claims nothing more, leaves the rest untouched, and fails with the cause', async () => {
    const github = await queued(titled(3));
    const runs: number[] = [];
    const model = executor(async (input) => {
      runs.push(input.number);
      throw new ClassifiedError('service', 'model server: 503');
    });
    await assert.rejects(build(github, { executor: model }).work(new AbortController().signal), (error: Error) => {
      assert.equal(error.message, `cannot answer acme/api#${runs[0]}: test executor failed`);
      return true;
    });
    assert.equal(runs.length, 1, 'one model run');
    const untouched = (await jobsOf()).filter((j) => j.number !== runs[0]);
    assert.deepEqual(untouched.map((j) => [j.state, j.attempts, j.locked_by]), [['pending', 0, null], ['pending', 0, null]]);
  });

  describe('shutdown', () => {
    it('stopping with nothing in flight says so', async () => {
      const github = await queued(titled(1), []);
      const stopping = new AbortController();
      const pass = build(github, { executor: answering().executor }).work(new AbortController().signal, stopping.signal);
      stopping.abort();
      await pass;
      assert.deepEqual(stoppingLines(), [{ level: 'info', message: 'dispatcher: stopping; no queue job in flight', fields: { inFlight: [] } }]);
    });

    it('stopping lets the job in flight finish, says what it waits for, and claims no other', async () => {
      const github = await queued(titled(2));
      const model = held();
      const stopping = new AbortController();
      const pass = build(github, { executor: model.executor }).work(new AbortController().signal, stopping.signal);
      await waitFor(() => model.waiting.size === 1);
      stopping.abort();
      assert.deepEqual(stoppingLines(), [
        { level: 'info', message: 'dispatcher: stopping; waiting for 1 queue job in flight to finish: acme/api#1 (running test executor)', fields: { inFlight: ['acme/api#1 (running test executor)'] } },
      ]);
      model.waiting.get(1)?.();
      await pass;
      assert.deepEqual(model.started, [1]);
      const jobs = await jobsOf();
      assert.deepEqual(jobs.map((j) => [j.number, j.state, j.outcome, j.attempts, j.locked_by]), [[1, 'done', 'answered', 1, null], [2, 'pending', null, 0, null]]);
    });

    it('stopping names every job still in flight, not the ones that finished', async () => {
      const github = await queued(titled(3));
      const model = held();
      const stopping = new AbortController();
      const pass = build(github, { executor: model.executor, concurrency: 2 }).work(new AbortController().signal, stopping.signal);
      await waitFor(() => model.waiting.size === 2);
      const [first] = model.started;
      model.waiting.get(first ?? 0)?.();
      await waitFor(() => model.started.length === 3 && model.waiting.size === 2);
      stopping.abort();
      const running = model.started.slice(1).map((number) => `acme/api#${number} (running test executor)`);
      assert.deepEqual(stoppingLines(), [{ level: 'info', message: `dispatcher: stopping; waiting for 2 queue jobs in flight to finish: ${running.join(', ')}`, fields: { inFlight: running } }]);
      for (const answer of [...model.waiting.values()]) answer();
      await pass;
    });

    it('names the step a job is at: starting, checking the comments, confirming the issue', async () => {
      // Starting: the job's context (`around`) has not let the answer begin yet.
      const github = await queued(titled(3));
      let enter = () => {};
      const gate = new Promise<void>((resolve) => (enter = resolve));
      const contexts: object[] = [];
      const stopping = new AbortController();
      const pass = build(github, {
        executor: answering().executor,
        around: async (info, work) => {
          contexts.push(info);
          await gate;
          return work();
        },
      }).work(new AbortController().signal, stopping.signal);
      await waitFor(() => contexts.length === 1);
      stopping.abort();
      enter();
      await pass;
      assert.deepEqual(contexts, [{ repository: 'acme/api', issue: 1 }], 'each job runs inside its context');
      assert.equal(github.comments('acme', 'api', 1).length, 1);

      // Then the two GitHub reads, each held by the simulator while shutdown comes.
      // (Job 2, released, is visible again after job 3, which the third pass takes.)
      for (const [number, step, path, ran] of [
        [2, 'checking the comments', '/repos/acme/api/issues/2/comments', 0],
        [3, 'confirming the issue is still eligible', '/repos/acme/api/issues/3', 1],
      ] as const) {
        github.injectFault({ kind: 'delay', ms: 60_000, match: { method: 'GET', path } });
        const stop = new AbortController();
        const abort = new AbortController();
        const model = answering();
        const run = build(github, { executor: model.executor }).work(abort.signal, stop.signal);
        // The held read is the one request in flight, after the model run when it follows one.
        await waitFor(() => model.inputs.length === ran && github.inFlight() === 1);
        stop.abort();
        abort.abort();
        await run;
        assert.equal(lines('warn', new RegExp(`^acme/api#${number}: aborted by shutdown while ${step}; job returned to the queue without spending an attempt$`)).length, 1, JSON.stringify(log.lines));
      }
      assert.deepEqual(
        stoppingLines().map((l) => l.fields),
        [{ inFlight: ['acme/api#1 (starting)'] }, { inFlight: ['acme/api#2 (checking the comments)'] }, { inFlight: ['acme/api#3 (confirming the issue is still eligible)'] }],
      );
      const jobs = await jobsOf();
      assert.deepEqual(jobs.map((j) => [j.number, j.state, j.attempts]), [[1, 'done', 1], [2, 'pending', 0], [3, 'pending', 0]]);
    });

    it('a shutdown that comes while a claim is on its way: the job goes back untouched, nothing else is claimed', async () => {
      const github = await queued(titled(2));
      const model = answering();
      const abort = new AbortController();
      const pass = build(github, { executor: model.executor }).work(abort.signal, new AbortController().signal);
      abort.abort();
      await pass;
      assert.deepEqual(model.inputs, [], 'no model run');
      assert.equal(posts(github), 0);
      const jobs = await jobsOf();
      assert.deepEqual(jobs.map((j) => [j.number, j.state, j.attempts, j.locked_by]), [[1, 'pending', 0, null], [2, 'pending', 0, null]]);
      assert.equal(lines('warn', /aborted by shutdown/).length, 1);
    });

    it('a release the database holds up at shutdown does not hold the pass past its deadline', async () => {
      const github = await queued(titled(1));
      let running = false;
      const shutdown = new AbortController();
      const model = executor(
        (_input, signal) =>
          new Promise<string>((_resolve, reject) => {
            running = true;
            signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
          }),
      );
      const pass = build(github, { executor: model }).work(shutdown.signal, new AbortController().signal);
      let ended = false;
      void pass.then(() => (ended = true));
      await waitFor(() => running);
      // Another writer holds the database (SQLite's one connection): the release waits behind it.
      let commit = () => {};
      const holding = new Promise<void>((resolve) => (commit = resolve));
      let held = false;
      const writer = database.db.transaction().execute(async (trx) => {
        await sql`UPDATE jobs SET updated_at = updated_at`.execute(trx);
        held = true;
        await holding;
      });
      try {
        await waitFor(() => held);
        mock.timers.enable({ apis: ['setTimeout'] });
        shutdown.abort();
        // Time moves on in release-deadline steps until the pass gives up waiting.
        for (let step = 0; step < 20 && !ended; step++) {
          mock.timers.tick(5_000);
          await turn();
        }
        assert.ok(ended, 'the pass ended while the release still waited for the database');
      } finally {
        commit();
        await writer;
        mock.timers.reset();
      }
      await pass;
      // The release itself still goes through once the database answers.
      await waitFor(async () => (await jobsOf())[0]?.state === 'pending');
      assert.equal(lines('warn', /aborted by shutdown/).length, 1);
    });

    it('a pass that ended leaves no listener on the shutdown signals and no longer speaks at stop', async () => {
      const github = await queued(titled(2));
      const stopping = new AbortController();
      const abort = new AbortController();
      await build(github, { executor: answering().executor }).work(abort.signal, stopping.signal);
      assert.equal(getEventListeners(abort.signal, 'abort').length, 0, 'no listener per job left on the daemon-long signal');
      assert.equal(getEventListeners(stopping.signal, 'abort').length, 0);
      stopping.abort();
      assert.deepEqual(stoppingLines(), []);
    });
  });

  describe('the claim', () => {
    /** A queue on a clock the test moves, just ahead of the wall clock that stamped the seeded jobs. */
    function clockedQueue() {
      const clock = { now: Date.now() + 1000 };
      const queue = new CountingQueue(database.db, { now: () => new Date(clock.now), owner: { id: 'this-instance', host: hostname(), pid: process.pid } });
      return { clock, queue };
    }

    it('a renewal the database refuses is logged and retried at the next beat, and the claim holds', async () => {
      const github = await queued(titled(1));
      const { clock, queue } = clockedQueue();
      mock.timers.enable({ apis: ['setInterval'] });
      let renewedTo: string | null = null;
      const model = executor(async () => {
        // The jobs table is unreachable for one beat: a real failure of the renewal's statement.
        await sql`ALTER TABLE jobs RENAME TO jobs_away`.execute(database.db);
        clock.now += 1000;
        mock.timers.tick(1000);
        await waitFor(() => lines('warn', /could not renew/).length === 1);
        await sql`ALTER TABLE jobs_away RENAME TO jobs`.execute(database.db);
        clock.now += 1000;
        mock.timers.tick(1000);
        await waitFor(async () => (renewedTo = (await jobsOf())[0]?.locked_until ?? null) === new Date(clock.now + 3000).toISOString());
        return 'held on';
      });
      await build(github, { executor: model, queue, leaseMs: 3000 }).work(new AbortController().signal);

      const [warned] = lines('warn', /could not renew/);
      const [job] = await jobsOf();
      assert.equal(warned?.message, `queue job ${job?.id}: could not renew the claim on queue job ${job?.id}; retrying`);
      assert.deepEqual(Object.keys(warned?.fields ?? {}), ['job', 'error']);
      assert.equal((warned?.fields as { job: number }).job, job?.id);
      assert.match((warned?.fields as { error: string }).error, /jobs/);
      assert.ok(renewedTo, 'the next beat renewed the claim');
      assert.deepEqual([job?.state, job?.outcome], ['done', 'answered']);
    });

    /** A model run that waits for its abort, keeping the reason it was given. */
    function abortedRun(reasons: unknown[], before: () => Promise<void> | void = () => {}): Executor {
      return executor(async (_input, signal) => {
        const aborted = new Promise<string>((_resolve, reject) => signal.addEventListener('abort', () => void (reasons.push(signal.reason), reject(signal.reason as Error)), { once: true }));
        await before();
        return aborted;
      });
    }

    it("a model run stopped by a lost claim is given the claim's loss as the reason", async () => {
      const github = await queued(titled(1));
      const { clock, queue } = clockedQueue();
      mock.timers.enable({ apis: ['setInterval'] });
      const reasons: unknown[] = [];
      // Another worker takes the job over; the next beat finds it gone.
      const model = abortedRun(reasons, async () => {
        await database.db.updateTable('jobs').set({ locked_by: 'another-worker' }).execute();
        clock.now += 1000;
        mock.timers.tick(1000);
      });
      await build(github, { executor: model, queue, leaseMs: 3000 }).work(new AbortController().signal);
      const [job] = await jobsOf();
      const [reason] = reasons;
      assert.ok(reason instanceof Error);
      assert.deepEqual([reason.name, reason.message], ['ClaimLostError', `the claim on queue job ${job?.id} (queue job ${job?.id}) was lost: another worker may hold it now, so nothing is done in its name`]);
    });

    it("a model run stopped by shutdown is given the shutdown's reason", async () => {
      const github = await queued(titled(1));
      const reasons: unknown[] = [];
      let running = false;
      const shutdown = new AbortController();
      const pass = build(github, { executor: abortedRun(reasons, () => void (running = true)) }).work(shutdown.signal, new AbortController().signal);
      await waitFor(() => running);
      const grace = new Error('the shutdown grace ran out');
      shutdown.abort(grace);
      await pass;
      assert.deepEqual(reasons, [grace]);
    });

    it('the heartbeat stops once the job is settled', async () => {
      const github = await queued(titled(1));
      const { queue } = clockedQueue();
      mock.timers.enable({ apis: ['setInterval'] });
      await build(github, { executor: answering().executor, queue, leaseMs: 3000 }).work(new AbortController().signal);
      const renewals = queue.renewals;
      mock.timers.tick(10_000);
      await turn();
      await turn();
      assert.equal(queue.renewals, renewals, 'no renewal after the job was settled');
    });

    it('a claim lost before posting is logged with the reason and the job named', async () => {
      const github = await queued(titled(1));
      const model = executor(async () => {
        await database.db.updateTable('jobs').set({ locked_by: 'another-worker', owner_instance: 'another' }).execute();
        return 'answer';
      });
      await build(github, { executor: model }).work(new AbortController().signal);
      const [job] = await jobsOf();
      const [lost] = lines('error', /claim lost/);
      assert.equal(lost?.message, 'acme/api#1: claim lost while posting the comment; nothing posted, the job is left to its new holder');
      const fields = lost?.fields as { repository: string; issue: number; job: number; error: string };
      assert.deepEqual([fields.repository, fields.issue, fields.job], ['acme/api', 1, job?.id]);
      assert.match(fields.error, new RegExp(`the claim on queue job ${job?.id} \\(queue job ${job?.id}\\) was lost: another worker may hold it now`));
      assert.equal(posts(github), 0);
    });
  });
});
