/**
 * The two-phase scheduler. Setup runs every preflight concurrently and all must
 * pass; work runs each worker immediately, then every interval, never
 * overlapping a job with itself, and applies the retry baseline — here and
 * nowhere else.
 */
import { describeError, failureKindOf, type FailureKind } from '../domain/failure.js';
import type { Log } from '../domain/ports.js';
import type { WakeSource } from '../domain/spec.js';
import { Passes, type Outcome, type SchedulerObserver, type ShutdownSignals } from './passes.js';
import type { SetupJob, WorkJob } from './planner.js';
import { ClassifiedBackoff, DEFAULT_BASELINE, formatWait, pause, pauseOrWake, type RetryBaseline } from './retry.js';
import { WalkRunner, type WalkClock } from './walk-runner.js';

export type { SchedulerObserver } from './passes.js';

export interface SetupFailure {
  readonly job: string;
  /** `owner/name`, or the subject of a global step (`github.organizations`). */
  readonly repository: string;
  /** A step of the whole daemon, not of one repository. */
  readonly global?: boolean;
  readonly reason: string;
  /** How the last failure was classified; `unknown` when nothing recognised it. */
  readonly kind: FailureKind | 'unknown';
}

/** One or more preflights failed, or setup ran out of its budget; no worker started. */
export class SetupFailedError extends Error {
  readonly failures: readonly SetupFailure[];
  /** Set when the setup budget ran out before every preflight was done. */
  readonly budgetMs: number | undefined;
  /** Repositories set up (not preflights: several run per repository). */
  readonly total: number;
  /** `total`: repositories; `advice`: a last line saying what to check. */
  constructor(failures: readonly SetupFailure[], total: number, budgetMs?: number, advice?: string) {
    const lines = failures.map((f) => `  - ${f.repository}: ${f.reason}`).join('\n');
    const ranOut = budgetMs === undefined ? '' : ` (scheduler.setupBudget of ${formatWait(budgetMs)} ran out)`;
    // Two preflights of one repository may both fail: it is one repository.
    const failed = new Set(failures.filter((f) => f.global !== true).map((f) => f.repository)).size;
    const globals = [...new Set(failures.filter((f) => f.global === true).map((f) => f.repository))];
    const what = [...(failed > 0 || globals.length === 0 ? [`${failed} of ${total} repositories`] : []), ...globals].join(' and ');
    super(`setup failed for ${what}${ranOut}; no worker was started:\n${lines}${advice ? `\n${advice}` : ''}`);
    this.name = 'SetupFailedError';
    this.failures = failures;
    this.budgetMs = budgetMs;
    this.total = total;
  }
}

/** The longest a timer can wait (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SchedulerOptions {
  readonly log: Log;
  /**
   * How long setup may take as a whole, time requests spend held by a
   * throttle included (scheduler.setupBudget); also how long a pass in --once
   * mode may retry network and server-busy failures.
   */
  readonly retryBudgetMs: number;
  /**
   * Attempts a preflight gets when the network fails (connection refused, DNS,
   * timeout): an unreachable server fails setup in seconds, not after the
   * whole budget. Default 3 (with the default baseline: 2 s, then 4 s apart).
   */
  readonly setupNetworkAttempts?: number;
  readonly baseline?: RetryBaseline;
  readonly observer?: SchedulerObserver;
  /** Runs a pass inside a context (the logging context of the job). */
  readonly around?: <T>(job: WorkJob | SetupJob, pass: () => Promise<T>) => Promise<T>;
  readonly now?: () => number;
  /** Repositories walked at once (github.fleet.walkConcurrency). Default 8. */
  readonly walkConcurrency?: number;
  /** The walk runner's time. Default: `now` and the real timers. */
  readonly walkClock?: WalkClock;
}

export interface WorkSummary {
  /** Jobs whose pass failed for good (--once only). */
  readonly failed: readonly string[];
}

export class Scheduler {
  readonly #baseline: RetryBaseline;
  readonly #passes: Passes;
  /**
   * The repository-scope work jobs (the walks). `work` adds the configured
   * repositories; the composition root adds, removes and nudges the members
   * that come and go while it runs.
   */
  readonly walks: WalkRunner;

