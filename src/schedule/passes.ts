/**
 * One pass of a job, and what the scheduler does when it fails: shared by the
 * scheduler's own loops and the walk runner, so that a repository walked by
 * either is retried, logged and observed the same way.
 */
import { fullName } from '../domain/entities.js';
import { describeError, pauseReasonOf } from '../domain/failure.js';
import type { Log } from '../domain/ports.js';
import type { SetupJob, WorkJob } from './planner.js';
import { ClassifiedBackoff, formatWait, KIND_WORDS, pause, type RetryBaseline, type RetryDecision } from './retry.js';

/** What the scheduler reports as it goes (metrics, status, progress). */
export interface SchedulerObserver {
  passSucceeded?(job: WorkJob | SetupJob, durationMs: number): void;
  passFailed?(job: WorkJob | SetupJob, error: unknown, decision: RetryDecision & { degraded: boolean; willRetry: boolean }): void;
}

/** Stop taking work; abort the work in flight (after the shutdown grace). */
export interface ShutdownSignals {
  readonly stop: AbortSignal;
  readonly inFlight: AbortSignal;
}

/** How one job's retries within the budget ended. */
export interface Outcome {
  /** The final error; undefined on success. */
  readonly error?: unknown;
  /** The signal cut the job short (setup budget or shutdown): it never finished. */
  readonly interrupted: boolean;
  /** The latest failed pass, if any. */
  readonly lastFailure?: unknown;
  /** Passes started. */
  readonly attempts: number;
}

export interface PassesOptions {
  readonly log: Log;
  readonly baseline: RetryBaseline;
  readonly now: () => number;
  /** How long a job may retry network and server-busy failures in setup and --once mode. */
  readonly retryBudgetMs: number;
  /** Attempts a preflight gets when the network fails. */
  readonly setupNetworkAttempts: number;
  readonly observer?: SchedulerObserver;
  /** Runs a pass inside a context (the logging context of the job). */
  readonly around?: <T>(job: WorkJob | SetupJob, pass: () => Promise<T>) => Promise<T>;
}

type Mode = 'setup' | 'once' | 'work';

export class Passes {
  constructor(private readonly options: PassesOptions) {}

  get baseline(): RetryBaseline {
    return this.options.baseline;
  }

  now(): number {
    return this.options.now();
  }

  /** One pass; resolves to its error, or undefined on success. Never rejects. */
  async pass(job: SetupJob | WorkJob, signals: ShutdownSignals): Promise<unknown> {
    const started = this.options.now();
    // A draining job finishes what it holds after the stop; the others are aborted by it.
    const drains = 'drains' in job && job.drains === true;
    const run = () => (drains ? (job as WorkJob).run(signals.inFlight, signals.stop) : job.run(signals.stop));
    try {
      await (this.options.around ? this.options.around(job, run) : run());
      this.options.observer?.passSucceeded?.(job, this.options.now() - started);
      return undefined;
    } catch (error) {
      return error ?? new Error('pass failed without an error');
    }
  }

  /** Retries network/server-busy failures within the budget (network ones in setup a few times only). */
  async runUntilDone(job: SetupJob | WorkJob, signals: ShutdownSignals, mode: 'setup' | 'once'): Promise<Outcome> {
    const signal = signals.stop;
    const backoff = new ClassifiedBackoff(this.options.baseline);
    const deadline = this.options.now() + this.options.retryBudgetMs;
    const networkAttempts = this.options.setupNetworkAttempts;
    let attempts = 0;
    let networkFailures = 0;
    let lastFailure: unknown;
    for (;;) {
      attempts++;
      const error = await this.pass(job, signals);
      if (error === undefined) return { interrupted: false, attempts };
      if (signal.aborted) return { error, interrupted: true, lastFailure, attempts };
      lastFailure = error;
      const decision = backoff.next(error);
      if (decision.kind === 'node') networkFailures++;
      const networkLimited = mode === 'setup' && decision.kind === 'node';
      const retryable = decision.kind === 'node' || decision.kind === 'service';
      const willRetry = retryable && !(networkLimited && networkFailures >= networkAttempts) && this.options.now() + decision.delayMs <= deadline;
      const attempt = mode === 'setup' ? { number: attempts, ...(networkLimited ? { of: networkAttempts } : {}) } : undefined;
      this.report(job, error, decision, { degraded: false, willRetry, mode, ...(attempt ? { attempt } : {}) });
      if (!willRetry) return { error, interrupted: false, lastFailure, attempts };
      if (!(await pause(decision.delayMs, signal))) return { error, interrupted: true, lastFailure, attempts };
    }
  }

  /**
   * A failed pass of a work job that runs until shutdown: how long to wait
   * before the next one. A worker never dies: unknown (and permanent) failures
   * are retried slowly and loudly, like a container's restart: always.
   */
  failedInWork(job: WorkJob, backoff: ClassifiedBackoff, error: unknown): number {
    const decision = backoff.next(error);
    // A pause (the daemon's credential or configuration) is known and shown elsewhere: not degraded.
    const degraded = decision.kind !== 'node' && decision.kind !== 'service' && pauseReasonOf(error) === undefined;
    this.report(job, error, decision, { degraded, willRetry: true, mode: 'work' });
    return decision.delayMs;
  }

  report(
    job: SetupJob | WorkJob,
    error: unknown,
    decision: RetryDecision,
    context: { degraded: boolean; willRetry: boolean; mode: Mode; attempt?: { number: number; of?: number } },
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
      this.options.log.warn(fields, `paused (${paused}); trying again in ${wait}: ${cause}`);
    } else if (!context.willRetry) {
      this.options.log.error(fields, `${failed}; not retrying${context.mode === 'setup' ? ' in setup' : ''}: ${cause}`);
    } else if (context.degraded) {
      this.options.log.error(fields, `${failed}; degraded, retrying in ${wait}: ${cause}`);
    } else {
      this.options.log.warn(fields, `${failed}; retrying in ${wait}${decision.hinted ? ' as the server asked' : ''}: ${cause}`);
    }
  }
}
