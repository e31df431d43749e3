/**
 * The walk runner: repository walks for a set of members that changes while it
 * runs. Time is a manual clock handed to the scheduler, so intervals and
 * backoffs of minutes pass in no time, and every timer it sets is counted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClassifiedError } from '../src/domain/failure.js';
import type { Log } from '../src/domain/ports.js';
import { workGlobal, workPerRepository } from '../src/schedule/entries.js';
import { plan, type WorkJob } from '../src/schedule/planner.js';
import type { RetryBaseline } from '../src/schedule/retry.js';
import { Scheduler, type SchedulerObserver } from '../src/schedule/scheduler.js';
import type { WalkClock } from '../src/schedule/walk-runner.js';

/** Resolves once the tasks queued now (promise callbacks, ticks) have run: passes that need nothing else have ended. */
const settled = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

/** A clock that moves only when told; its timers fire as it passes them. */
class ManualClock implements WalkClock {
  time = 1_000_000;
  /** The most timers pending at once, ever. */
  mostPending = 0;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();
  #ids = 0;

  now = (): number => this.time;

  setTimer(callback: () => void, ms: number): unknown {
    const id = ++this.#ids;
    this.#timers.set(id, { at: this.time + ms, callback });
    this.mostPending = Math.max(this.mostPending, this.#timers.size);
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** Moves `ms` on, firing every timer due on the way and letting the passes it starts run. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry;
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].callback();
      await settled();
    }
    this.time = target;
    await settled();
  }
}

const quiet: Log = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