  constructor(private readonly options: SchedulerOptions) {
    this.#baseline = options.baseline ?? DEFAULT_BASELINE;
    this.#passes = new Passes({
      log: options.log,
      baseline: this.#baseline,
      now: options.now ?? Date.now,
      retryBudgetMs: options.retryBudgetMs,
      setupNetworkAttempts: options.setupNetworkAttempts ?? 3,
      ...(options.observer ? { observer: options.observer } : {}),
      ...(options.around ? { around: options.around } : {}),
    });
    this.walks = new WalkRunner({
      passes: this.#passes,
      ...(options.walkConcurrency === undefined ? {} : { concurrency: options.walkConcurrency }),
      ...(options.walkClock ? { clock: options.walkClock } : {}),
    });
  }

  /**
   * Phase 1: every preflight, concurrently, all within the setup budget.
   * Throws SetupFailedError naming every repository that failed or was not
   * done when the budget ran out.
   */
  async setup(jobs: readonly SetupJob[], signal: AbortSignal): Promise<void> {
    const budgetMs = this.options.retryBudgetMs;
    const bounded = new AbortController();
    const stop = (): void => bounded.abort(signal.reason);
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    // The budget bounds everything setup does, including time a request spends
    // held by the GitHub throttle: the jobs' signal fires when it runs out.
    const timer = setTimeout(() => bounded.abort(new Error(`scheduler.setupBudget of ${formatWait(budgetMs)} ran out`)), Math.min(budgetMs, MAX_TIMER_MS));
    let outcomes: Outcome[];
    try {
      outcomes = await Promise.all(jobs.map((job) => this.#passes.runUntilDone(job, { stop: bounded.signal, inFlight: bounded.signal }, 'setup')));
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
    }
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('shut down during setup');
    const failures = jobs.flatMap((job, index): SetupFailure[] => {
      const outcome = outcomes[index];
      if (outcome?.error === undefined) return [];
      const reason = outcome.interrupted ? unfinished(outcome, budgetMs) : describeError(outcome.error);
      const global = job.repository === undefined ? { global: true } : {};
      return [{ job: job.name, repository: job.subject, ...global, reason, kind: failureKindOf(outcome.lastFailure ?? outcome.error) }];
    });
    // Several preflights may run per repository: count repositories, not jobs.
    const repositories = new Set(jobs.flatMap((job) => (job.repository === undefined ? [] : [job.subject]))).size;
    if (failures.length > 0) throw new SetupFailedError(failures, repositories, bounded.signal.aborted ? budgetMs : undefined);
  }

  /**
   * Phase 2. Repository-scope jobs become members of `walks`, walked at once
   * and then every interval, `walkConcurrency` at a time; each global job runs
   * at once and then every interval, until the signal aborts.
   *
   * With `once`, one successful pass per job instead, in three stages:
   * detectors (they may nudge walks), then the walks (they produce the
   * queue), then the other global workers (they drain it).
   *
   * Shutdown: `signal` stops taking work (no new pass, and the passes of jobs
   * that do not drain are aborted); `inFlight` (default: `signal`) aborts the
   * passes of draining jobs, which otherwise finish what they hold.
   */
  async work(jobs: readonly WorkJob[], signal: AbortSignal, { once, inFlight = signal }: { once: boolean; inFlight?: AbortSignal }): Promise<WorkSummary> {
    const signals = { stop: signal, inFlight };
    for (const job of jobs) {
      // A job without a repository id (tests, or a plan bound by hand) is a member of its own.
      if (job.scope === 'repository') this.walks.upsert(job.repositoryId ?? job.name, job, job.interval);
    }
    const globals = jobs.filter((job) => job.scope === 'global');
    if (!once) {
      await Promise.all([this.walks.run(signal, inFlight), ...globals.map((job) => this.#runForever(job, signals))]);
      return { failed: [] };
    }
    const failed: string[] = [];
    const stage = async (stageJobs: readonly WorkJob[]) => {
      const outcomes = await Promise.all(stageJobs.map((job) => this.#passes.runUntilDone(job, signals, 'once')));
      stageJobs.forEach((job, index) => {
        if (outcomes[index]?.error !== undefined) failed.push(job.name);
      });
    };
    await stage(globals.filter((job) => job.detects === true));
    failed.push(...(await this.walks.once(signal, inFlight)));
    await stage(globals.filter((job) => job.detects !== true));
    return { failed };
  }

  async #runForever(job: WorkJob, signals: ShutdownSignals): Promise<void> {
    const signal = signals.stop;
    const backoff = new ClassifiedBackoff(this.#baseline);
    const wake = new WakeUps(job.wake);
    try {
      while (!signal.aborted) {
        const started = this.#passes.now();
        wake.clear();
        const error = await this.#passes.pass(job, signals);
        if (signal.aborted) return;
        if (error === undefined) {
          backoff.reset();
          // News that came during the pass, or during the wait, starts the next pass at once.
          await wake.pause(Math.max(0, job.interval - (this.#passes.now() - started)), signal);
          continue;
        }
        const delayMs = this.#passes.failedInWork(job, backoff, error);
        // A failed pass waits out its backoff whatever rings: the backoff protects the backend.
        await pause(delayMs, signal);
      }
    } finally {
      wake.close();
    }
  }
}

/** Why a preflight counts as failed when the setup budget ran out before it was done. */
function unfinished(outcome: Outcome, budgetMs: number): string {
  const notDone = `not done when scheduler.setupBudget (${formatWait(budgetMs)}) ran out`;
  if (outcome.lastFailure === undefined) return `${notDone}; its first attempt was still waiting (held by a rate limit, or no answer yet)`;
  return `${notDone} (attempt ${outcome.attempts}); the last failure: ${describeError(outcome.lastFailure)}`;
}

/** A job's wake-ups, remembered between passes so that none is lost while a pass runs. */
class WakeUps {
  #rung = false;
  readonly #listeners = new Set<() => void>();
  readonly #unsubscribe: () => void;

  constructor(source: WakeSource | undefined) {
    this.#unsubscribe =
      source?.subscribe(() => {
        this.#rung = true;
        for (const listener of [...this.#listeners]) listener();
      }) ?? (() => {});
  }

  clear(): void {
    this.#rung = false;
  }

  /** Waits `ms`, less when the signal aborts, none when it rang since the last clear. */
  async pause(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#rung) return;
    await pauseOrWake(ms, signal, (wakeUp) => {
      this.#listeners.add(wakeUp);
      return () => this.#listeners.delete(wakeUp);
    });
  }

  close(): void {
    this.#unsubscribe();
  }
}
