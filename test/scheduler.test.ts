import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Partition } from '../src/domain/entities.js';
import { ClassifiedError } from '../src/domain/failure.js';
import type { Log } from '../src/domain/ports.js';
import { setupPerRepository, workGlobal, workPerRepository, type RegistryEntry } from '../src/schedule/entries.js';
import { plan, PlanError, type WorkJob } from '../src/schedule/planner.js';
import type { RetryBaseline } from '../src/schedule/retry.js';
import { Scheduler, SetupFailedError } from '../src/schedule/scheduler.js';

const repos = [
  { owner: 'acme', name: 'api' },
  { owner: 'acme', name: 'web' },
];
const partitionOf = (repo: { owner: string; name: string }): Partition => ({ ...repo, repositoryId: repos.findIndex((r) => r.name === repo.name) + 1 });
const noop = async () => {};

function recordingLog(): Log & { lines: Array<{ level: string; message: string }> } {
  const lines: Array<{ level: string; message: string }> = [];
  const log = {
    lines,
    debug: (_: object, message: string) => lines.push({ level: 'debug', message }),
    info: (_: object, message: string) => lines.push({ level: 'info', message }),
    warn: (_: object, message: string) => lines.push({ level: 'warn', message }),
    error: (_: object, message: string) => lines.push({ level: 'error', message }),
    child: () => log,
  };
  return log;
}

/** Milliseconds instead of minutes, so degraded retries happen within a test. */
const FAST: RetryBaseline = { node: { initialMs: 5, maxMs: 20 }, service: { initialMs: 5, maxMs: 20 }, unknown: { initialMs: 10, maxMs: 40 } };

describe('planner', () => {
  it('multiplies per-repository specs by repositories and keeps global specs single', () => {
    const entries: RegistryEntry[] = [
      setupPerRepository({ resource: 'repository-validator', run: noop }),
      workPerRepository({ resource: 'issue-poller', interval: 1000, work: noop }),
      workPerRepository({ resource: 'label-sync', interval: 1000, work: noop }),
      workGlobal({ resource: 'dispatcher', interval: 1000, work: noop }),
    ];
    const thePlan = plan(entries, repos);
    assert.deepEqual(thePlan.setup.map((j) => j.name), ['setup:repository-validator:acme/api', 'setup:repository-validator:acme/web']);
    assert.deepEqual(thePlan.workNames, [
      'work:issue-poller:acme/api',
      'work:issue-poller:acme/web',
      'work:label-sync:acme/api',
      'work:label-sync:acme/web',
      'work:dispatcher',
    ]);
    assert.equal(thePlan.bindWork(partitionOf).length, 5);
  });

  it('hands each job its own partition as an argument', async () => {
    const seen: Partition[] = [];
    const thePlan = plan([workPerRepository({ resource: 'issue-poller', interval: 1000, work: async (_s, p) => void seen.push(p) })], repos);
    for (const job of thePlan.bindWork(partitionOf)) await job.run(new AbortController().signal);
    assert.deepEqual(seen, [
      { owner: 'acme', name: 'api', repositoryId: 1 },
      { owner: 'acme', name: 'web', repositoryId: 2 },
    ]);
  });

  it('refuses a duplicate registration before any I/O', () => {
    const poller = workPerRepository({ resource: 'issue-poller', interval: 1000, work: noop });
    assert.throws(() => plan([poller, poller], repos), (e: unknown) => e instanceof PlanError && /duplicate job work:issue-poller:acme\/api/.test(e.message));
    assert.throws(() => plan([workGlobal({ resource: 'dispatcher', interval: 1, work: noop }), workGlobal({ resource: 'dispatcher', interval: 1, work: noop })], repos), /duplicate job work:dispatcher/);
  });

  it('refuses a repository configured twice', () => {
    assert.throws(() => plan([workPerRepository({ resource: 'issue-poller', interval: 1000, work: noop })], [...repos, repos[0]!]), /duplicate job work:issue-poller:acme\/api/);
  });

  it('refuses repositories that differ only in letter case, as one repository configured twice', () => {
    const poller = workPerRepository({ resource: 'issue-poller', interval: 1000, work: noop });
    const validator = setupPerRepository({ resource: 'repository-validator', run: noop });
    const twice = [...repos, { owner: 'Acme', name: 'API' }];
    const differsInCase = (e: unknown) =>
      e instanceof PlanError && /duplicate job work:issue-poller:Acme\/API: it differs from work:issue-poller:acme\/api only in letter case/.test(e.message);
    assert.throws(() => plan([poller], twice), differsInCase);
    assert.throws(() => plan([validator], twice), /duplicate job setup:repository-validator:Acme\/API: it differs from setup:repository-validator:acme\/api only in letter case/);
  });

  it('refuses a worker without a positive interval', () => {
    for (const interval of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => plan([workPerRepository({ resource: 'issue-poller', interval, work: noop })], repos), /worker issue-poller has interval .*: a worker needs a positive interval/);
    }
  });

  it('refuses an unknown phase and a malformed resource name', () => {
    const bogus = { phase: 'teardown', scope: 'repository', spec: { resource: 'x', run: noop } } as unknown as RegistryEntry;
    assert.throws(() => plan([bogus], repos), /unknown phase "teardown"/);
    assert.throws(() => plan([workGlobal({ resource: 'Issue Poller', interval: 1, work: noop })], repos), /invalid resource name/);
  });
});

