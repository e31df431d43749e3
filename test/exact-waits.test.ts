/**
 * "Wait exactly that long": when GitHub answers with `retry-after`, the daemon
 * waits what it says, not more. Two places wait on it: the throttle holds every
 * later request, and the scheduler retries the failed pass after the wait hint
 * the error carries. Each is checked on a virtual clock, to the millisecond:
 * the throttle and the walk runner share test/support/shared-clock.ts; the
 * scheduler's own loops wait on real timers, so node's mocked timers stand in.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it, mock } from 'node:test';
import { failureKindOf, waitHintOf } from '../src/domain/failure.js';
import type { Log } from '../src/domain/ports.js';
import { issuePoller } from '../src/domain/tasks/repository/issue-poller.js';
import { GitHubClient, type WaitReason } from '../src/infra/github/index.js';
import { SqlIssueSyncStore, SqlRepositoryStore } from '../src/infra/store/index.js';
import type { WorkJob } from '../src/schedule/planner.js';
import type { RetryDecision } from '../src/schedule/retry.js';
import { Scheduler } from '../src/schedule/scheduler.js';
import { startSimulator, type SimFault, type Simulator } from '../src/simulator/index.js';
import { flush, SharedClock } from './support/shared-clock.js';
import { freshDatabase } from './support/store.js';

const TOKEN = 'ghp_exactWaitsTestToken0000000000000000';
const REPO = { owner: 'acme', name: 'api' };
const ISSUES_PATH = '/repos/acme/api/issues';
const START = Date.UTC(2026, 2, 2, 9, 0, 0);
const RETRY_AFTER_S = 42;
const HINT_MS = RETRY_AFTER_S * 1000;

const quiet: Log = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const signal = (): AbortSignal => new AbortController().signal;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  mock.timers.reset();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function simulator(clock: SharedClock): Promise<Simulator> {
  const sim = await startSimulator({ tokens: [TOKEN], now: clock.now, scenario: { repositories: [{ ...REPO, issues: [{ title: 'first' }, { title: 'second' }] }] } });
  cleanups.push(() => sim.close());
  return sim;
}

function clientFor(sim: Simulator, clock: SharedClock, onWait?: (info: { reason: WaitReason; waitMs: number }) => void): GitHubClient {
  return new GitHubClient({
    baseUrl: sim.url,
    token: TOKEN,
    timeoutMs: 10_000,
    userAgent: 'autosolve/test',
    throttle: { minIntervalMs: 0, now: clock.now, sleep: clock.sleep },
    fetch: clock.fetch,
    ...(onWait ? { telemetry: { onWait } } : {}),
  });
}

/** The error the real client makes of GitHub's `429` with `retry-after: 42` (taken before any timer is mocked). */
async function retryAfterError(): Promise<unknown> {
  const clock = new SharedClock(START);
  const sim = await simulator(clock);
  sim.injectFault({ kind: 'status', status: 429, headers: { 'retry-after': String(RETRY_AFTER_S) }, body: { message: 'slow down' }, times: 1 });
  const failure = await clientFor(sim, clock).getRepository(REPO, signal()).then(() => undefined, (error: unknown) => error);
  assert.equal(failureKindOf(failure), 'service');
  assert.equal(waitHintOf(failure), HINT_MS);
  return failure;
}

