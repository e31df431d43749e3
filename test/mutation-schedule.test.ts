/**
 * The schedule beyond its retry baseline (src/schedule/): the walk runner's
 * heap, the walk runner, the scheduler's loops and setup, the passes' retries
 * and log lines, the planner's rejections. Written for what a mutation run
 * found untested (docs/mutation-testing.md). Time is a manual clock for the
 * walk runner and Node's mock timers for the scheduler's own loops: no real
 * time passes.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { afterEach, describe, it, mock } from 'node:test';
import { ClassifiedError } from '../src/domain/failure.js';
import type { Log } from '../src/domain/ports.js';
import { DueQueue, type Queued } from '../src/schedule/due-queue.js';
import { setupPerRepository, workGlobal, workPerRepository, type RegistryEntry } from '../src/schedule/entries.js';
import { globalSetupJob, jobName, plan, PlanError, type WorkJob } from '../src/schedule/planner.js';
import { registry, type TaskDependencies } from '../src/schedule/registry.js';
import type { RetryBaseline } from '../src/schedule/retry.js';
import { Scheduler, SetupFailedError, type SchedulerObserver } from '../src/schedule/scheduler.js';
import type { WalkClock } from '../src/schedule/walk-runner.js';

interface Entry extends Queued {
  readonly id: number;
}

const entry = (id: number): Entry => ({ id, dueAt: 0, order: 0, position: -1 });

/** A small deterministic generator (mulberry32), so that a failure replays. */
function numbers(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % below;
  };
}

describe('due queue', () => {
  it('gives the earliest due first, and the one queued first among equals', () => {
    const queue = new DueQueue<Entry>();
    const [a, b, c, d] = [entry(1), entry(2), entry(3), entry(4)];
    queue.set(a, 20);
    queue.set(b, 10);
    queue.set(c, 10);
    queue.set(d, 5);
    assert.equal(queue.size, 4);
    const order: number[] = [];
    for (let top = queue.peek(); top !== undefined; top = queue.peek()) {
      order.push(top.id);
      queue.delete(top);
      assert.equal(top.position, -1, 'a deleted entry says it is not queued');
    }
    assert.deepEqual(order, [4, 2, 3, 1]);
    assert.equal(queue.size, 0);
  });

  it('moves an entry queued again, to the back of its new due time', () => {
    const queue = new DueQueue<Entry>();
    const [a, b] = [entry(1), entry(2)];
    queue.set(a, 10);
    queue.set(b, 10);
    queue.set(a, 10);
    assert.equal(queue.size, 2, 'set twice, queued once');
    assert.equal(queue.peek(), b, 'queued again: after the one that waited');
    queue.set(a, 5);
    assert.equal(queue.peek(), a);
    assert.equal(a.dueAt, 5);
    queue.delete(a);
    queue.delete(a);
    assert.equal(queue.size, 1, 'deleting twice deletes once');
    assert.equal(queue.peek(), b);
  });

  it('keeps its order through thousands of moves and deletes anywhere in the heap', () => {
    const random = numbers(15);
    const queue = new DueQueue<Entry>();
    const entries = Array.from({ length: 64 }, (_, i) => entry(i));
    /** The queue's promise, kept by hand: [dueAt, sequence] of each queued entry. */
    const model = new Map<Entry, [number, number]>();
    let sequence = 0;
    const first = () => [...model].sort(([, x], [, y]) => x[0] - y[0] || x[1] - y[1])[0]?.[0];
    for (let step = 0; step < 4_000; step++) {
      const subject = entries[random(entries.length)] as Entry;
      if (random(3) === 0) {
        queue.delete(subject);
        model.delete(subject);
      } else {
        const dueAt = random(40);
        queue.set(subject, dueAt);
        model.set(subject, [dueAt, sequence++]);
      }
      assert.equal(queue.size, model.size, `size after step ${step}`);
      assert.equal(queue.peek(), first(), `the earliest after step ${step}`);
      for (const e of entries) assert.equal(e.position >= 0, model.has(e), `whether ${e.id} is queued, after step ${step}`);
      assert.deepEqual(new Set(queue.entries()), new Set(model.keys()));
    }
    const drained: Entry[] = [];
    for (let top = queue.peek(); top !== undefined; top = queue.peek()) {
      drained.push(top);
      queue.delete(top);
    }
    assert.deepEqual(drained, [...model].sort(([, x], [, y]) => x[0] - y[0] || x[1] - y[1]).map(([e]) => e));
  });
});

