/**
 * The daemon's Prometheus metrics. They live in a registry of their own (never
 * prom-client's global one), so two daemons in one process — tests, the demo —
 * never count into each other. Nothing here is pushed: the other layers report
 * through the observer interfaces they already declare, and this class turns
 * those reports into counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DispatchObserver } from '../../domain/ports.js';
import type { GitHubTelemetry } from '../github/index.js';
import type { SchedulerObserver } from '../../schedule/scheduler.js';
import { QUEUE_JOB_STATES, type QueueJobState } from '../../domain/ports.js';
import { PAUSE_REASONS, type PauseReason } from '../../domain/failure.js';
import { CAPACITY_BOUNDS, type Capacity } from '../../domain/fleet/capacity.js';
import { DETECTION_PATHS } from '../../domain/fleet/types.js';

export type PollOutcome = 'changed' | 'not_modified' | 'error';

/** A comment poller's pass: `held` when a mention on an issue not stored yet held the walk back. */
export type CommentPollOutcome = 'changed' | 'not_modified' | 'held' | 'error';

/** The type label of a settled job whose reporter did not say it. */
const UNKNOWN_TYPE = 'unknown';

export type QueueState = QueueJobState;

export interface DaemonMetricsOptions {
  /** Queue jobs by state, read at scrape time (the queue is the truth, not a running tally). Required. */
  queueCounts: () => Promise<Record<QueueState, number>>;
  /**
   * Told when `queueCounts` fails during a scrape. The scrape still succeeds
   * without the queue_jobs series, so one bad read never hides every other
   * metric. Default: ignore (the failure is still counted).
   */
  onCollectError?: (error: unknown) => void;
  /**
   * The repositories (`owner/name`, github.repositories) that get series of
   * their own in polls_total, comment_polls_total and comments_posted_total. Any other one — a
   * discovered repository — is counted under its owner, `acme/*`, as are the
   * organisation's stream passes: 10,000 discovered repositories make one
   * series per organisation and outcome, not 10,000. Default: every
   * repository its own series.
   */
  ownSeries?: readonly string[];
}

const PREFIX = 'autosolve_';

/** From a 0.1 s local summary to a 10 min model run. */
const EXECUTOR_BUCKETS_SECONDS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * GitHub has a budget per resource (core, search, graphql); the daemon only
 * spends `core`, and mixing them would make the gauges jump between budgets.
 */
