/**
 * The dispatcher's error path: whose failure was it, and what does it cost
 * (docs/architecture.md, "Every failure has an owner").
 *
 * - The daemon's (a refused token, a missing permission, a model the backend
 *   does not have): the job goes back without spending an attempt and the
 *   dispatcher pauses: it records why (status, readiness, dashboard, metrics),
 *   stops claiming, and the scheduler retries the pass after its backoff. The
 *   pause clears when a job goes the whole way again, or a pass ends without it.
 * - The backend unavailable (transport failed, 5xx, 429): the job goes back
 *   without spending an attempt, with the cause as its last error, and the
 *   dispatcher pauses (`unavailable`) and backs off: a dead model server must
 *   not look healthy. The pause clears like the others. Except when the
 *   backend keeps answering other jobs while failing this one: then it is this
 *   job's trouble, the release is counted, the dispatcher carries on with the
 *   others, and after MAX_RELEASES the job is dead with the reason.
 * - The job's own (exit 1, timeout, a 4xx): an attempt is spent.
 */
import { describeError, failureKindOf, isRetryable, pauseReasonOf, type PauseReason } from '../../failure.js';
import type { DispatchObserver, DispatchQueue, Log, QueueJob } from '../../ports.js';

/** Counted releases (the backend failed on this job alone) before the job is dead. */
export const MAX_RELEASES = 10;

/** Why the dispatcher stopped claiming; shown until it clears. */
export interface DispatcherPause {
  readonly reason: PauseReason;
  /** What failed and what to do. Adapters keep secrets out of their messages. */
  readonly message: string;
  /** ISO 8601: when the pause began. */
  readonly since: string;
}

/** Where the pause is recorded, so that status, readiness, the dashboard and metrics show it. */
export interface PauseRecorder {
  /** `null`: not paused (any earlier record is cleared). Resolves to the pause recorded before, if any (an earlier process's too). */
  record(pause: DispatcherPause | null): Promise<DispatcherPause | null>;
}

export interface DispatchFailureDeps {
  readonly queue: DispatchQueue;
  readonly log: Log;
  readonly observer?: DispatchObserver;
  readonly pauses?: PauseRecorder;
  readonly now?: () => Date;
}

/** Outcomes that prove the whole path works: the executor answered and GitHub took (or would take) the comment. */
const WENT_THROUGH = new Set(['answered', 'revised', 'dry-run']);

/** One per dispatcher: what it has learned about the backend so far, in this process. */
export class DispatchFailures {
  #pause: DispatcherPause | undefined;
  /** A previous process may have left a pause recorded: the first clear writes regardless. */
  #recordMayBeStale = true;
  /** A job went through since the last look (set by the observer, read after the job). */
  #wentThrough = false;
  #everWentThrough = false;
  /** Transport failed since the last job that went through: the backend is down, not one job. */
  #backendDown = false;
  /** Jobs that failed with a 5xx/429 since the last job that went through. */
  readonly #failing = new Set<number>();
  readonly #now: () => Date;

  constructor(private readonly deps: DispatchFailureDeps) {
    this.#now = deps.now ?? (() => new Date());
  }

  /** The observer the dispatcher reports to: the given one, plus noticing jobs that went through. */
  watching(inner: DispatchObserver | undefined): DispatchObserver {
    return {
      ...inner,
      jobSettled: (info) => {
        if (WENT_THROUGH.has(info.outcome)) this.#wentThrough = true;
        inner?.jobSettled?.(info);
      },
    };
  }