describe('planner: what the other suites leave unsaid', () => {
  const noop = async () => {};
  const repos = [{ owner: 'acme', name: 'api' }];

  it('names its error, and names a global setup step by its resource alone', async () => {
    const error = (() => {
      try {
        plan([workGlobal({ resource: 'Bad', interval: 1, work: noop })], repos);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    assert.ok(error instanceof PlanError);
    assert.equal(error.name, 'PlanError');
    const seen: AbortSignal[] = [];
    const step = globalSetupJob({ resource: 'discovery', run: async (signal) => void seen.push(signal) }, 'github.organizations');
    assert.deepEqual([step.name, step.resource, step.subject, step.repository], ['setup:discovery', 'discovery', 'github.organizations', undefined]);
    const signal = new AbortController().signal;
    await step.run(signal);
    assert.deepEqual(seen, [signal]);
    assert.equal(jobName('work', 'dispatcher'), 'work:dispatcher');
    assert.equal(jobName('setup', 'repository-validator', { owner: 'acme', name: 'api' }), 'setup:repository-validator:acme/api');
  });

  it('says a duplicate of the same name is registered twice, not a matter of letter case', () => {
    const poller = workPerRepository({ resource: 'issue-poller', interval: 1000, work: noop });
    assert.throws(() => plan([poller, poller], repos), {
      name: 'PlanError',
      message: 'duplicate job work:issue-poller:acme/api: each spec may be registered once, and each repository configured once',
    });
    assert.throws(() => plan([poller], [...repos, { owner: 'ACME', name: 'api' }]), {
      message: 'duplicate job work:issue-poller:ACME/api: it differs from work:issue-poller:acme/api only in letter case, and GitHub names ignore case; configure each repository once',
    });
  });

  it('hands a global worker its signals and carries drains, detects and wake as given', async () => {
    const seen: Array<[AbortSignal, AbortSignal | undefined]> = [];
    const bell = { subscribe: () => () => {} };
    const [dispatcher, quiet] = plan(
      [
        workGlobal({ resource: 'dispatcher', interval: 5_000, drains: true, wake: bell, work: async (signal, stopping) => void seen.push([signal, stopping]) }),
        workGlobal({ resource: 'quiet', interval: 7_000, work: noop }),
      ],
      repos,
    ).bindWork(() => assert.fail('no repository-scope job'));
    assert.ok(dispatcher && quiet);
    assert.deepEqual(
      [dispatcher.name, dispatcher.resource, dispatcher.scope, dispatcher.interval, dispatcher.drains, dispatcher.wake, dispatcher.detects],
      ['work:dispatcher', 'dispatcher', 'global', 5_000, true, bell, undefined],
    );
    assert.deepEqual([quiet.drains, 'wake' in quiet, 'detects' in quiet], [false, false, false]);
    const [a, b] = [new AbortController().signal, new AbortController().signal];
    await dispatcher.run(a, b);
    assert.deepEqual(seen, [[a, b]]);
  });

  it('binds a configured repository to its partition, and runs a preflight against its repository', async () => {
    const ran: unknown[] = [];
    const thePlan = plan(
      [
        setupPerRepository({ resource: 'repository-validator', run: async (signal, repository) => void ran.push([signal.aborted, repository]) }),
        workPerRepository({ resource: 'issue-poller', interval: 9_000, work: async (_signal, partition) => void ran.push(partition) }),
      ],
      repos,
    );
    const [preflight] = thePlan.setup;
    assert.deepEqual([preflight?.name, preflight?.resource, preflight?.subject, preflight?.repository], ['setup:repository-validator:acme/api', 'repository-validator', 'acme/api', repos[0]]);
    await preflight?.run(new AbortController().signal);
    const [walk] = thePlan.bindWork((repository) => ({ ...repository, repositoryId: 11 }));
    assert.deepEqual([walk?.name, walk?.scope, walk?.interval, walk?.repository, walk?.repositoryId], ['work:issue-poller:acme/api', 'repository', 9_000, repos[0], 11]);
    await walk?.run(new AbortController().signal);
    assert.deepEqual(ran, [[false, repos[0]], { owner: 'acme', name: 'api', repositoryId: 11 }]);
    assert.deepEqual(thePlan.jobsFor({ owner: 'big', name: 'new', repositoryId: 12 })[0]?.repository, { owner: 'big', name: 'new' });
  });

  it('refuses an unknown scope, a global preflight and a resource name that is not lower-case words', () => {
    const entry = (phase: string, scope: string, resource: unknown) => ({ phase, scope, spec: { resource, interval: 1, run: noop, work: noop } }) as unknown as RegistryEntry;
    assert.throws(() => plan([entry('work', 'fleet', 'x')], repos), { name: 'PlanError', message: 'unknown scope "fleet" for x: expected "repository" or "global"' });
    assert.throws(() => plan([entry('setup', 'global', 'x')], repos), { name: 'PlanError', message: 'setup spec x must run per repository' });
    assert.throws(() => plan([entry('teardown', 'global', 'x')], repos), {
      message: 'unknown phase "teardown" for x: use setupPerRepository(), workPerRepository() or workGlobal()',
    });
    for (const resource of ['issue poller', 'Issue-poller', '-poller', '1poller', 'poller!', 'issue_poller', '', 7]) {
      assert.throws(() => plan([entry('work', 'global', resource)], repos), { name: 'PlanError', message: `invalid resource name ${JSON.stringify(resource)}: use lower-case words joined by "-", e.g. "issue-poller"` });
    }
    for (const resource of ['a', 'issue-poller', 'x9-y']) assert.doesNotThrow(() => plan([entry('work', 'global', resource)], repos));
    for (const interval of ['1000', undefined]) {
      const bad = { phase: 'work', scope: 'global', spec: { resource: 'x', interval, work: noop } } as unknown as RegistryEntry;
      assert.throws(() => plan([bad], repos), { message: `worker x has interval ${String(interval)}: a worker needs a positive interval in milliseconds, e.g. 60_000` });
    }
    assert.doesNotThrow(() => plan([{ phase: 'setup', scope: 'repository', spec: { resource: 'x', run: noop } } as unknown as RegistryEntry], repos), 'a preflight has no interval');
  });
});

describe('registry', () => {
  /** Dependencies enough to build every spec; a pass of any of them fails at its first use of one. */
  const deps = (fleet: Partial<TaskDependencies['fleet']>): TaskDependencies =>
    ({
      repositoryValidator: {},
      backlogReconciler: {},
      issuePoller: { interval: 1_000 },
      dispatcher: { interval: 2_000 },
      fleet: { sweeper: { interval: 3_000, batchSize: 40 }, ...fleet },
    }) as unknown as TaskDependencies;
  const organizations = ['Big', 'small'];
  const discovery = { interval: 4_000, organizations: ['Big'] };
  const streams = { deps: { interval: 5_000, store: {} }, organizations };
  const lines = (entries: RegistryEntry[]) => entries.map((e) => `${e.phase} ${e.scope} ${e.spec.resource}`);

  it('lists the preflights, the walk and the global workers, with discovery and streams only when configured', () => {
    assert.deepEqual(lines(registry(deps({}))), [
      'setup repository repository-validator',
      'setup repository backlog-reconciler',
      'work repository issue-poller',
      'work global sweeper',
      'work global dispatcher',
    ]);
    assert.deepEqual(lines(registry(deps({ discovery, streams } as never))), [
      'setup repository repository-validator',
      'setup repository backlog-reconciler',
      'work repository issue-poller',
      'work global discovery',
      'work global issue-stream-big',
      'work global issue-stream-small',
      'work global sweeper',
      'work global dispatcher',
    ]);
  });

  it('runs a detector of a unit another daemon holds as a pass that does nothing', async () => {
    const asked: string[] = [];
    const held = new Set(['stream:small']);
    const entries = registry(deps({ discovery, streams, holds: (unit: string) => (asked.push(unit), held.has(unit)) } as never));
    const work = (resource: string) => {
      const entry = entries.find((e) => e.spec.resource === resource);
      assert.ok(entry?.phase === 'work' && entry.scope === 'global');
      const stopped = new AbortController();
      stopped.abort(new Error('test: stopped'));
      return entry.spec.work(stopped.signal);
    };
    assert.equal(await work('discovery'), undefined, 'not held: nothing done');
    assert.equal(await work('issue-stream-big'), undefined);
    await assert.rejects(work('issue-stream-small'), 'held: the real pass runs (and fails on the dependencies given here)');
    assert.deepEqual(asked, ['discovery', 'stream:big', 'stream:small']);
    const always = registry(deps({ discovery, streams } as never)).find((e) => e.spec.resource === 'discovery');
    assert.ok(always?.phase === 'work' && always.scope === 'global');
    const stopped = new AbortController();
    stopped.abort(new Error('test: stopped'));
    await assert.rejects(always.spec.work(stopped.signal), /test: stopped/, 'without `holds`: every unit is held');
  });
});

/** Lets the callbacks queued now (promise reactions, immediates) run; setImmediate is not mocked. */
const flush = async (turns = 4): Promise<void> => {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/** Moves the mocked timers on, `stepMs` at a time, until `done` says so. */
async function until(done: () => boolean, stepMs = 1): Promise<void> {
  for (let steps = 0; !done(); steps++) {
    assert.ok(steps < 100_000, 'gave up moving the mocked timers');
    mock.timers.tick(stepMs);
    await flush();
  }
}

/** Where a promise stands, without awaiting it. */
function track<T>(promise: Promise<T>): { readonly settled: boolean; readonly value: T | undefined; readonly error: unknown } {
  const state = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

interface Line {
  level: string;
  message: string;
  fields: object;
}

function recordingLog(): Log & { lines: Line[] } {
  const lines: Line[] = [];
  const log = {
    lines,
    debug: (fields: object, message: string) => lines.push({ level: 'debug', message, fields }),
    info: (fields: object, message: string) => lines.push({ level: 'info', message, fields }),
    warn: (fields: object, message: string) => lines.push({ level: 'warn', message, fields }),
    error: (fields: object, message: string) => lines.push({ level: 'error', message, fields }),
    child: () => log,
  };
  return log;
}

const FAST: RetryBaseline = { node: { initialMs: 5, maxMs: 20 }, service: { initialMs: 5, maxMs: 20 }, unknown: { initialMs: 10, maxMs: 40 } };
const network = () => new ClassifiedError('node', 'connection reset');
const busy = () => new ClassifiedError('service', '502 Bad Gateway');
const REPOS = [
  { owner: 'acme', name: 'api' },
  { owner: 'acme', name: 'web' },
  { owner: 'acme', name: 'docs' },
];
/** A preflight per repository of REPOS, running `run` for `owner/name`. */
const preflights = (run: (repository: string, signal: AbortSignal) => Promise<void>) =>
  plan([setupPerRepository({ resource: 'repository-validator', run: (signal, r) => run(`${r.owner}/${r.name}`, signal) })], REPOS).setup;

describe('scheduler: setup', () => {
  afterEach(() => mock.timers.reset());

  it('gives a network failure three attempts in setup, a busy server as many as the budget allows, and says each attempt', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const log = recordingLog();
    const attempts = new Map<string, number>();
    const scheduler = new Scheduler({ log, retryBudgetMs: 60_000, baseline: FAST });
    const signal = new AbortController().signal;
    const setup = track(
      scheduler.setup(
        preflights(async (repository) => {
          const n = (attempts.get(repository) ?? 0) + 1;
          attempts.set(repository, n);
          if (repository === 'acme/api') throw network();
          if (repository === 'acme/web' && n <= 4) throw busy();
        }),
        signal,
      ),
    );
    await until(() => setup.settled);
    assert.deepEqual(Object.fromEntries(attempts), { 'acme/api': 3, 'acme/web': 5, 'acme/docs': 1 });
    assert.equal(getEventListeners(signal, 'abort').length, 0, 'setup stopped listening to the shutdown signal');
    const error = setup.error;
    assert.ok(error instanceof SetupFailedError);
    assert.deepEqual(error.failures, [{ job: 'setup:repository-validator:acme/api', repository: 'acme/api', reason: 'connection reset', kind: 'node' }]);
    assert.equal(error.message, 'setup failed for 1 of 3 repositories; no worker was started:\n  - acme/api: connection reset');
    assert.deepEqual([error.name, error.total, error.budgetMs], ['SetupFailedError', 3, undefined]);
    const api = log.lines.filter((l) => (l.fields as { repository?: string }).repository === 'acme/api');
    assert.deepEqual(
      api.map((l) => [l.level, l.message]),
      [
        ['warn', 'attempt 1 of 3 failed (network); retrying in 5ms: connection reset'],
        ['warn', 'attempt 2 of 3 failed (network); retrying in 10ms: connection reset'],
        ['error', 'attempt 3 of 3 failed (network); not retrying in setup: connection reset'],
      ],
    );
    assert.deepEqual(api[0]?.fields, { job: 'setup:repository-validator:acme/api', repository: 'acme/api', classification: 'node', error: 'connection reset', attempt: 1, retryInMs: 5 });
    assert.deepEqual(api[2]?.fields, { job: 'setup:repository-validator:acme/api', repository: 'acme/api', classification: 'node', error: 'connection reset', attempt: 3 });
    const web = log.lines.filter((l) => (l.fields as { repository?: string }).repository === 'acme/web');
    assert.deepEqual(web[0] && [web[0].level, web[0].message], ['warn', 'attempt 1 failed (server busy); retrying in 5ms: 502 Bad Gateway']);
  });

  it('takes as many network attempts in setup as configured', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    let attempts = 0;
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 60_000, baseline: FAST, setupNetworkAttempts: 5 });
    const setup = track(
      scheduler.setup(
        preflights(async (repository) => {
          if (repository === 'acme/api' && ++attempts) throw network();
        }),
        new AbortController().signal,
      ),
    );
    await until(() => setup.settled);
    assert.ok(setup.error instanceof SetupFailedError);
    assert.equal(attempts, 5);
  });

  it('counts a pass that rejects with nothing as failed', async () => {
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 1_000, baseline: FAST });
    const jobs = preflights((repository) => (repository === 'acme/web' ? Promise.reject(undefined) : Promise.resolve()));
    await assert.rejects(scheduler.setup(jobs, new AbortController().signal), {
      name: 'SetupFailedError',
      message: 'setup failed for 1 of 3 repositories; no worker was started:\n  - acme/web: pass failed without an error',
    });
  });

  it('names what was not done when the budget ran out, and how far each had come', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    let webPasses = 0;
    const reasons = new Set<string>();
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 1_000, baseline: FAST, setupNetworkAttempts: 1_000 });
    const hang = (signal: AbortSignal) =>
      new Promise<void>((_resolve, reject) =>
        signal.addEventListener('abort', () => {
          reasons.add((signal.reason as Error).message);
          reject(signal.reason as Error);
        }),
      );
    const setup = track(
      scheduler.setup(
        preflights(async (repository, signal) => {
          if (repository === 'acme/api') return hang(signal);
          if (repository === 'acme/web' && ++webPasses === 1) throw network();
          if (repository === 'acme/web') return hang(signal);
          throw network();
        }),
        new AbortController().signal,
      ),
    );
    await until(() => setup.settled);
    const error = setup.error;
    assert.ok(error instanceof SetupFailedError);
    assert.equal(error.budgetMs, 1_000);
    assert.deepEqual([...reasons], ['scheduler.setupBudget of 1s ran out'], 'what a preflight cut short is told');
    const notDone = 'not done when scheduler.setupBudget (1s) ran out';
    assert.deepEqual(
      error.failures.map((f) => [f.repository, f.reason, f.kind]),
      [
        ['acme/api', `${notDone}; its first attempt was still waiting (held by a rate limit, or no answer yet)`, 'unknown'],
        ['acme/web', `${notDone} (attempt 2); the last failure: connection reset`, 'node'],
        ['acme/docs', `${notDone} (attempt ${error.failures[2]?.reason.match(/attempt (\d+)/)?.[1]}); the last failure: connection reset`, 'node'],
      ],
    );
    assert.match(error.message, /^setup failed for 3 of 3 repositories \(scheduler\.setupBudget of 1s ran out\); no worker was started:\n/);
  });

  it('bounds setup by a budget longer than a timer can wait without running out at once', async () => {
    // Real timers: a timer asked to wait longer than it can fires after 1 ms instead.
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 2 ** 40, baseline: FAST });
    await scheduler.setup(
      preflights(() => new Promise<void>((resolve) => setTimeout(resolve, 20))),
      new AbortController().signal,
    );
  });

  it('runs nothing of a setup shut down before it began, and says why it stopped', async () => {
    const seen: boolean[] = [];
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 1_000, baseline: FAST });
    const jobs = preflights(async (_repository, signal) => {
      seen.push(signal.aborted);
      signal.throwIfAborted();
    });
    const stopped = new AbortController();
    stopped.abort(new Error('test: SIGTERM'));
    await assert.rejects(scheduler.setup(jobs, stopped.signal), { message: 'test: SIGTERM' });
    assert.deepEqual(seen, [true, true, true], 'every preflight saw the signal aborted');
    const quietly = new AbortController();
    quietly.abort('not an error');
    await assert.rejects(scheduler.setup(jobs, quietly.signal), { message: 'shut down during setup' });
  });

  it('stops setup when the signal aborts while it runs', async () => {
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 60_000, baseline: FAST });
    const stop = new AbortController();
    const setup = scheduler.setup(
      preflights((_repository, signal) => new Promise<void>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)))),
      stop.signal,
    );
    stop.abort(new Error('test: SIGINT'));
    await assert.rejects(setup, { message: 'test: SIGINT' });
  });

  it('names a failed step of the whole daemon as such, next to or without repositories', async () => {
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 1_000, baseline: FAST });
    const discovery = globalSetupJob({ resource: 'discovery', run: () => Promise.reject(new ClassifiedError('permanent', 'no access to big')) }, 'github.organizations');
    await assert.rejects(scheduler.setup([...preflights(async () => {}), discovery], new AbortController().signal), (error: unknown) => {
      assert.ok(error instanceof SetupFailedError);
      assert.equal(error.message, 'setup failed for github.organizations; no worker was started:\n  - github.organizations: no access to big');
      assert.deepEqual(error.failures, [{ job: 'setup:discovery', repository: 'github.organizations', global: true, reason: 'no access to big', kind: 'permanent' }]);
      assert.equal(error.total, 3, 'repositories, the global step not counted');
      return true;
    });
    const both = new SetupFailedError(
      [
        { job: 'setup:repository-validator:acme/api', repository: 'acme/api', reason: 'gone', kind: 'permanent' },
        { job: 'setup:backlog-reconciler:acme/api', repository: 'acme/api', reason: 'gone too', kind: 'permanent' },
        { job: 'setup:discovery', repository: 'github.organizations', global: true, reason: 'no access', kind: 'permanent' },
      ],
      2,
      undefined,
      'check github.baseUrl',
    );
    assert.equal(
      both.message,
      'setup failed for 1 of 2 repositories and github.organizations; no worker was started:\n  - acme/api: gone\n  - acme/api: gone too\n  - github.organizations: no access\ncheck github.baseUrl',
    );
    assert.equal(new SetupFailedError([], 2).message, 'setup failed for 0 of 2 repositories; no worker was started:\n');
  });
});