function recordingLog(): Log & { lines: Array<{ level: string; message: string; fields: object }> } {
  const lines: Array<{ level: string; message: string; fields: object }> = [];
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

function setting(options: { concurrency?: number; log?: Log; observer?: SchedulerObserver; retryBudgetMs?: number } = {}) {
  const clock = new ManualClock();
  const scheduler = new Scheduler({
    log: options.log ?? quiet,
    retryBudgetMs: options.retryBudgetMs ?? 1_000,
    baseline: FAST,
    now: clock.now,
    walkClock: clock,
    ...(options.concurrency === undefined ? {} : { walkConcurrency: options.concurrency }),
    ...(options.observer ? { observer: options.observer } : {}),
  });
  const stop = new AbortController();
  return { clock, scheduler, walks: scheduler.walks, stop, start: () => scheduler.walks.run(stop.signal) };
}

/** A walk that ends when the test says (or when aborted); records when each pass started. */
function gated(clock: ManualClock, name: string, interval = 60_000) {
  const starts: number[] = [];
  const ends: Array<(error?: unknown) => void> = [];
  let running = 0;
  const job: WorkJob = {
    name: `work:issue-poller:acme/${name}`,
    resource: 'issue-poller',
    scope: 'repository',
    interval,
    run: (signal) =>
      new Promise<void>((resolve, reject) => {
        starts.push(clock.time);
        running++;
        const aborted = () => end(signal.reason);
        const end = (error?: unknown) => {
          running--;
          signal.removeEventListener('abort', aborted);
          if (error === undefined) resolve();
          else reject(error instanceof Error ? error : new Error(String(error)));
        };
        ends.push(end);
        signal.addEventListener('abort', aborted, { once: true });
      }),
  };
  return {
    job,
    starts,
    get running() {
      return running;
    },
    /** Ends the oldest pass in flight, with `error` if given, and lets the runner react. */
    async end(error?: unknown) {
      const end = ends.shift();
      assert.ok(end, `${name} has no pass in flight`);
      end(error);
      await settled();
    },
  };
}

/** A walk that ends at once, or fails with what `fail` returns for the pass number. */
function instant(clock: ManualClock, name: string, fail: (pass: number) => Error | undefined = () => undefined, interval = 60_000) {
  const starts: number[] = [];
  const job: WorkJob = {
    name: `work:issue-poller:acme/${name}`,
    resource: 'issue-poller',
    scope: 'repository',
    interval,
    run: async () => {
      starts.push(clock.time);
      const error = fail(starts.length);
      if (error) throw error;
    },
  };
  return { job, starts };
}

describe('walk runner', () => {
  it('walks a member with an interval at once, then every interval, with one timer', async () => {
    const { clock, walks, stop, start } = setting();
    const api = instant(clock, 'api');
    const web = instant(clock, 'web');
    walks.upsert(1, api.job, 1_000);
    walks.upsert(2, web.job, 1_500);
    const t0 = clock.time;
    const running = start();
    await settled();
    assert.deepEqual([api.starts, web.starts], [[t0], [t0]]);
    await clock.advance(999);
    assert.equal(api.starts.length, 1, 'not before its interval');
    await clock.advance(1);
    await clock.advance(1_500);
    assert.deepEqual(api.starts, [t0, t0 + 1_000, t0 + 2_000]);
    assert.deepEqual(web.starts, [t0, t0 + 1_500]);
    assert.equal(clock.mostPending, 1, 'one timer, for the earliest due');
    stop.abort();
    await running;
    assert.equal(clock.pending, 0, 'no timer left after the stop');
  });

  it('walks a member without an interval only when nudged, and says whether a key is a member', async () => {
    const { clock, walks, stop, start } = setting();
    const quietOne = instant(clock, 'quiet');
    walks.upsert('7', quietOne.job, null);
    const running = start();
    await clock.advance(24 * 3_600_000);
    assert.deepEqual(quietOne.starts, [], 'never walked unasked');
    assert.equal(clock.pending, 0, 'and no timer for it');
    assert.equal(walks.nudge(7), true, 'a number and its string are one key');
    await settled();
    assert.deepEqual(quietOne.starts, [clock.time]);
    await clock.advance(24 * 3_600_000);
    assert.equal(quietOne.starts.length, 1);
    assert.equal(walks.nudge(8), false);
    stop.abort();
    await running;
  });

  it('coalesces nudges: during a pass, many nudges make one more pass after it', async () => {
    const { clock, walks, stop, start } = setting();
    const api = gated(clock, 'api');
    walks.upsert(1, api.job, null);
    const running = start();
    walks.nudge(1);
    walks.nudge(1);
    await settled();
    assert.equal(api.starts.length, 1, 'two nudges before the pass: one pass');
    for (let i = 0; i < 5; i++) walks.nudge(1);
    await settled();
    assert.equal(api.running, 1, 'never two passes of one member at once');
    await api.end();
    assert.equal(api.starts.length, 2, 'one more pass after the nudged one');
    await api.end();
    await clock.advance(3_600_000);
    assert.equal(api.starts.length, 2, 'and no more');
    stop.abort();
    await running;
  });

  it('keeps a failed member waiting out its backoff whatever nudges, and retries it as the scheduler does', async () => {
    const log = recordingLog();
    const failures: Array<{ job: string; willRetry: boolean; degraded: boolean }> = [];
    const { clock, walks, stop, start } = setting({ log, observer: { passFailed: (job, _e, d) => void failures.push({ job: job.name, willRetry: d.willRetry, degraded: d.degraded }) } });
    const busy = instant(clock, 'busy', (pass) => (pass === 1 ? new ClassifiedError('service', 'secondary rate limit', { waitMs: 5_000 }) : undefined));
    const other = instant(clock, 'other');
    walks.upsert(1, busy.job, null);
    walks.upsert(2, other.job, 1_000);
    const running = start();
    walks.nudge(1);
    await settled();
    assert.equal(busy.starts.length, 1);
    assert.equal(walks.snapshot().backingOff, 1);
    walks.nudge(1);
    walks.upsert(1, busy.job, 100);
    await clock.advance(4_999);
    assert.equal(busy.starts.length, 1, 'the nudge and a new interval did not cut the backoff short');
    assert.ok(other.starts.length >= 5, 'the other member kept walking');
    await clock.advance(1);
    assert.equal(busy.starts.length, 2, 'retried exactly when the server asked');
    assert.deepEqual(failures, [{ job: 'work:issue-poller:acme/busy', willRetry: true, degraded: false }]);
    const line = log.lines.find((l) => l.level === 'warn');
    assert.equal(line?.message, 'failed (server busy); retrying in 5s as the server asked: secondary rate limit');
    assert.deepEqual(line?.fields, { job: 'work:issue-poller:acme/busy', classification: 'service', error: 'secondary rate limit', retryInMs: 5_000 });
    stop.abort();
    await running;
  });

  it('retries an unrecognised failure degraded and loudly, for ever, and keeps the other members walking', async () => {
    const log = recordingLog();
    const { clock, walks, stop, start } = setting({ log });
    const broken = instant(clock, 'broken', () => new TypeError('bug'));
    const healthy = instant(clock, 'healthy');
    walks.upsert(1, broken.job, 1_000);
    walks.upsert(2, healthy.job, 1_000);
    const running = start();
    await settled();
    await clock.advance(10_000);
    assert.ok(broken.starts.length >= 5, `retried (${broken.starts.length})`);
    const gaps = broken.starts.slice(1).map((at, i) => at - (broken.starts[i] ?? 0));
    assert.deepEqual(gaps.slice(0, 4), [10, 20, 40, 40], 'the unknown series of the baseline, not the interval');
    assert.equal(healthy.starts.length, 11);
    assert.equal(clock.mostPending, 1, 'a backoff sooner than the next interval moves the one timer');
    assert.ok(log.lines.some((l) => l.level === 'error' && l.message === 'failed with an unrecognised error; degraded, retrying in 10ms: bug'));
    stop.abort();
    await running;
  });

  it('walks at most `concurrency` members at once, really that many, the one due longest first', async () => {
    const { clock, walks, stop, start } = setting({ concurrency: 3 });
    const members = Array.from({ length: 10 }, (_, i) => gated(clock, `r${i}`));
    members.forEach((m, i) => walks.upsert(i, m.job, 60_000));
    const running = start();
    await settled();
    const inFlight = () => members.reduce((sum, m) => sum + m.running, 0);
    assert.equal(inFlight(), 3);
    assert.deepEqual(walks.snapshot().running, ['work:issue-poller:acme/r0', 'work:issue-poller:acme/r1', 'work:issue-poller:acme/r2']);
    assert.equal(walks.snapshot().dueNow, 7);
    let most = 0;
    for (let ended = 0; ended < 10; ended++) {
      const next = members.find((m) => m.running > 0);
      assert.ok(next);
      await next.end();
      most = Math.max(most, inFlight());
      assert.ok(inFlight() === Math.min(3, 9 - ended), `${inFlight()} in flight after ${ended + 1} ended`);
    }
    assert.equal(most, 3);
    assert.deepEqual(members.map((m) => m.starts.length), Array(10).fill(1), 'each walked once, in the order they were due');
    stop.abort();
    await running;
  });

  it('walks the member due longest first when a slot frees up, whatever its key or when it was added', async () => {
    const { clock, walks, stop, start } = setting({ concurrency: 1 });
    const [a, b, c] = [gated(clock, 'a'), gated(clock, 'b'), gated(clock, 'c')];
    walks.upsert('a', a.job, null);
    walks.upsert('b', b.job, null);
    walks.upsert('c', c.job, null);
    const running = start();
    walks.nudge('a');
    await settled();
    clock.time += 10;
    walks.nudge('c');
    clock.time += 10;
    walks.nudge('b');
    await a.end();
    assert.deepEqual([b.starts.length, c.starts.length], [0, 1], 'c was due longer than b');
    await c.end();
    assert.equal(b.starts.length, 1);
    await b.end();
    stop.abort();
    await running;
  });

  it('stops walking a removed member; a pass in flight finishes', async () => {
    const { clock, walks, stop, start } = setting();
    const api = gated(clock, 'api');
    const web = instant(clock, 'web');
    walks.upsert(1, api.job, 1_000);
    walks.upsert(2, web.job, 1_000);
    const running = start();
    await settled();
    assert.equal(walks.remove(1), true);
    assert.equal(walks.remove(2), true);
    assert.equal(walks.snapshot().members, 0);
    assert.equal(api.running, 1, 'not aborted by the removal');
    await api.end();
    await clock.advance(10_000);
    assert.deepEqual([api.starts.length, web.starts.length], [1, 1]);
    assert.equal(walks.nudge(1), false, 'no longer a member');
    assert.equal(clock.pending, 0);
    stop.abort();
    await running;
  });

  it('adds members while running and changes an interval without walking twice', async () => {
    const { clock, walks, stop, start } = setting();
    const api = instant(clock, 'api');
    walks.upsert(1, api.job, 1_000);
    const running = start();
    await settled();
    const t0 = clock.time;
    const late = instant(clock, 'late');
    walks.upsert(2, late.job, 1_000);
    await settled();
    assert.deepEqual(late.starts, [t0], 'a member added while running is walked at once');
    await clock.advance(500);
    walks.upsert(1, api.job, 5_000);
    walks.upsert(1, api.job, 5_000);
    await settled();
    assert.deepEqual(api.starts, [t0], 'changing the interval does not walk it again');
    await clock.advance(4_500);
    assert.deepEqual(api.starts, [t0, t0 + 5_000], 'the new interval counts from the last start');
    walks.upsert(1, api.job, null);
    await clock.advance(60_000);
    assert.equal(api.starts.length, 2, 'without an interval it waits for a nudge');
    const replaced = instant(clock, 'api');
    walks.upsert(1, replaced.job, null);
    walks.nudge(1);
    await settled();
    assert.equal(replaced.starts.length, 1, 'the replaced job is the one walked');
    assert.equal(walks.snapshot().members, 2);
    stop.abort();
    await running;
  });

  it('aborts the walks in flight at the stop and starts none after it', async () => {
    const { clock, walks, stop, start } = setting({ concurrency: 1 });
    const api = gated(clock, 'api');
    const web = gated(clock, 'web');
    walks.upsert(1, api.job, 1_000);
    walks.upsert(2, web.job, 1_000);
    const running = start();
    await settled();
    stop.abort(new Error('test: stop'));
    await running;
    assert.deepEqual([api.starts.length, web.starts.length], [1, 0]);
    assert.equal(api.running, 0, 'aborted');
    assert.equal(clock.pending, 0);
  });

  it('keeps 10,000 idle members on one timer', async () => {
    const { clock, walks, stop, start } = setting();
    let passes = 0;
    for (let i = 0; i < 10_000; i++) {
      const job: WorkJob = { name: `work:issue-poller:fleet/r${i}`, resource: 'issue-poller', scope: 'repository', interval: 60_000, run: async () => void passes++ };
      walks.upsert(i, job, i % 2 === 0 ? 60_000 : null);
    }
    const running = start();
    for (let i = 0; i < 20 && passes < 5_000; i++) await settled();
    assert.equal(passes, 5_000, 'the members with an interval walked at once');
    assert.equal(clock.pending, 1);
    assert.equal(clock.mostPending, 1, 'never more than one timer');
    assert.deepEqual(walks.snapshot(), { members: 10_000, running: [], dueNow: 0, backingOff: 0, nextDueAt: clock.time + 60_000 });
    // A member due sooner than all of them moves the one timer, it does not add one.
    walks.upsert('soon', { name: 'work:issue-poller:fleet/soon', resource: 'issue-poller', scope: 'repository', interval: 1_000, run: async () => void passes++ }, 1_000);
    await settled();
    walks.nudge(1);
    await settled();
    assert.equal(passes, 5_002);
    assert.equal(clock.pending, 1);
    assert.equal(clock.mostPending, 1, 'still one timer');
    stop.abort();
    await running;
  });
});

describe('scheduler with walks: until stopped', () => {
  it('walks the configured repositories at once and every interval, and takes members added later', async () => {
    const { clock, scheduler } = setting();
    const stop = new AbortController();
    const api = instant(clock, 'api', () => undefined, 1_000);
    const web = instant(clock, 'web', () => undefined, 1_000);
    let dispatcherPasses = 0;
    const jobs: WorkJob[] = [
      { ...api.job, repositoryId: 1 },
      { ...web.job, repositoryId: 2 },
      { name: 'work:dispatcher', resource: 'dispatcher', scope: 'global', interval: 60_000, run: async () => void dispatcherPasses++ },
    ];
    const working = scheduler.work(jobs, stop.signal, { once: false });
    await settled();
    const t0 = clock.time;
    assert.deepEqual([api.starts, web.starts], [[t0], [t0]]);
    const joined = instant(clock, 'joined');
    scheduler.walks.upsert(3, joined.job, null);
    scheduler.walks.nudge(3);
    await clock.advance(1_000);
    assert.deepEqual([api.starts, web.starts, joined.starts.length], [[t0, t0 + 1_000], [t0, t0 + 1_000], 1]);
    assert.equal(scheduler.walks.snapshot().members, 3);
    assert.equal(dispatcherPasses, 1, 'the global worker runs on its own loop');
    stop.abort();
    await working;
  });
});

describe('scheduler with walks: --once', () => {
  it('runs detectors, then the walks (with what they nudged), then the dispatcher, and names what failed', async () => {
    const order: string[] = [];
    const { scheduler } = setting({ concurrency: 2, retryBudgetMs: 100 });
    let inFlight = 0;
    let most = 0;
    const walk = (name: string, fail = false): WorkJob => ({
      name: `work:issue-poller:acme/${name}`,
      resource: 'issue-poller',
      scope: 'repository',
      interval: 60_000,
      repositoryId: name.length,
      run: async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await settled();
        inFlight--;
        order.push(name);
        if (fail) throw new ClassifiedError('permanent', `${name} is gone`);
      },
    });
    // Joined after start, without an interval: walked only because the detector nudges it.
    scheduler.walks.upsert(100, walk('changed'), null);
    scheduler.walks.upsert(101, walk('untouched'), null);
    const jobs: WorkJob[] = [
      { name: 'work:dispatcher', resource: 'dispatcher', scope: 'global', interval: 1, run: async () => void order.push('dispatcher') },
      { name: 'work:issue-poller:acme/api', resource: 'issue-poller', scope: 'repository', interval: 1_000, repositoryId: 1, run: walk('api').run },
      { ...walk('web', true), repositoryId: 2 },
      { ...walk('docs'), repositoryId: 3 },
      { name: 'work:stream', resource: 'stream', scope: 'global', interval: 1, detects: true, run: async () => void (order.push('detector'), scheduler.walks.nudge(100)) },
    ];
    const summary = await scheduler.work(jobs, new AbortController().signal, { once: true });
    assert.equal(order[0], 'detector');
    assert.deepEqual(new Set(order.slice(1, 5)), new Set(['api', 'web', 'docs', 'changed']));
    assert.equal(order[5], 'dispatcher');
    assert.equal(order.length, 6, `the member nobody nudged is not walked: ${order.join(', ')}`);
    assert.equal(most, 2, 'walks ran two at once, no more');
    assert.deepEqual(summary.failed, ['work:issue-poller:acme/web']);
  });

  it('retries a walk that fails on the network within the retry budget', async () => {
    const { scheduler } = setting({ retryBudgetMs: 5_000 });
    let passes = 0;
    const job: WorkJob = {
      name: 'work:issue-poller:acme/api',
      resource: 'issue-poller',
      scope: 'repository',
      interval: 1_000,
      repositoryId: 1,
      run: async () => {
        if (++passes < 3) throw new ClassifiedError('node', 'connection reset');
      },
    };
    const summary = await scheduler.work([job], new AbortController().signal, { once: true });
    assert.equal(passes, 3);
    assert.deepEqual(summary.failed, []);
  });
});