/** Polls a condition on real time, for tests whose passes do real I/O. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

void describe('the throttle holds exactly as long as retry-after says', () => {
  const answers: Array<{ name: string; fault: SimFault }> = [
    { name: '429 with retry-after in seconds', fault: { kind: 'status', status: 429, headers: { 'retry-after': String(RETRY_AFTER_S) }, body: { message: 'slow down' }, times: 1 } },
    { name: 'secondary rate limit (403) with retry-after', fault: { kind: 'secondary-rate-limit', status: 403, retryAfterSeconds: RETRY_AFTER_S, times: 1 } },
  ];
  for (const answer of answers) {
    void it(`sends the next request ${RETRY_AFTER_S} s after a ${answer.name}, to the millisecond`, async () => {
      const clock = new SharedClock(START);
      const sim = await simulator(clock);
      sim.injectFault(answer.fault);
      const waits: Array<{ reason: WaitReason; waitMs: number }> = [];
      const client = clientFor(sim, clock, (info) => waits.push(info));

      const failure = await client.getRepository(REPO, signal()).then(() => undefined, (error: unknown) => error);
      assert.equal(waitHintOf(failure), HINT_MS, 'the error hints exactly the wait asked for');
      await Promise.all([client.getRepository(REPO, signal()), client.listIssues(REPO, { since: null, page: 1, etag: null }, signal())]);

      const [first, ...later] = sim.requests;
      assert.deepEqual(
        later.map((request) => [request.status, request.startedAt - (first?.startedAt ?? 0)]),
        [
          [200, HINT_MS],
          [200, HINT_MS],
        ],
      );
      assert.deepEqual(waits, [{ reason: 'retry-after', waitMs: HINT_MS }]);
      assert.equal(client.stats().waitedMs, HINT_MS);
    });
  }
});

void describe('the scheduler retries a failed pass exactly when the wait hint says', () => {
  void it('walks a repository again exactly retry-after later, and the throttle adds nothing to it', async () => {
    const clock = new SharedClock(START);
    const sim = await simulator(clock);
    const { database, cleanup } = await freshDatabase();
    cleanups.push(cleanup);
    const github = clientFor(sim, clock);
    const repositoryId = await new SqlRepositoryStore(database.db).record(REPO, await github.getRepository(REPO, signal()));
    sim.clearRequests();
    sim.injectFault({ kind: 'status', status: 429, headers: { 'retry-after': String(RETRY_AFTER_S) }, body: { message: 'slow down' }, match: { path: ISSUES_PATH }, times: 1 });

    const decisions: RetryDecision[] = [];
    let succeeded = 0;
    const scheduler = new Scheduler({
      log: quiet,
      retryBudgetMs: 600_000,
      now: clock.now,
      walkClock: clock,
      observer: { passFailed: (_job, _error, decision) => void decisions.push(decision), passSucceeded: () => void succeeded++ },
    });
    const poller = issuePoller({ github, store: new SqlIssueSyncStore(database.db, { maxAttempts: 3 }), interval: 3_600_000, requiredLabel: undefined, backlog: 'answer', log: quiet });
    const partition = { ...REPO, repositoryId };
    const job: WorkJob = { name: 'work:issue-poller:acme/api', resource: 'issue-poller', scope: 'repository', interval: poller.interval, run: (stop) => poller.work(stop, partition) };
    scheduler.walks.upsert(repositoryId, job, job.interval);
    const stop = new AbortController();
    const running = scheduler.walks.run(stop.signal);
    try {
      await until(() => decisions.length === 1, 'the first walk failed');
      const failedAt = clock.time;
      assert.deepEqual(decisions.map((d) => [d.kind, d.delayMs, d.hinted]), [['service', HINT_MS, true]]);
      assert.equal(scheduler.walks.snapshot().nextDueAt, failedAt + HINT_MS, 'the retry is due exactly retry-after later');

      clock.advanceTo(failedAt + HINT_MS - 1);
      assert.deepEqual(scheduler.walks.snapshot().running, [], 'not a millisecond early');
      clock.advanceTo(failedAt + HINT_MS);
      assert.deepEqual(scheduler.walks.snapshot().running, [job.name]);
      await until(() => succeeded === 1, 'the retried walk succeeded');

      const lists = sim.requests.filter((request) => request.path === ISSUES_PATH);
      assert.deepEqual(
        lists.map((request) => [request.status, request.startedAt - failedAt]),
        [
          [429, 0],
          [200, HINT_MS],
        ],
        'GitHub saw the retry exactly retry-after after the 429',
      );
      const stored = await database.db.selectFrom('issues').select('number').orderBy('number').execute();
      assert.deepEqual(stored.map((row) => row.number), [1, 2]);
    } finally {
      stop.abort();
      await running;
    }
  });

  void it('runs a global worker (the dispatcher, a detector) again exactly retry-after later', async () => {
    const failure = await retryAfterError();
    mock.timers.enable({ apis: ['setTimeout'] });
    const decisions: RetryDecision[] = [];
    let passes = 0;
    const job: WorkJob = {
      name: 'work:dispatcher',
      resource: 'dispatcher',
      scope: 'global',
      interval: 3_600_000,
      run: () => {
        passes++;
        return passes === 1 ? Promise.reject(failure as Error) : Promise.resolve();
      },
    };
    const scheduler = new Scheduler({ log: quiet, retryBudgetMs: 600_000, observer: { passFailed: (_job, _error, decision) => void decisions.push(decision) } });
    const stop = new AbortController();
    const working = scheduler.work([job], stop.signal, { once: false });
    try {
      await flush();
      assert.equal(passes, 1);
      assert.deepEqual(decisions.map((d) => [d.kind, d.delayMs, d.hinted]), [['service', HINT_MS, true]]);
      mock.timers.tick(HINT_MS - 1);
      await flush();
      assert.equal(passes, 1, 'not a millisecond early');
      mock.timers.tick(1);
      await flush();
      assert.equal(passes, 2, 'retried exactly retry-after later');
    } finally {
      stop.abort();
      await working;
    }
  });

  void it('in --once mode (and setup, the same loop) retries a pass exactly retry-after later', async () => {
    const failure = await retryAfterError();
    mock.timers.enable({ apis: ['setTimeout'] });
    let passes = 0;
    const job: WorkJob = {
      name: 'work:dispatcher',
      resource: 'dispatcher',
      scope: 'global',
      interval: 3_600_000,
      run: () => {
        passes++;
        return passes === 1 ? Promise.reject(failure as Error) : Promise.resolve();
      },
    };
    const scheduler = new Scheduler({ log: quiet, retryBudgetMs: 600_000 });
    const working = scheduler.work([job], signal(), { once: true });
    await flush();
    assert.equal(passes, 1);
    mock.timers.tick(HINT_MS - 1);
    await flush();
    assert.equal(passes, 1, 'not a millisecond early');
    mock.timers.tick(1);
    await flush();
    assert.equal(passes, 2, 'retried exactly retry-after later');
    assert.deepEqual(await working, { failed: [] });
  });
});