describe('scheduler: work', () => {
  afterEach(() => mock.timers.reset());

  it('counts the interval from the start of a pass, not its end', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    let now = 0;
    const starts: number[] = [];
    const durations: number[] = [];
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 1_000, baseline: FAST, now: () => now, observer: { passSucceeded: (_job, ms) => void durations.push(ms) } });
    const stop = new AbortController();
    const job: WorkJob = {
      name: 'work:dispatcher',
      resource: 'dispatcher',
      scope: 'global',
      interval: 1_000,
      run: async () => {
        starts.push(now);
        now += starts.length === 1 ? 300 : 1_500;
      },
    };
    const working = scheduler.work([job], stop.signal, { once: false });
    await flush();
    assert.deepEqual(starts, [0]);
    mock.timers.tick(699);
    await flush();
    assert.equal(starts.length, 1);
    mock.timers.tick(1);
    await flush();
    assert.equal(starts.length, 2, 'due 1000 ms after the first start');
    mock.timers.tick(0);
    await flush();
    assert.equal(starts.length, 3, 'a pass longer than the interval: the next at once');
    assert.deepEqual(durations, [300, 1_500, 1_500]);
    stop.abort();
    await working;
  });

  it('waits out the backoff of a failed pass whatever rings, and forgets its wake source when it stops', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const listeners = new Set<() => void>();
    let subscriptions = 0;
    const bell = {
      subscribe: (listener: () => void) => {
        subscriptions++;
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const ring = () => [...listeners].forEach((listener) => listener());
    let passes = 0;
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 1_000, baseline: FAST });
    const stop = new AbortController();
    const job: WorkJob = {
      name: 'work:dispatcher',
      resource: 'dispatcher',
      scope: 'global',
      interval: 60_000,
      wake: bell,
      run: async () => {
        if (++passes === 1) throw network();
      },
    };
    const working = scheduler.work([job], stop.signal, { once: false });
    await flush();
    assert.equal(passes, 1);
    ring();
    await flush();
    mock.timers.tick(4);
    await flush();
    assert.equal(passes, 1, 'the ring did not cut the 5 ms backoff short');
    mock.timers.tick(1);
    await flush();
    assert.equal(passes, 2);
    ring();
    await flush();
    assert.equal(passes, 3, 'after a success a ring starts the next pass at once');
    assert.equal(subscriptions, 1);
    stop.abort();
    await working;
    assert.equal(listeners.size, 0, 'unsubscribed when the loop ended');
  });

  it('says how it retries a network failure in work: not degraded, not as a pause', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const log = recordingLog();
    const decisions: unknown[] = [];
    const scheduler = new Scheduler({ log, retryBudgetMs: 1_000, baseline: FAST, observer: { passFailed: (_job, _error, decision) => void decisions.push(decision) } });
    const stop = new AbortController();
    let passes = 0;
    const job: WorkJob = {
      name: 'work:issue-poller:acme/api',
      resource: 'issue-poller',
      scope: 'global',
      interval: 60_000,
      repository: { owner: 'acme', name: 'api' },
      run: async () => {
        passes++;
        if (passes === 1) throw network();
        if (passes === 2) throw new ClassifiedError('permanent', 'gone');
      },
    };
    const working = scheduler.work([job], stop.signal, { once: false });
    await until(() => passes === 3);
    stop.abort();
    await working;
    assert.deepEqual(decisions, [
      { kind: 'node', delayMs: 5, hinted: false, degraded: false, willRetry: true },
      { kind: 'permanent', delayMs: 10, hinted: false, degraded: true, willRetry: true },
    ]);
    assert.deepEqual(
      log.lines.map((l) => [l.level, l.message, l.fields]),
      [
        ['warn', 'failed (network); retrying in 5ms: connection reset', { job: job.name, repository: 'acme/api', classification: 'node', error: 'connection reset', retryInMs: 5 }],
        ['error', 'failed (permanent); degraded, retrying in 10ms: gone', { job: job.name, repository: 'acme/api', classification: 'permanent', error: 'gone', retryInMs: 10 }],
      ],
    );
  });

  it('retries network failures in --once beyond the three of setup, within the budget, and says when it stops retrying', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const log = recordingLog();
    let passes = 0;
    const scheduler = new Scheduler({ log, retryBudgetMs: 5, baseline: FAST, now: () => 0 });
    const flaky: WorkJob = {
      name: 'work:flaky',
      resource: 'flaky',
      scope: 'global',
      interval: 1,
      run: async () => {
        if (++passes <= 1) throw network();
      },
    };
    const once = track(scheduler.work([flaky], new AbortController().signal, { once: true }));
    await until(() => once.settled);
    assert.deepEqual(once.value, { failed: [] }, 'a retry due exactly at the end of the budget is taken');
    const patient = new Scheduler({ log: recordingLog(), retryBudgetMs: 60_000, baseline: FAST });
    let patientPasses = 0;
    const fourFailures: WorkJob = {
      ...flaky,
      run: async () => {
        if (++patientPasses <= 4) throw network();
      },
    };
    const again = track(patient.work([fourFailures], new AbortController().signal, { once: true }));
    await until(() => again.settled);
    assert.deepEqual([again.value, patientPasses], [{ failed: [] }, 5]);
    passes = -1;
    log.lines.length = 0;
    const out = track(scheduler.work([flaky], new AbortController().signal, { once: true }));
    await until(() => out.settled);
    assert.deepEqual(out.value, { failed: ['work:flaky'] }, 'the second retry is past the budget');
    assert.deepEqual(
      log.lines.map((l) => [l.level, l.message, l.fields]),
      [
        ['warn', 'failed (network); retrying in 5ms: connection reset', { job: 'work:flaky', classification: 'node', error: 'connection reset', retryInMs: 5 }],
        ['error', 'failed (network); not retrying: connection reset', { job: 'work:flaky', classification: 'node', error: 'connection reset' }],
      ],
    );
  });

  it('resolves with nothing failed when stopped, and reports no failure of a pass the stop cut short', async () => {
    const log = recordingLog();
    const failures: string[] = [];
    const scheduler = new Scheduler({ log, retryBudgetMs: 1_000, baseline: FAST, observer: { passFailed: (job) => void failures.push(job.name) } });
    const stop = new AbortController();
    let started = false;
    const job: WorkJob = {
      name: 'work:dispatcher',
      resource: 'dispatcher',
      scope: 'global',
      interval: 60_000,
      run: (signal) =>
        new Promise<void>((_resolve, reject) => {
          started = true;
          signal.addEventListener('abort', () => reject(new ClassifiedError('node', 'aborted')), { once: true });
        }),
    };
    const working = scheduler.work([job], stop.signal, { once: false });
    await flush();
    assert.ok(started);
    stop.abort();
    assert.deepEqual(await working, { failed: [] });
    assert.deepEqual([failures, log.lines], [[], []]);
  });

  it('in --once names a global worker that failed for good, and walks repository jobs by their repository id', async () => {
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 0, baseline: FAST });
    const walked: string[] = [];
    const repositoryJob = (name: string, repositoryId?: number): WorkJob => ({
      name: `work:issue-poller:acme/${name}`,
      resource: 'issue-poller',
      scope: 'repository',
      interval: 60_000,
      ...(repositoryId === undefined ? {} : { repositoryId }),
      run: async () => void walked.push(name),
    });
    const jobs: WorkJob[] = [
      { name: 'work:stream', resource: 'stream', scope: 'global', interval: 1, detects: true, run: () => Promise.reject(new ClassifiedError('permanent', 'no org')) },
      { name: 'work:dispatcher', resource: 'dispatcher', scope: 'global', interval: 1, run: () => Promise.reject(new ClassifiedError('permanent', 'no queue')) },
      repositoryJob('api', 7),
      repositoryJob('web'),
      repositoryJob('docs'),
    ];
    const summary = await scheduler.work(jobs, new AbortController().signal, { once: true });
    assert.deepEqual(summary, { failed: ['work:stream', 'work:dispatcher'] });
    assert.deepEqual(walked.sort(), ['api', 'docs', 'web'], 'jobs without a repository id are members of their own');
    assert.equal(scheduler.walks.nudge(7), true, 'the member is keyed by its repository id');
    assert.equal(scheduler.walks.nudge('work:issue-poller:acme/web'), true, 'and one without by its name');
  });

  it('runs a pass inside `around`, with the job it runs', async () => {
    const around: string[] = [];
    const scheduler = new Scheduler({
      log: recordingLog(),
      retryBudgetMs: 1_000,
      baseline: FAST,
      around: async (job, pass) => {
        around.push(`${job.name} in`);
        const result = await pass();
        around.push(`${job.name} out`);
        return result;
      },
    });
    const summary = await scheduler.work([{ name: 'work:x', resource: 'x', scope: 'global', interval: 1, run: async () => void around.push('pass') }], new AbortController().signal, { once: true });
    assert.deepEqual(summary, { failed: [] });
    assert.deepEqual(around, ['work:x in', 'pass', 'work:x out']);
  });
});