describe('planner: walks', () => {
  it('binds the repository-scope jobs of a repository that joins later, and carries `detects`', async () => {
    const seen: unknown[] = [];
    const thePlan = plan(
      [
        workPerRepository({ resource: 'issue-poller', interval: 1000, work: async (_s, partition) => void seen.push(partition) }),
        workGlobal({ resource: 'stream', interval: 1000, detects: true, work: async () => {} }),
        workGlobal({ resource: 'dispatcher', interval: 1000, work: async () => {} }),
      ],
      [{ owner: 'acme', name: 'api' }],
    );
    const jobs = thePlan.jobsFor({ owner: 'acme', name: 'new', repositoryId: 42 });
    assert.deepEqual(
      jobs.map((j) => [j.name, j.scope, j.repositoryId, j.interval]),
      [['work:issue-poller:acme/new', 'repository', 42, 1000]],
    );
    await jobs[0]?.run(new AbortController().signal);
    assert.deepEqual(seen, [{ owner: 'acme', name: 'new', repositoryId: 42 }]);
    const bound = thePlan.bindWork((r) => ({ ...r, repositoryId: 7 }));
    assert.deepEqual(
      bound.map((j) => [j.name, j.repositoryId, j.detects]),
      [
        ['work:issue-poller:acme/api', 7, undefined],
        ['work:stream', undefined, true],
        ['work:dispatcher', undefined, undefined],
      ],
    );
  });
});