const TRACKED_RATE_LIMIT_RESOURCE = 'core';

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly contentType: string = this.registry.contentType;

  readonly #polls: Counter<'repository' | 'outcome'>;
  readonly #commentPolls: Counter<'repository' | 'outcome'>;
  readonly #githubRequests: Counter<'method' | 'status'>;
  readonly #notModified: Counter;
  readonly #notModifiedRatio: Gauge;
  readonly #rateLimitRemaining: Gauge;
  readonly #rateLimitLimit: Gauge;
  readonly #rateLimitReset: Gauge;
  readonly #rateLimitWaits: Counter<'reason'>;
  readonly #rateLimitWaitSeconds: Counter<'reason'>;
  readonly #passes: Counter<'job_resource' | 'outcome'>;
  readonly #degradedRetries: Counter<'job_resource'>;
  readonly #retries: Counter<'job_resource' | 'classification'>;
  readonly #executorDuration: Histogram<'outcome'>;
  readonly #commentsPosted: Counter<'repository'>;
  readonly #jobsSettled: Counter<'outcome'>;
  readonly #jobsSettledByType: Counter<'type' | 'outcome'>;
  readonly #dispatcherPaused: Gauge<'reason'>;
  readonly #fleetMembers: Gauge<'path'>;
  readonly #projectedLatency: Gauge<'path'>;
  readonly #detectionBound: Gauge<'path' | 'bound'>;

  /** Lower-case names with series of their own; undefined: every repository. */
  readonly #ownSeries: ReadonlySet<string> | undefined;

  /** GET responses and 304s so far, for the ratio gauge. */
  #getResponses = 0;
  #notModifiedResponses = 0;

  constructor(options: DaemonMetricsOptions) {
    const registers = [this.registry];
    this.#ownSeries = options.ownSeries && new Set(options.ownSeries.map((name) => name.toLowerCase()));
    collectDefaultMetrics({ register: this.registry });

    this.#polls = new Counter({
      name: `${PREFIX}polls_total`,
      help: 'Issue polls by repository and outcome (changed, not_modified, error); discovered repositories and organisation streams as `org/*`.',
      labelNames: ['repository', 'outcome'],
      registers,
    });
    // Apart from polls_total: a comment pass is another request with its own outcomes, and sums over polls_total stay issue polls.
    this.#commentPolls = new Counter({
      name: `${PREFIX}comment_polls_total`,
      help: 'Comment polls (a repository\'s comment listing, where mentions are found) by repository and outcome (changed, not_modified, held, error); discovered repositories as `org/*`.',
      labelNames: ['repository', 'outcome'],
      registers,
    });

    this.#githubRequests = new Counter({
      name: `${PREFIX}github_requests_total`,
      help: 'GitHub API responses by method and HTTP status.',
      labelNames: ['method', 'status'],
      registers,
    });
    this.#notModified = new Counter({
      name: `${PREFIX}github_not_modified_total`,
      help: 'GitHub 304 Not Modified responses (free of the rate-limit budget).',
      registers,
    });
    this.#notModifiedRatio = new Gauge({
      name: `${PREFIX}github_not_modified_ratio`,
      help: 'Share of GitHub GET responses that were 304 Not Modified, since start.',
      registers,
    });
    this.#rateLimitRemaining = new Gauge({
      name: `${PREFIX}github_rate_limit_remaining`,
      help: 'Requests left in the core rate-limit window, as GitHub last reported.',
      registers,
    });
    this.#rateLimitLimit = new Gauge({
      name: `${PREFIX}github_rate_limit_limit`,
      help: 'Size of the core rate-limit window, as GitHub last reported.',
      registers,
    });
    this.#rateLimitReset = new Gauge({
      name: `${PREFIX}github_rate_limit_reset_seconds`,
      help: 'When the core rate-limit window resets, in Unix epoch seconds.',
      registers,
    });
    this.#rateLimitWaits = new Counter({
      name: `${PREFIX}github_rate_limit_waits_total`,
      help: 'Times a GitHub request was held by the throttle, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.#rateLimitWaitSeconds = new Counter({
      name: `${PREFIX}github_rate_limit_wait_seconds_total`,
      help: 'Time GitHub requests were scheduled to be held by the throttle, by reason.',
      labelNames: ['reason'],
      registers,
    });

    this.#passes = new Counter({
      name: `${PREFIX}scheduler_passes_total`,
      help: 'Scheduler passes by job resource and outcome (ok, error).',
      labelNames: ['job_resource', 'outcome'],
      registers,
    });
    this.#degradedRetries = new Counter({
      name: `${PREFIX}scheduler_degraded_retries_total`,
      help: 'Retries after failures nobody recognised (slow, loud backoff), by job resource.',
      labelNames: ['job_resource'],
      registers,
    });
    this.#retries = new Counter({
      name: `${PREFIX}scheduler_retries_total`,
      help: 'Retries the scheduler scheduled after a failed pass, by job resource and error classification.',
      labelNames: ['job_resource', 'classification'],
      registers,
    });

    this.#executorDuration = new Histogram({
      name: `${PREFIX}executor_duration_seconds`,
      help: 'How long the AI executor took per issue, by outcome (ok, error).',
      labelNames: ['outcome'],
      buckets: EXECUTOR_BUCKETS_SECONDS,
      registers,
    });
    this.#commentsPosted = new Counter({
      name: `${PREFIX}comments_posted_total`,
      help: 'Comments posted on GitHub, by repository; discovered repositories as `org/*`.',
      labelNames: ['repository'],
      registers,
    });
    this.#jobsSettled = new Counter({
      name: `${PREFIX}queue_jobs_settled_total`,
      help: 'Queue jobs the dispatcher finished with, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    // The same events as queue_jobs_settled_total, kept with its one label so queries written against it stay right.
    this.#jobsSettledByType = new Counter({
      name: `${PREFIX}queue_jobs_settled_by_type_total`,
      help: 'Queue jobs the dispatcher finished with, by type (answer, revise, follow-up) and outcome (answered, revised, current, skipped, ...).',
      labelNames: ['type', 'outcome'],
      registers,
    });

    this.#dispatcherPaused = new Gauge({
      name: `${PREFIX}dispatcher_paused`,
      help: '1 while the dispatcher is paused by a failure of the daemon, not of a job (credential, permission, configuration, or the backend unavailable for every job), by reason; else 0.',
      labelNames: ['reason'],
      registers,
    });
    this.dispatcherPaused(null);

    this.#fleetMembers = new Gauge({
      name: `${PREFIX}fleet_repositories`,
      help: 'Repositories watched, by detection path (walk, stream, sweep).',
      labelNames: ['path'],
      registers,
    });
    this.#projectedLatency = new Gauge({
      name: `${PREFIX}detection_latency_projected_seconds`,
      help: 'Projected p95 time from an issue update to its job being queued, by detection path, inside the budgets.',
      labelNames: ['path'],
      registers,
    });
    this.#detectionBound = new Gauge({
      name: `${PREFIX}detection_bound`,
      help: '1 for what bounds each detection path\'s interval (interval: the configuration; otherwise the budget that stretched it), else 0.',
      labelNames: ['path', 'bound'],
      registers,
    });

    const { queueCounts, onCollectError } = options;
    // The read of the current scrape; the error counter waits for it so that
    // the scrape that failed already shows the failure.
    let queueRead: Promise<void> = Promise.resolve();
    new Gauge({
      name: `${PREFIX}queue_jobs`,
      help: 'Queue jobs by state (pending, running, done, dead), read at scrape time.',
      labelNames: ['state'],
      registers,
      collect() {
        // Series left from an earlier scrape would look current when this read fails.
        this.reset();
        queueRead = Promise.resolve().then(queueCounts).then(
          (counts) => {
            for (const state of QUEUE_JOB_STATES) this.set({ state }, counts[state]);
          },
          (error: unknown) => {
            collectErrors.inc();
            onCollectError?.(error);
          },
        );
        return queueRead;
      },
    });
    // Registered after the gauge: the registry starts collecting in registration order.
    const collectErrors = new Counter({
      name: `${PREFIX}queue_jobs_collect_errors_total`,
      help: 'Scrapes where the queue could not be read (autosolve_queue_jobs was left out).',
      registers,
      collect: () => queueRead,
    });
  }

  /** The poller's bookkeeping reports every poll here; a stream pass as `org/*`. */
  pollFinished(repository: string, outcome: PollOutcome): void {
    this.#polls.inc({ repository: this.#repositoryLabel(repository), outcome });
  }

  /** The comment poller's bookkeeping reports every pass here. */
  commentPollFinished(repository: string, outcome: CommentPollOutcome): void {
    this.#commentPolls.inc({ repository: this.#repositoryLabel(repository), outcome });
  }

  /** A repository with series of its own keeps its name; any other is counted under `owner/*`. */
  #repositoryLabel(repository: string): string {
    if (this.#ownSeries === undefined || this.#ownSeries.has(repository.toLowerCase())) return repository;
    const slash = repository.indexOf('/');
    return `${(slash < 0 ? repository : repository.slice(0, slash)).toLowerCase()}/*`;
  }

  /** Pass to GitHubClient's `telemetry` option. */
  githubTelemetry(): GitHubTelemetry {
    return {
      onResponse: ({ method, status, notModified }) => {
        this.#githubRequests.inc({ method: method.toUpperCase(), status: String(status) });
        if (notModified) {
          this.#notModified.inc();
          this.#notModifiedResponses++;
        }
        if (method.toUpperCase() === 'GET') this.#getResponses++;
        if (this.#getResponses > 0) this.#notModifiedRatio.set(this.#notModifiedResponses / this.#getResponses);
      },
      onRateLimit: ({ limit, remaining, resetAt, resource }) => {
        if (resource !== TRACKED_RATE_LIMIT_RESOURCE) return;
        this.#rateLimitLimit.set(limit);
        this.#rateLimitRemaining.set(remaining);
        this.#rateLimitReset.set(resetAt);
      },
      onWait: ({ reason, waitMs }) => {
        this.#rateLimitWaits.inc({ reason });
        this.#rateLimitWaitSeconds.inc({ reason }, waitMs / 1000);
      },
    };
  }

  /** Pass to the Scheduler's `observer` option. */
  schedulerObserver(): SchedulerObserver {
    return {
      passSucceeded: (job) => {
        this.#passes.inc({ job_resource: job.resource, outcome: 'ok' });
      },
      passFailed: (job, _error, decision) => {
        this.#passes.inc({ job_resource: job.resource, outcome: 'error' });
        if (!decision.willRetry) return;
        this.#retries.inc({ job_resource: job.resource, classification: decision.kind });
        if (decision.degraded) this.#degradedRetries.inc({ job_resource: job.resource });
      },
    };
  }

  /** Pass to the dispatcher. */
  dispatchObserver(): DispatchObserver {
    return {
      executorFinished: ({ durationMs, ok }) => {
        this.#executorDuration.observe({ outcome: ok ? 'ok' : 'error' }, durationMs / 1000);
      },
      commentPosted: ({ repository }) => {
        this.#commentsPosted.inc({ repository: this.#repositoryLabel(repository) });
      },
      jobSettled: ({ outcome, type }) => {
        this.#jobsSettled.inc({ outcome });
        this.#jobsSettledByType.inc({ type: type ?? UNKNOWN_TYPE, outcome });
      },
    };
  }

  /** The dispatcher paused for `reason`, or resumed (`null`). Every reason has a series, so alerts can test for 1. */
  dispatcherPaused(pause: { readonly reason: PauseReason } | null): void {
    for (const reason of PAUSE_REASONS) this.#dispatcherPaused.set({ reason }, pause?.reason === reason ? 1 : 0);
  }

  /** The capacity projection, each time it is made again. */
  fleetProjected(capacity: Capacity): void {
    for (const path of DETECTION_PATHS) {
      const projected = capacity.paths[path];
      this.#fleetMembers.set({ path }, projected.members);
      this.#projectedLatency.set({ path }, projected.latencyMs / 1000);
      for (const bound of CAPACITY_BOUNDS) this.#detectionBound.set({ path, bound }, projected.boundBy === bound ? 1 : 0);
    }
  }

  /** Everything, in the Prometheus text exposition format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