/** A clock that moves only when told; its timers fire as it passes them, and it keeps every delay asked for. */
class ManualClock implements WalkClock {
  time = 1_000_000;
  readonly delays: number[] = [];
  readonly #timers = new Map<number, { at: number; callback: () => void }>();
  #ids = 0;

  now = (): number => this.time;

  setTimer(callback: () => void, ms: number): unknown {
    this.delays.push(ms);
    const id = ++this.#ids;
    this.#timers.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry;
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].callback();
      await flush();
    }
    this.time = target;
    await flush();
  }
}

function walking(options: { concurrency?: number; observer?: SchedulerObserver; log?: Log; retryBudgetMs?: number } = {}) {
  const clock = new ManualClock();
  const scheduler = new Scheduler({
    log: options.log ?? recordingLog(),
    retryBudgetMs: options.retryBudgetMs ?? 1_000,
    baseline: FAST,
    now: clock.now,
    walkClock: clock,
    ...(options.concurrency === undefined ? {} : { walkConcurrency: options.concurrency }),
    ...(options.observer ? { observer: options.observer } : {}),
  });
  return { clock, walks: scheduler.walks, scheduler };
}

/** A walk whose passes end when the test says (or when aborted); `starts` are the clock's times. */
function walk(clock: ManualClock, name: string, resource = 'issue-poller') {
  const starts: number[] = [];
  const ends: Array<(error?: Error) => void> = [];
  const job: WorkJob = {
    name: `work:${resource}:acme/${name}`,
    resource,
    scope: 'repository',
    interval: 60_000,
    run: (signal) =>
      new Promise<void>((resolve, reject) => {
        starts.push(clock.time);
        const aborted = () => end(signal.reason as Error);
        const end = (error?: Error) => {
          signal.removeEventListener('abort', aborted);
          if (error) reject(error);
          else resolve();
        };
        ends.push(end);
        signal.addEventListener('abort', aborted, { once: true });
      }),
  };
  return {
    job,
    starts,
    async end(error?: Error) {
      const end = ends.shift();
      assert.ok(end, `${name} has no pass in flight`);
      end(error);
      await flush();
    },
  };
}

