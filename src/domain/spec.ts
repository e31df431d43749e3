/**
 * Task specs: what to do and how often — nothing about retry, rate limits or
 * how many repositories exist. The registry (src/schedule/registry.ts) says
 * which phase each runs in; the planner multiplies them by repositories.
 */
import type { Partition, RepositoryRef } from './entities.js';

/** A one-shot preflight, run once per configured repository before any worker starts. */
export interface RepositorySetupSpec {
  readonly resource: string;
  run(signal: AbortSignal, repository: RepositoryRef): Promise<void>;
}

/** A worker run for each repository, every `interval` milliseconds. */
export interface RepositoryWorkerSpec {
  readonly resource: string;
  readonly interval: number;
  work(signal: AbortSignal, partition: Partition): Promise<void>;
}

/**
 * Says "there is work now", so that a worker need not wait out its interval:
 * the poller rings the dispatcher's when it queues jobs.
 */
export interface WakeSource {
  /** Calls `listener` at each wake-up; returns the function that unsubscribes it. */
  subscribe(listener: () => void): () => void;
}

/** A worker run once for the whole daemon, every `interval` milliseconds. */
export interface GlobalWorkerSpec {
  readonly resource: string;
  readonly interval: number;
  /** Runs the next pass at once, not after `interval`, when this rings. Default: none. */
  readonly wake?: WakeSource;
  /**
   * Whether work in flight may finish within the shutdown grace. Then `work`
   * gets two signals: `signal` aborts work in flight (the grace ran out),
   * `stopping` says to take no new work. Default false: shutdown aborts
   * `signal` at once and `stopping` is the same signal.
   */
  readonly drains?: boolean;
  /**
   * Finds repositories that changed and nudges their walks (an organisation's
   * issue stream, a sweep). In --once mode it runs before the walks, so that
   * what it found is walked in the same run; otherwise it is an ordinary
   * worker. Default false.
   */
  readonly detects?: boolean;
  work(signal: AbortSignal, stopping?: AbortSignal): Promise<void>;
}