  /** A job was handled without an error. */
  async succeeded(): Promise<void> {
    if (!this.#wentThrough) return;
    this.#wentThrough = false;
    this.#everWentThrough = true;
    this.#backendDown = false;
    this.#failing.clear();
    await this.#resume();
  }

  /**
   * Settles a failed job (not an abort). Returns the error when the dispatcher
   * must stop claiming for this pass, undefined when it may carry on.
   */
  async failed(job: QueueJob, where: { readonly repository: string; readonly issue: number }, error: unknown): Promise<unknown> {
    const { queue, log } = this.deps;
    const reason = pauseReasonOf(error);
    if (reason !== undefined) {
      await queue.release(job, 0, describeError(error));
      await this.#paused(reason, error);
      return error;
    }
    if (isRetryable(error)) return this.#backendFailed(job, where, error);
    const state = await queue.fail(job, describeError(error));
    const message = state === 'dead' ? `dead after ${job.attempts} attempts` : `attempt ${job.attempts} of ${job.maxAttempts} failed; will retry`;
    log.error({ ...where, attempts: job.attempts, error: describeError(error) }, `${where.repository}#${where.issue}: ${message}`);
    if (state === 'dead') this.deps.observer?.jobSettled?.({ repository: where.repository, number: where.issue, outcome: 'dead', type: job.type });
    return undefined;
  }

  /** A pass ended; `stoppedBy` is what made it stop claiming, if anything. */
  async passEnded(stoppedBy: unknown): Promise<void> {
    // The backend failed every job: its pause stands, unless a job went through since (which cleared it).
    if (stoppedBy !== undefined && pauseReasonOf(stoppedBy) === undefined && isRetryable(stoppedBy)) return;
    const reason = pauseReasonOf(stoppedBy);
    if (reason === undefined) await this.#resume();
    // Another worker's job went through after the pause was recorded: the pass still stopped for it.
    else if (this.#pause === undefined) await this.#paused(reason, stoppedBy);
  }

  async #backendFailed(job: QueueJob, where: { readonly repository: string; readonly issue: number }, error: unknown): Promise<unknown> {
    const { queue, log } = this.deps;
    const described = describeError(error);
    if (failureKindOf(error) === 'node') this.#backendDown = true;
    else this.#failing.add(job.id);
    // Only this job fails while the backend answers others: its own trouble.
    const alone = this.#everWentThrough && !this.#backendDown && this.#failing.size === 1;
    if (!alone) {
      await queue.release(job, 0, described);
      log.warn({ ...where, error: described }, `${where.repository}#${where.issue}: backend unavailable; job returned to the queue without spending an attempt`);
      await this.#paused('unavailable', error);
      return error;
    }
    const { state, releases } = await queue.releaseCounted(
      job,
      `the backend failed on this issue while it answered others (dead after ${MAX_RELEASES} such releases): ${described}`,
      MAX_RELEASES,
    );
    if (state === 'dead') {
      log.error(
        { ...where, releases, error: described },
        `${where.repository}#${where.issue}: dead after ${releases} releases: the backend kept failing on this issue while it answered others (${described}); \`autosolve jobs retry\` brings it back`,
      );
      this.deps.observer?.jobSettled?.({ repository: where.repository, number: where.issue, outcome: 'dead', type: job.type });
    } else {
      log.warn({ ...where, releases, error: described }, `${where.repository}#${where.issue}: the backend failed on this issue alone (release ${releases} of ${MAX_RELEASES}); carrying on with the others`);
    }
    return undefined;
  }

  async #paused(reason: PauseReason, error: unknown): Promise<void> {
    const message = describeError(error);
    const previous = this.#pause;
    if (previous?.reason === reason && previous.message === message) {
      this.deps.log.warn({ reason, error: message }, `dispatcher still paused (${reason}): ${message}`);
      return;
    }
    this.#pause = { reason, message, since: previous?.since ?? this.#now().toISOString() };
    this.#recordMayBeStale = false;
    await this.deps.pauses?.record(this.#pause);
    this.deps.log.error(
      { reason, error: message },
      `dispatcher paused (${reason}): ${message}; no attempt is spent, queued jobs wait, and the dispatcher retries with backoff until it clears`,
    );
  }

  async #resume(): Promise<void> {
    const previous = this.#pause;
    if (previous === undefined && !this.#recordMayBeStale) return;
    this.#pause = undefined;
    this.#recordMayBeStale = false;
    const recorded = (await this.deps.pauses?.record(null)) ?? previous;
    if (recorded) this.deps.log.info({ reason: recorded.reason, since: recorded.since }, `dispatcher resumed: the ${recorded.reason} failure that paused it since ${recorded.since} has cleared`);
  }
}
