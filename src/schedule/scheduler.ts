/**
 * The two-phase scheduler. Setup runs every preflight concurrently and all must
 * pass; work runs each worker immediately, then every interval, never
 * overlapping a job with itself, and applies the retry baseline — here and
 * nowhere else.
 */
import { fullName } from '../domain/entities.js';
import { describeError, failureKindOf, pauseReasonOf, type FailureKind } from '../domain/failure.js';
import type { Log } from '../domain/ports.js';
import type { SetupJob, WorkJob } from './planner.js';
import type { WakeSource } from '../domain/spec.js';
import { ClassifiedBackoff, DEFAULT_BASELINE, formatWait, KIND_WORDS, pause, pauseOrWake, type RetryBaseline, type RetryDecision } from './retry.js';

export interface SetupFailure {
  readonly job: string;
  readonly repository: string;
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
    const failed = new Set(failures.map((f) => f.repository)).size;
    super(`setup failed for ${failed} of ${total} repositories${ranOut}; no worker was started:\n${lines}${advice ? `\n${advice}` : ''}`);
    this.name = 'SetupFailedError';
    this.failures = failures;
    this.budgetMs = budgetMs;
    this.total = total;
  }
}

/** How one job's retries within the budget ended. */
interface Outcome {
  /** The final error; undefined on success. */
  readonly error?: unknown;
  /** The signal cut the job short (setup budget or shutdown): it never finished. */
  readonly interrupted: boolean;
  /** The latest failed pass, if any. */
  readonly lastFailure?: unknown;
  /** Passes started. */
  readonly attempts: number;
}

/** The longest a timer can wait (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the scheduler reports as it goes (metrics, status, progress). */
export interface SchedulerObserver {
  passSucceeded?(job: WorkJob | SetupJob, durationMs: number): void;
  passFailed?(job: WorkJob | SetupJob, error: unknown, decision: RetryDecision & { degraded: boolean; willRetry: boolean }): void;
}

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
}

/** Stop taking work; abort the work in flight (after the shutdown grace). */
interface ShutdownSignals {
  readonly stop: AbortSignal;
  readonly inFlight: AbortSignal;
}

export interface WorkSummary {
  /** Jobs whose pass failed for good (--once only). */
  readonly failed: readonly string[];
}

export class Scheduler {
  readonly #log: Log;
  readonly #baseline: RetryBaseline;
  readonly #now: () => number;
  readonly #setupNetworkAttempts: number;