describe('walk runner: edges', () => {
  afterEach(() => mock.timers.reset());

  it('refuses a concurrency that is not a positive integer, and an interval that is not a positive number', () => {
    for (const walkConcurrency of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new Scheduler({ log: recordingLog(), retryBudgetMs: 1, walkConcurrency }), {
        name: 'RangeError',
        message: `walk concurrency must be a positive integer, got ${walkConcurrency}`,
      });
    }
    const { clock, walks } = walking({ concurrency: 1 });
    const api = walk(clock, 'api');
    for (const interval of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => walks.upsert(1, api.job, interval), {
        name: 'RangeError',
        message: `walk work:issue-poller:acme/api has interval ${interval}: give a positive number of milliseconds, or null to walk it only when nudged`,
      });
    }
    walks.upsert(1, api.job, 1);
    walks.upsert(1, api.job, null);
    assert.equal(walks.snapshot().members, 1);
  });

  it('refuses to run twice at once, and runs nothing on a signal already aborted', async () => {
    const { clock, walks } = walking();
    const api = walk(clock, 'api');
    walks.upsert(1, api.job, 1_000);
    const stopped = new AbortController();
    stopped.abort();
    await walks.run(stopped.signal);
    await flush();
    assert.deepEqual(api.starts, []);
    const stop = new AbortController();
    const running = walks.run(stop.signal);
    await assert.rejects(walks.run(stop.signal), { message: 'the walk runner is already running' });
    await assert.rejects(walks.once(stop.signal), { message: 'the walk runner is already running' });
    assert.equal(api.starts.length, 1);
    stop.abort();
    await running;
  });

  it('walks at once after a restart what the stop cut short, and waits for it to end before resolving', async () => {
    const { clock, walks } = walking({ concurrency: 1 });
    const api = walk(clock, 'api');
    const web = walk(clock, 'web');
    walks.upsert(1, { ...api.job, drains: true }, 60_000);
    const stop = new AbortController();
    const running = track(walks.run(stop.signal, new AbortController().signal));
    await flush();
    walks.upsert(2, web.job, 60_000);
    stop.abort();
    await flush();
    assert.equal(running.settled, false, 'the walk in flight (it drains on `inFlight`) has not ended');
    await api.end();
    assert.equal(running.settled, true);
    assert.deepEqual(walks.snapshot(), { members: 2, running: [], dueNow: 2, backingOff: 0 });
    const again = new AbortController();
    const rerun = walks.run(again.signal);
    await flush();
    assert.deepEqual([api.starts.length, web.starts.length], [1, 1], 'the member queued first first');
    await web.end();
    assert.deepEqual([api.starts.length, web.starts.length], [2, 1], 'then the one the stop cut short, due since');
    again.abort();
    await rerun;
  });

  it('frees the slot of a member removed during its pass for the next due member', async () => {
    const { clock, walks } = walking({ concurrency: 1 });
    const api = walk(clock, 'api');
    const web = walk(clock, 'web');
    walks.upsert(1, api.job, 60_000);
    walks.upsert(2, web.job, 60_000);
    const stop = new AbortController();
    const running = walks.run(stop.signal);
    await flush();
    walks.remove(1);
    assert.equal(walks.nudge(1), false, 'a member removed during its pass is no longer one');
    assert.equal(walks.remove(1), true, 'until its pass ends');
    await api.end();
    assert.deepEqual([api.starts.length, web.starts.length], [1, 1]);
    assert.equal(walks.remove(1), false);
    stop.abort();
    await running;
  });

  it('keeps a member removed and added again during its pass', async () => {
    const { clock, walks } = walking();
    const api = walk(clock, 'api');
    walks.upsert(1, api.job, 1_000);
    const stop = new AbortController();
    const running = walks.run(stop.signal);
    await flush();
    walks.remove(1);
    walks.upsert(1, api.job, 1_000);
    await api.end();
    await clock.advance(1_000);
    assert.equal(api.starts.length, 2, 'walked again at its interval');
    assert.equal(walks.snapshot().members, 1);
    stop.abort();
    await running;
  });

  it('walks two resources of one member each on its own', async () => {
    const { clock, walks } = walking();
    const poller = walk(clock, 'api');
    const labels = walk(clock, 'api', 'label-sync');
    walks.upsert(1, poller.job, 1_000);
    walks.upsert(1, labels.job, 1_000);
    const stop = new AbortController();
    const running = walks.run(stop.signal);
    await flush();
    assert.deepEqual([poller.starts.length, labels.starts.length], [1, 1]);
    assert.deepEqual(walks.snapshot().running, ['work:issue-poller:acme/api', 'work:label-sync:acme/api']);
    assert.equal(walks.snapshot().members, 2);
    stop.abort();
    await running;
  });

  it('says when the earliest member not yet due is due, and counts what is due now', async () => {
    const { clock, walks } = walking({ concurrency: 1 });
    const [a, b, c] = [walk(clock, 'a'), walk(clock, 'b'), walk(clock, 'c')];
    walks.upsert('a', a.job, 5_000);
    walks.upsert('b', b.job, 3_000);
    walks.upsert('c', c.job, 4_000);
    const stop = new AbortController();
    const running = walks.run(stop.signal);
    await flush();
    const t0 = clock.time;
    assert.deepEqual(walks.snapshot(), { members: 3, running: ['work:issue-poller:acme/a'], dueNow: 2, backingOff: 0 });
    await a.end();
    await b.end();
    await c.end();
    assert.deepEqual(walks.snapshot(), { members: 3, running: [], dueNow: 0, backingOff: 0, nextDueAt: t0 + 3_000 });
    stop.abort();
    await running;
  });

  it('keeps the timer within what a timer can wait, and walks a member due in a month when it is due', async () => {
    const { clock, walks } = walking();
    const api = walk(clock, 'api');
    const month = 30 * 24 * 3_600_000;
    walks.upsert(1, api.job, month);
    const stop = new AbortController();
    const running = walks.run(stop.signal);
    await flush();
    const t0 = clock.time;
    await api.end();
    await clock.advance(month - 1);
    assert.equal(api.starts.length, 1);
    await clock.advance(1);
    assert.deepEqual(api.starts, [t0, t0 + month]);
    assert.ok(clock.delays.every((ms) => ms <= 2 ** 31 - 1), `every delay fits a timer: ${clock.delays.join(', ')}`);
    stop.abort();
    await running;
  });

  it('stops walking and rejects when reporting a pass fails (a bug), as the scheduler’s own loops do', async () => {
    const bug = new Error('observer bug');
    const throwing: SchedulerObserver = {
      passFailed: () => {
        throw bug;
      },
    };
    const { clock, walks } = walking({ observer: throwing });
    const api = walk(clock, 'api');
    const web = walk(clock, 'web');
    walks.upsert(1, api.job, 1_000);
    const stop = new AbortController();
    const running = track(walks.run(stop.signal));
    await flush();
    await api.end(network());
    assert.equal(running.settled, true);
    assert.equal(running.error, bug);
    assert.equal(getEventListeners(stop.signal, 'abort').length, 0, 'it stopped listening to the signal');
    walks.upsert(2, web.job, 1_000);
    await clock.advance(5_000);
    assert.deepEqual([api.starts.length, web.starts.length], [1, 0], 'nothing walked after the fault');
    assert.equal(clock.pending, 0);
  });

  it('walks on real (here mocked) timers when given no clock', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    let now = 0;
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 1_000, baseline: FAST, now: () => now });
    const starts: number[] = [];
    const job: WorkJob = { name: 'work:issue-poller:acme/api', resource: 'issue-poller', scope: 'repository', interval: 1_000, run: async () => void starts.push(now) };
    scheduler.walks.upsert(1, job, 1_000);
    const stop = new AbortController();
    const running = scheduler.walks.run(stop.signal);
    await flush();
    now = 999;
    mock.timers.tick(999);
    await flush();
    assert.deepEqual(starts, [0]);
    now = 1_000;
    mock.timers.tick(1);
    await flush();
    assert.deepEqual(starts, [0, 1_000]);
    scheduler.walks.upsert(2, { ...job, name: 'work:issue-poller:acme/web' }, 500);
    await flush();
    stop.abort();
    await running;
    now = 5_000;
    mock.timers.tick(4_000);
    await flush();
    assert.equal(starts.length, 3, 'the timer was cleared at the stop');
  });
});

