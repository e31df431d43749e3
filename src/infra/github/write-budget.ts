/**
 * The stricter budget of content-creating requests (comments): a gap between
 * two writes, caps per minute and per hour below GitHub's 80 and 500, kept
 * across restarts through WriteHistory; and the write check that travels from
 * GitHubClient.createComment to the request hook
 * (docs/decisions/002-github-throttle.md).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Where the write budget's recent history outlives the process, so that
 * consecutive `run --once` invocations (cron) share one budget.
 */
export interface WriteHistory {
  /** Start times (epoch ms, this machine's clock) of recent writes, any order. Read once, before the first write. */
  load(): Promise<readonly number[]>;
  /** The start times of the last hour, the newest write included; called before that write is sent. */
  save(starts: readonly number[]): Promise<void>;
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
  /** Start times of the writes of the last hour, oldest first. */
  private readonly starts: number[] = [];
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private historyLoaded = false;
  /** The save in progress; saves run one at a time. */
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly minIntervalMs: number,
    private readonly perMinute: number,
    private readonly perHour: number,
    private readonly history: WriteHistory | undefined,
  ) {}

  /** How long the next write must still wait; 0 when it may start. */
  waitMs(now: number): number {
    while (this.starts.length > 0 && (this.starts[0] as number) <= now - HOUR_MS) this.starts.shift();
    let until = this.lastWriteAt + this.minIntervalMs;
    const count = this.starts.length;
    if (count >= this.perMinute) until = Math.max(until, (this.starts[count - this.perMinute] as number) + MINUTE_MS);
    if (count >= this.perHour) until = Math.max(until, (this.starts[count - this.perHour] as number) + HOUR_MS);
    return Math.max(0, until - now);
  }

  started(at: number): void {
    this.lastWriteAt = at;
    this.starts.push(at);
  }

  /** A write its check cancelled was never sent: it leaves the budget (its pacing gap stays, which only errs on the safe side). */
  withdraw(at: number): void {
    const index = this.starts.lastIndexOf(at);
    if (index >= 0) this.starts.splice(index, 1);
  }

  /** Run in the write lane before the first write: the writes an earlier process made count too. */
  async load(now: () => number): Promise<void> {
    if (this.historyLoaded || this.history === undefined) return;
    const stored = await this.history.load();
    this.historyLoaded = true;
    const at = now();
    // A clock set back since they were saved leaves starts in the future: count them as now.
    const recent = stored.filter((start) => Number.isFinite(start) && start > at - HOUR_MS).map((start) => Math.min(start, at));
    if (recent.length === 0) return;
    this.starts.push(...recent);
    this.starts.sort((a, b) => a - b);
    this.lastWriteAt = Math.max(this.lastWriteAt, ...recent);
  }

  /** Saves the write starts, one save at a time, each with the list as it is when it runs: the last save holds every write. */
  persist(): Promise<void> {
    const history = this.history;
    if (history === undefined) return Promise.resolve();
    const run = this.saving.then(() => history.save([...this.starts]));
    this.saving = run.catch(() => undefined);
    return run;
  }
}