  constructor(private readonly options: SchedulerOptions) {
    this.#log = options.log;
    this.#baseline = options.baseline ?? DEFAULT_BASELINE;
    this.#now = options.now ?? Date.now;
    this.#setupNetworkAttempts = options.setupNetworkAttempts ?? 3;
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
      outcomes = await Promise.all(jobs.map((job) => this.#runUntilDone(job, { stop: bounded.signal, inFlight: bounded.signal }, 'setup')));
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
    }
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('shut down during setup');
    const failures = jobs.flatMap((job, index): SetupFailure[] => {
      const outcome = outcomes[index];
      if (outcome?.error === undefined) return [];
      const reason = outcome.interrupted ? unfinished(outcome, budgetMs) : describeError(outcome.error);
      return [{ job: job.name, repository: fullName(job.repository), reason, kind: failureKindOf(outcome.lastFailure ?? outcome.error) }];
    });
    // Several preflights may run per repository: count repositories, not jobs.
    const repositories = new Set(jobs.map((job) => fullName(job.repository))).size;
    if (failures.length > 0) throw new SetupFailedError(failures, repositories, bounded.signal.aborted ? budgetMs : undefined);
  }

  /**
   * Phase 2. With `once`, one successful pass per job: repository workers first
   * (they produce the queue), then global workers (they drain it). Without it,
   * every job runs until the signal aborts.
   *
   * Shutdown: `signal` stops taking work (no new pass, and the passes of jobs
   * that do not drain are aborted); `inFlight` (default: `signal`) aborts the
   * passes of draining jobs, which otherwise finish what they hold.
   */
  async work(jobs: readonly WorkJob[], signal: AbortSignal, { once, inFlight = signal }: { once: boolean; inFlight?: AbortSignal }): Promise<WorkSummary> {
    const signals = { stop: signal, inFlight };
    if (!once) {
      await Promise.all(jobs.map((job) => this.#runForever(job, signals)));
      return { failed: [] };
    }
    const failed: string[] = [];
    for (const scope of ['repository', 'global'] as const) {
      const stage = jobs.filter((job) => job.scope === scope);
      const outcomes = await Promise.all(stage.map((job) => this.#runUntilDone(job, signals, 'once')));
      stage.forEach((job, index) => {
        if (outcomes[index]?.error !== undefined) failed.push(job.name);
      });
    }
    return { failed };
  }

  /** Retries network/server-busy failures within the budget (network ones in setup a few times only). */
  async #runUntilDone(job: SetupJob | WorkJob, signals: ShutdownSignals, mode: 'setup' | 'once'): Promise<Outcome> {
    const signal = signals.stop;
    const backoff = new ClassifiedBackoff(this.#baseline);
    const deadline = this.#now() + this.options.retryBudgetMs;
    let attempts = 0;
    let networkFailures = 0;
    let lastFailure: unknown;
    for (;;) {
      attempts++;
      const error = await this.#pass(job, signals);
      if (error === undefined) return { interrupted: false, attempts };
      if (signal.aborted) return { error, interrupted: true, lastFailure, attempts };
      lastFailure = error;
      const decision = backoff.next(error);
      if (decision.kind === 'node') networkFailures++;
      const networkLimited = mode === 'setup' && decision.kind === 'node';
      const retryable = decision.kind === 'node' || decision.kind === 'service';
      const willRetry =
        retryable && !(networkLimited && networkFailures >= this.#setupNetworkAttempts) && this.#now() + decision.delayMs <= deadline;
      const attempt = mode === 'setup' ? { number: attempts, ...(networkLimited ? { of: this.#setupNetworkAttempts } : {}) } : undefined;
      this.#report(job, error, decision, { degraded: false, willRetry, mode, ...(attempt ? { attempt } : {}) });
      if (!willRetry) return { error, interrupted: false, lastFailure, attempts };
      if (!(await pause(decision.delayMs, signal))) return { error, interrupted: true, lastFailure, attempts };
    }
  }

  async #runForever(job: WorkJob, signals: ShutdownSignals): Promise<void> {
    const signal = signals.stop;
    const backoff = new ClassifiedBackoff(this.#baseline);
    const wake = new WakeUps(job.wake);
    try {
      while (!signal.aborted) {
        const started = this.#now();
        wake.clear();
        const error = await this.#pass(job, signals);
        if (signal.aborted) return;
        if (error === undefined) {
          backoff.reset();
          // News that came during the pass, or during the wait, starts the next pass at once.
          await wake.pause(Math.max(0, job.interval - (this.#now() - started)), signal);
          continue;
        }
      // A worker never dies: unknown (and permanent) failures are retried slowly
      // and loudly, like a container's restart: always.
        const decision = backoff.next(error);
        // A pause (the daemon's credential or configuration) is known and shown elsewhere: not degraded.
        const degraded = decision.kind !== 'node' && decision.kind !== 'service' && pauseReasonOf(error) === undefined;
        this.#report(job, error, decision, { degraded, willRetry: true, mode: 'work' });
        // A failed pass waits out its backoff whatever rings: the backoff protects the backend.
        await pause(decision.delayMs, signal);
      }
    } finally {
      wake.close();
    }
  }

  /** One pass; resolves to its error, or undefined on success. */
  async #pass(job: SetupJob | WorkJob, signals: ShutdownSignals): Promise<unknown> {
    const started = this.#now();
    // A draining job finishes what it holds after the stop; the others are aborted by it.
    const drains = 'drains' in job && job.drains === true;
    const run = () => (drains ? (job as WorkJob).run(signals.inFlight, signals.stop) : job.run(signals.stop));
    try {
      await (this.options.around ? this.options.around(job, run) : run());
      this.options.observer?.passSucceeded?.(job, this.#now() - started);
      return undefined;
    } catch (error) {
      return error ?? new Error('pass failed without an error');
    }
  }

  #report(
    job: SetupJob | WorkJob,
    error: unknown,
    decision: RetryDecision,
    context: { degraded: boolean; willRetry: boolean; mode: 'setup' | 'once' | 'work'; attempt?: { number: number; of?: number } },
  ): void {
    this.options.observer?.passFailed?.(job, error, { ...decision, degraded: context.degraded, willRetry: context.willRetry });
    const cause = describeError(error);
    const fields = {
      job: job.name,
      ...(job.repository ? { repository: fullName(job.repository) } : {}),
      classification: decision.kind,
      error: cause,
      ...(context.attempt ? { attempt: context.attempt.number } : {}),
      ...(context.willRetry ? { retryInMs: decision.delayMs } : {}),
    };
    // Words an operator knows (network, server busy) and the cause, in the
    // message itself: terminal lines show no fields. The job is in the fields
    // (and leads every terminal line), so the message does not repeat it.
    const failed = context.attempt
      ? `attempt ${context.attempt.number}${context.attempt.of ? ` of ${context.attempt.of}` : ''} failed (${KIND_WORDS[decision.kind]})`
      : decision.kind === 'unknown'
        ? 'failed with an unrecognised error'
        : `failed (${KIND_WORDS[decision.kind]})`;
    const wait = formatWait(decision.delayMs);
    const paused = pauseReasonOf(error);
    if (context.willRetry && paused !== undefined) {
      this.#log.warn(fields, `paused (${paused}); trying again in ${wait}: ${cause}`);
    } else if (!context.willRetry) {
      this.#log.error(fields, `${failed}; not retrying${context.mode === 'setup' ? ' in setup' : ''}: ${cause}`);
    } else if (context.degraded) {
      this.#log.error(fields, `${failed}; degraded, retrying in ${wait}: ${cause}`);
    } else {
      this.#log.warn(fields, `${failed}; retrying in ${wait}${decision.hinted ? ' as the server asked' : ''}: ${cause}`);
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