describe('scheduler', () => {
  const setupJobs = (run: (repo: string) => Promise<void>) =>
    plan([setupPerRepository({ resource: 'repository-validator', run: (_s, r) => run(`${r.owner}/${r.name}`) })], [...repos, { owner: 'acme', name: 'docs' }]).setup;

  it('retries node failures in setup, fails at once on unknown errors, and names every failing repository', async () => {
    const attempts = new Map<string, number>();
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 5_000, baseline: FAST });
    const jobs = setupJobs(async (repo) => {
      const n = (attempts.get(repo) ?? 0) + 1;
      attempts.set(repo, n);
      if (repo === 'acme/api' && n < 3) throw new ClassifiedError('node', 'connection reset');
      if (repo === 'acme/web') throw new TypeError('cannot read properties of undefined');
      if (repo === 'acme/docs') throw new ClassifiedError('permanent', 'the token cannot see acme/docs, or it does not exist');
    });
    await assert.rejects(scheduler.setup(jobs, new AbortController().signal), (error: unknown) => {
      assert.ok(error instanceof SetupFailedError);
      assert.match(error.message, /setup failed for 2 of 3 repositories/);
      assert.match(error.message, /acme\/web: cannot read properties of undefined/);
      assert.match(error.message, /acme\/docs: the token cannot see acme\/docs/);
      assert.doesNotMatch(error.message, /acme\/api/);
      return true;
    });
    assert.equal(attempts.get('acme/api'), 3, 'node failures retried until success');
    assert.equal(attempts.get('acme/web'), 1, 'unknown errors are fatal in setup');
    assert.equal(attempts.get('acme/docs'), 1, 'permanent errors are not retried');
  });

  it('gives up on retryable setup failures when the budget runs out', async () => {
    let attempts = 0;
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 50, baseline: FAST });
    const jobs = setupJobs(async (repo) => {
      if (repo !== 'acme/api') return;
      attempts++;
      throw new ClassifiedError('service', '502 Bad Gateway');
    });
    await assert.rejects(scheduler.setup(jobs, new AbortController().signal), /acme\/api: 502 Bad Gateway/);
    assert.ok(attempts > 1 && attempts < 50, `retried a few times within the budget (${attempts})`);
  });

  it('keeps every worker alive when one fails with an unknown error, retrying it degraded and loudly', async () => {
    const log = recordingLog();
    const scheduler = new Scheduler({ log, retryBudgetMs: 1_000, baseline: FAST });
    const controller = new AbortController();
    let healthyPasses = 0;
    let brokenPasses = 0;
    const jobs: WorkJob[] = [
      { name: 'work:broken', resource: 'broken', scope: 'global', interval: 1, run: async () => {
          brokenPasses++;
          throw new Error('bug');
        },
      },
      {
        name: 'work:healthy',
        resource: 'healthy',
        scope: 'global',
        interval: 1,
        run: async () => {
          if (++healthyPasses >= 5 && brokenPasses >= 3) controller.abort();
        },
      },
    ];
    await scheduler.work(jobs, controller.signal, { once: false });
    assert.ok(healthyPasses >= 5);
    assert.ok(brokenPasses >= 3, 'the broken worker kept being retried');
    assert.ok(log.lines.some((l) => l.level === 'error' && /^failed with an unrecognised error; degraded, retrying in \S+: bug$/.test(l.message)));
  });

  it('says a worker paused by a refused credential is paused, not degraded, and keeps trying it', async () => {
    const log = recordingLog();
    const degradedFlags: boolean[] = [];
    const scheduler = new Scheduler({ log, retryBudgetMs: 1_000, baseline: FAST, observer: { passFailed: (_job, _error, decision) => void degradedFlags.push(decision.degraded) } });
    const controller = new AbortController();
    let passes = 0;
    const refused = new ClassifiedError('permanent', 'GitHub refused the token (401)', { pausesWork: 'credential' });
    const job: WorkJob = { name: 'work:dispatcher', resource: 'dispatcher', scope: 'global', interval: 1, run: async () => {
        if (++passes >= 3) controller.abort();
        throw refused;
      },
    };
    await scheduler.work([job], controller.signal, { once: false });
    assert.ok(passes >= 3, 'retried while paused');
    assert.ok(degradedFlags.length >= 2 && degradedFlags.every((d) => !d), `never counted as degraded: ${JSON.stringify(degradedFlags)}`);
    assert.ok(log.lines.some((l) => l.level === 'warn' && /^paused \(credential\); trying again in \S+: GitHub refused the token \(401\)$/.test(l.message)), JSON.stringify(log.lines));
    assert.ok(!log.lines.some((l) => /degraded|unrecognised/.test(l.message)));
  });

  it('never overlaps two passes of the same job, and waits exactly as long as a wait hint says', async () => {
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 5_000, baseline: FAST });
    const controller = new AbortController();
    let running = 0;
    let maxRunning = 0;
    const starts: number[] = [];
    const job: WorkJob = {
      name: 'work:slow',
      resource: 'slow',
      scope: 'global',
      interval: 1,
      run: async () => {
        starts.push(Date.now());
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        if (starts.length === 1) throw new ClassifiedError('service', 'secondary rate limit', { waitMs: 300 });
        if (starts.length >= 4) controller.abort();
      },
    };
    await scheduler.work([job], controller.signal, { once: false });
    assert.equal(maxRunning, 1);
    assert.ok((starts[1] ?? 0) - (starts[0] ?? 0) >= 295, `waited ${(starts[1] ?? 0) - (starts[0] ?? 0)} ms for a 300 ms hint`);
  });

  it('in --once mode runs repository workers before global ones, and reports a job that failed for good', async () => {
    const order: string[] = [];
    const scheduler = new Scheduler({ log: recordingLog(), retryBudgetMs: 100, baseline: FAST });
    const jobs: WorkJob[] = [
      { name: 'work:dispatcher', resource: 'dispatcher', scope: 'global', interval: 1, run: async () => void order.push('dispatcher') },
      { name: 'work:issue-poller:acme/api', resource: 'issue-poller', scope: 'repository', interval: 1, run: async () => void order.push('poller') },
      { name: 'work:bad', resource: 'bad', scope: 'repository', interval: 1, run: () => Promise.reject(new Error('bug')) },
    ];
    const summary = await scheduler.work(jobs, new AbortController().signal, { once: true });
    assert.deepEqual(order, ['poller', 'dispatcher']);
    assert.deepEqual(summary.failed, ['work:bad']);
  });
});
