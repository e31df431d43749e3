/**
 * The stricter budget of content-creating requests (comments): a gap between
 * two writes, caps per minute and per hour below GitHub's 80 and 500, shared
 * with every daemon (and every later run) on the credential through a
 * SharedWriteBudget; and the write check that travels from
 * GitHubClient.createComment to the request hook
 * (docs/decisions/002-github-throttle.md).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The write budget's rules; the shared budget applies the same ones across daemons. */
export interface WriteRules {
  /** Least time between two write starts. */
  readonly minIntervalMs: number;
  /** Most write starts in any 60 s. */
  readonly perMinute: number;
  /** Most write starts in any hour. */
  readonly perHour: number;
}

/**
 * The write budget of a credential as every daemon on it (and every earlier
 * run) spent it, e.g. in the database. One reservation at a time: two
 * daemons never both take the last slot.
 */
export interface SharedWriteBudget {
  /**
   * Counts a write starting at `now` (epoch ms, this machine's clock) and
   * answers 0 when `rules` allow it across every daemon; otherwise counts
   * nothing and answers how long to wait before asking again.
   */
  reserve(now: number, rules: WriteRules): Promise<number>;
  /** A write reserved at `at` was never sent (its check cancelled it): it leaves the budget. */
  withdraw(at: number): Promise<void>;
}

/** Runs once the throttle has admitted a write, right before it is sent; a throw cancels the write. */
export type WriteCheck = (signal: AbortSignal) => Promise<void>;

/**
 * A write check travels in the async context, so the requests in between (and
 * their signatures) need not know about it. While it runs, the context says
 * so: the check's own requests ride on the write's admission.
 */
export type WriteContext = { readonly phase: 'pending'; readonly check: WriteCheck; consumed: boolean } | { readonly phase: 'checking' };
export const writeContext = new AsyncLocalStorage<WriteContext>();

/**
 * Runs `send` so that the first write it makes calls `check` once the
 * throttle has admitted it (write pacing and budget passed, a concurrency
 * slot held), right before it is sent. If `check` throws, the write is not
 * sent, does not count against the budget, and the error propagates.
 */
export function withWriteCheck<T>(check: WriteCheck, send: () => Promise<T>): Promise<T> {
  return writeContext.run({ phase: 'pending', check, consumed: false }, send);
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

export class WriteBudget {
  /** Start times of this process's writes of the last hour, oldest first. */
  private readonly starts: number[] = [];
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  readonly rules: WriteRules;

  constructor(
    rules: WriteRules,
    private readonly shared: SharedWriteBudget | undefined,
  ) {
    this.rules = { ...rules };
  }

  /** How long the next write must still wait for this process's own writes; 0 when it may start. */
  waitMs(now: number): number {
    while (this.starts.length > 0 && (this.starts[0] as number) <= now - HOUR_MS) this.starts.shift();
    let until = this.lastWriteAt + this.rules.minIntervalMs;
    const count = this.starts.length;
    if (count >= this.rules.perMinute) until = Math.max(until, (this.starts[count - this.rules.perMinute] as number) + MINUTE_MS);
    if (count >= this.rules.perHour) until = Math.max(until, (this.starts[count - this.rules.perHour] as number) + HOUR_MS);
    return Math.max(0, until - now);
  }

  /**
   * Asked once this process's own budget let the write through, right before
   * it starts: the shared budget counts it (0) or says how long every
   * daemon's writes hold it. Without one, 0.
   */
  reserve(now: number): Promise<number> {
    return this.shared === undefined ? Promise.resolve(0) : this.shared.reserve(now, this.rules);
  }

  started(at: number): void {
    this.lastWriteAt = at;
    this.starts.push(at);
  }

  /** A write its check cancelled was never sent: it leaves the budget (its pacing gap stays, which only errs on the safe side). */
  async withdraw(at: number): Promise<void> {
    const index = this.starts.lastIndexOf(at);
    if (index >= 0) this.starts.splice(index, 1);
    await this.shared?.withdraw(at);
  }
}