describe('walk runner: --once', () => {
  it('walks the chosen members `concurrency` at a time, names failures in the order members were added, and keeps their places', async () => {
    const { clock, walks } = walking({ concurrency: 2, retryBudgetMs: 0 });
    const members = ['a', 'b', 'c', 'd'].map((name) => walk(clock, name));
    members.forEach((m, i) => walks.upsert(i, m.job, 1_000));
    const quietOne = walk(clock, 'quiet');
    walks.upsert(9, quietOne.job, null);
    const once = track(walks.once(new AbortController().signal));
    await flush();
    assert.deepEqual(members.map((m) => m.starts.length), [1, 1, 0, 0]);
    await members[1]!.end(new ClassifiedError('permanent', 'b is gone'));
    assert.deepEqual(members.map((m) => m.starts.length), [1, 1, 1, 0]);
    await members[0]!.end(new ClassifiedError('permanent', 'a is gone'));
    await members[2]!.end();
    await members[3]!.end();
    assert.deepEqual(once.value, ['work:issue-poller:acme/a', 'work:issue-poller:acme/b']);
    assert.deepEqual(quietOne.starts, [], 'neither an interval nor a nudge: not walked');
    const t0 = clock.time;
    assert.deepEqual(walks.snapshot(), { members: 5, running: [], dueNow: 0, backingOff: 0, nextDueAt: t0 + 1_000 });
  });

  it('walks nothing more once the signal aborts, and nothing of a member removed', async () => {
    const { clock, walks } = walking({ concurrency: 1 });
    const [a, b, c] = [walk(clock, 'a'), walk(clock, 'b'), walk(clock, 'c')];
    walks.upsert(1, a.job, 1_000);
    walks.upsert(2, b.job, 1_000);
    walks.upsert(3, c.job, 1_000);
    walks.remove(3);
    const stop = new AbortController();
    const once = track(walks.once(stop.signal));
    await flush();
    stop.abort();
    await flush();
    assert.equal(once.settled, true);
    assert.deepEqual([a.starts.length, b.starts.length, c.starts.length], [1, 0, 0]);
  });
});
