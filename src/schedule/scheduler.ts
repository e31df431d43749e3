/**
 * The two-phase scheduler. Setup runs every preflight concurrently and all must
 * pass; work runs each worker immediately, then every interval, never
 * overlapping a job with itself, and applies the retry baseline — here and
 * nowhere else.
 */
import { fullName } from '../domain/entities.js';
import { describeError } from '../domain/failure.js';
import type { Log } from '../domain/ports.js';
import type { SetupJob, WorkJob } from './planner.js';
import { ClassifiedBackoff, DEFAULT_BASELINE, pause, type RetryBaseline, type RetryDecision } from './retry.js';

/** One or more preflights failed; no worker started. */
export class SetupFailedError extends Error {
  readonly failures: ReadonlyArray<{ readonly job: string; readonly repository: string; readonly reason: string }>;
  constructor(failures: SetupFailedError['failures'], total: number) {
    const lines = failures.map((f) => `  - ${f.repository}: ${f.reason}`).join('\n');
    super(`setup failed for ${failures.length} of ${total} repositories; no worker was started:\n${lines}`);
    this.name = 'SetupFailedError';
    this.failures = failures;
  }
}

/** What the scheduler reports as it goes (metrics, status, progress). */
export interface SchedulerObserver {
  passSucceeded?(job: WorkJob | SetupJob, durationMs: number): void;
  passFailed?(job: WorkJob | SetupJob, error: unknown, decision: RetryDecision & { degraded: boolean; willRetry: boolean }): void;
}

export interface SchedulerOptions {
  readonly log: Log;
  /** How long preflights (and passes in --once mode) may retry node/service failures. */
  readonly retryBudgetMs: number;
  readonly baseline?: RetryBaseline;
  readonly observer?: SchedulerObserver;
  /** Runs a pass inside a context (the logging context of the job). */
  readonly around?: <T>(job: WorkJob | SetupJob, pass: () => Promise<T>) => Promise<T>;
  readonly now?: () => number;
}

export interface WorkSummary {
  /** Jobs whose pass failed for good (--once only). */
  readonly failed: readonly string[];
}

export class Scheduler {
  readonly #log: Log;
  readonly #baseline: RetryBaseline;
  readonly #now: () => number;

  constructor(private readonly options: SchedulerOptions) {
    this.#log = options.log;
    this.#baseline = options.baseline ?? DEFAULT_BASELINE;
    this.#now = options.now ?? Date.now;
  }

  /** Phase 1: every preflight, concurrently. Throws SetupFailedError naming every failure. */
  async setup(jobs: readonly SetupJob[], signal: AbortSignal): Promise<void> {
    const results = await Promise.all(jobs.map((job) => this.#runUntilDone(job, signal, 'setup')));
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('shut down during setup');
    const failures = jobs.flatMap((job, index) => {
      const error = results[index];
      return error === undefined ? [] : [{ job: job.name, repository: fullName(job.repository), reason: describeError(error) }];
    });
    // Several preflights may run per repository: count repositories, not jobs.
    if (failures.length > 0) throw new SetupFailedError(failures, new Set(jobs.map((job) => fullName(job.repository))).size);
  }

  /**
   * Phase 2. With `once`, one successful pass per job: repository workers first
   * (they produce the queue), then global workers (they drain it). Without it,
   * every job runs until the signal aborts.
   */
  async work(jobs: readonly WorkJob[], signal: AbortSignal, { once }: { once: boolean }): Promise<WorkSummary> {
    if (!once) {
      await Promise.all(jobs.map((job) => this.#runForever(job, signal)));
      return { failed: [] };
    }
    const failed: string[] = [];
    for (const scope of ['repository', 'global'] as const) {
      const stage = jobs.filter((job) => job.scope === scope);
      const errors = await Promise.all(stage.map((job) => this.#runUntilDone(job, signal, 'once')));
      stage.forEach((job, index) => {
        if (errors[index] !== undefined) failed.push(job.name);
      });
    }
    return { failed };
  }

  /** Retries node/service failures within the budget; returns the final error, or undefined on success. */
  async #runUntilDone(job: SetupJob | WorkJob, signal: AbortSignal, mode: 'setup' | 'once'): Promise<unknown> {
    const backoff = new ClassifiedBackoff(this.#baseline);
    const deadline = this.#now() + this.options.retryBudgetMs;
    for (;;) {
      const error = await this.#pass(job, signal);
      if (error === undefined || signal.aborted) return error;
      const decision = backoff.next(error);
      const retryable = decision.kind === 'node' || decision.kind === 'service';
      const willRetry = retryable && this.#now() + decision.delayMs <= deadline;
      this.#report(job, error, decision, { degraded: false, willRetry, mode });
      if (!willRetry) return error;
      if (!(await pause(decision.delayMs, signal))) return error;
    }
  }

  async #runForever(job: WorkJob, signal: AbortSignal): Promise<void> {
    const backoff = new ClassifiedBackoff(this.#baseline);
    while (!signal.aborted) {
      const started = this.#now();
      const error = await this.#pass(job, signal);
      if (signal.aborted) return;
      if (error === undefined) {
        backoff.reset();
        await pause(Math.max(0, job.interval - (this.#now() - started)), signal);
        continue;
      }
      // A worker never dies: unknown (and permanent) failures are retried slowly
      // and loudly, like a container's restart: always.
      const decision = backoff.next(error);
      const degraded = decision.kind !== 'node' && decision.kind !== 'service';
      this.#report(job, error, decision, { degraded, willRetry: true, mode: 'work' });
      await pause(decision.delayMs, signal);
    }
  }

  /** One pass; resolves to its error, or undefined on success. */
  async #pass(job: SetupJob | WorkJob, signal: AbortSignal): Promise<unknown> {
    const started = this.#now();
    const run = () => job.run(signal);
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
    context: { degraded: boolean; willRetry: boolean; mode: 'setup' | 'once' | 'work' },
  ): void {
    this.options.observer?.passFailed?.(job, error, { ...decision, degraded: context.degraded, willRetry: context.willRetry });
    const fields = {
      job: job.name,
      ...(job.repository ? { repository: fullName(job.repository) } : {}),
      classification: decision.kind,
      error: describeError(error),
      ...(context.willRetry ? { retryInMs: decision.delayMs } : {}),
    };
    const wait = `${Math.round(decision.delayMs / 100) / 10}s`;
    if (!context.willRetry) {
      this.#log.error(fields, `${job.name} failed (${decision.kind}); not retrying${context.mode === 'setup' ? ' in setup' : ''}`);
    } else if (context.degraded) {
      this.#log.error(fields, `${job.name} failed with an unrecognised error; degraded, retrying in ${wait}`);
    } else {
      const why = decision.hinted ? 'as the server asked' : decision.kind === 'node' ? 'transport failure' : 'service under pressure';
      this.#log.warn(fields, `${job.name} failed (${decision.kind}); retrying in ${wait} (${why})`);
    }
  }
}
