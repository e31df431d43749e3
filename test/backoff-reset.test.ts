/**
 * A success ends a failure streak: the next failure waits the first delay of
 * the baseline again, not the doubled delay the old streak had reached. Both
 * loops that retry work are checked, with the daemon's own baseline (network
 * failures: 2 s, doubling): a global worker's (on node's mocked timers, since
 * it waits on real ones) and a repository walk's (on the walk runner's clock).
 * The failure is a real one: the GitHub client's, against a closed port.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { afterEach, describe, it, mock } from 'node:test';
import { failureKindOf } from '../src/domain/failure.js';
import type { Log } from '../src/domain/ports.js';
import { GitHubClient } from '../src/infra/github/index.js';
import type { WorkJob } from '../src/schedule/planner.js';
import { DEFAULT_BASELINE, type RetryDecision } from '../src/schedule/retry.js';
import { Scheduler } from '../src/schedule/scheduler.js';
import { flush, SharedClock } from './support/shared-clock.js';

const quiet: Log = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const FIRST = DEFAULT_BASELINE.node.initialMs;

afterEach(() => {
  mock.timers.reset();
});

/** A port nothing listens on: taken from the system, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

/** What the real client throws when GitHub cannot be reached (taken before any timer is mocked). */
async function networkFailure(): Promise<Error> {
  const client = new GitHubClient({ baseUrl: `http://127.0.0.1:${await closedPort()}`, token: 'ghp_backoffResetToken', timeoutMs: 5_000, userAgent: 'autosolve/test', throttle: { minIntervalMs: 0 } });
  const failure = await client.getRepository({ owner: 'acme', name: 'api' }, new AbortController().signal).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(failure instanceof Error);
  assert.equal(failureKindOf(failure), 'node');
  return failure;
}

/** Passes 1 and 2 fail, 3 succeeds, 4 and 5 fail, the rest succeed. */
const OUTCOMES = ['fail', 'fail', 'ok', 'fail', 'fail'] as const;

void describe('backoff starts over after a success', () => {
  void it('a global worker: after a success the next failure waits the first delay again', async () => {
    const failure = await networkFailure();
    mock.timers.enable({ apis: ['setTimeout'] });
    const delays: number[] = [];
    let passes = 0;
    const interval = 600_000;
    const job: WorkJob = {
      name: 'work:dispatcher',
      resource: 'dispatcher',
      scope: 'global',
      interval,
      run: () => (OUTCOMES[passes++] === 'fail' ? Promise.reject(failure) : Promise.resolve()),
    };
    const scheduler = new Scheduler({ log: quiet, retryBudgetMs: 600_000, observer: { passFailed: (_job, _error, decision: RetryDecision) => void delays.push(decision.delayMs) } });
    const stop = new AbortController();
    const working = scheduler.work([job], stop.signal, { once: false });
    /** Moves the mocked timers `ms` on and says how many passes have started. */
    const after = async (ms: number): Promise<number> => {
      mock.timers.tick(ms);
      await flush();
      return passes;
    };
    try {
      await flush();
      assert.equal(passes, 1);
      assert.equal(await after(FIRST), 2, 'the first failure waits the first delay');
      assert.equal(await after(2 * FIRST), 3, 'the second waits twice as long');
      assert.equal(await after(interval), 4, 'the success waits the interval');
      assert.equal(await after(FIRST - 1), 4);
      assert.equal(await after(1), 5, 'the failure after a success waits the first delay again');
      assert.equal(await after(2 * FIRST), 6, 'and the streak doubles from there');
      assert.deepEqual(delays, [FIRST, 2 * FIRST, FIRST, 2 * FIRST]);
    } finally {
      stop.abort();
      await working;
    }
  });

  void it('a repository walk: after a success the next failure waits the first delay again', async () => {
    const failure = await networkFailure();
    const clock = new SharedClock(Date.UTC(2026, 2, 2, 9, 0, 0));
    const delays: number[] = [];
    const starts: number[] = [];
    const interval = 600_000;
    const job: WorkJob = {
      name: 'work:issue-poller:acme/api',
      resource: 'issue-poller',
      scope: 'repository',
      interval,
      run: () => {
        starts.push(clock.time);
        return OUTCOMES[starts.length - 1] === 'fail' ? Promise.reject(failure) : Promise.resolve();
      },
    };
    const scheduler = new Scheduler({
      log: quiet,
      retryBudgetMs: 600_000,
      now: clock.now,
      walkClock: clock,
      observer: { passFailed: (_job, _error, decision: RetryDecision) => void delays.push(decision.delayMs) },
    });
    scheduler.walks.upsert(1, job, interval);
    const stop = new AbortController();
    const running = scheduler.walks.run(stop.signal);
    /** Moves `ms` on, lets the walk that starts end, and says when the next one is due, relative to now. */
    const after = async (ms: number): Promise<number | undefined> => {
      clock.advanceTo(clock.time + ms);
      await flush();
      const due = scheduler.walks.snapshot().nextDueAt;
      return due === undefined ? undefined : due - clock.time;
    };
    try {
      await flush();
      const t0 = clock.time;
      assert.equal(scheduler.walks.snapshot().nextDueAt, t0 + FIRST);
      assert.equal(await after(FIRST), 2 * FIRST);
      assert.equal(await after(2 * FIRST), interval, 'the success: due again after the interval');
      assert.equal(await after(interval), FIRST, 'the failure after a success waits the first delay again');
      assert.equal(await after(FIRST), 2 * FIRST);
      const gaps = starts.slice(1).map((at, i) => at - (starts[i] ?? 0));
      assert.deepEqual(gaps, [FIRST, 2 * FIRST, interval, FIRST]);
      assert.deepEqual(delays, [FIRST, 2 * FIRST, FIRST, 2 * FIRST]);
    } finally {
      stop.abort();
      await running;
    }
  });
});
