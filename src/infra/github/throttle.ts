/**
 * The one throttle every GitHub request passes through (docs/architecture.md,
 * "Rate limiting is transport-level, in GitHub's time"). It paces request
 * starts, caps concurrency, paces writes more strictly, and holds every
 * request while GitHub said to wait. It never retries: a failed request
 * still fails, and the scheduler decides what to do
 * (docs/decisions/002-github-throttle.md).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Octokit } from '@octokit/core';
import { type ResponseHeaders, localResetAtMs, rateLimitSignalOf, readRateLimitHeaders } from './rate-limit-signals.js';
import { Lane, sleepWithTimer, waitForNotice } from './throttle-waits.js';

export type WaitReason = 'primary-rate-limit' | 'secondary-rate-limit' | 'retry-after' | 'write-pacing';

/** An optional observer for metrics and status; every callback defaults to a no-op. */
export interface GitHubTelemetry {
  /** Every HTTP response received (any status, 304 included). */
  onResponse?(info: { method: string; route: string; status: number; durationMs: number; notModified: boolean }): void;
  /**
   * Every response that carried the x-ratelimit-* headers. `resetAt` is in
   * epoch seconds on this machine's clock: GitHub's x-ratelimit-reset moved by
   * the skew the response's `Date` showed, so "resets in" reads true here.
   */
  onRateLimit?(info: { limit: number; remaining: number; resetAt: number; resource: string }): void;
  /** A request is about to be held this long before it is sent. */
  onWait?(info: { reason: WaitReason; waitMs: number }): void;
}

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

export interface ThrottleOptions {
  /** Minimum time between two request starts (github.rateLimit.minInterval). No default. */
  minIntervalMs: number;
  /** Most requests in flight at once. Default 8. */
  maxConcurrent?: number;
  /** Minimum time between two write (POST/PATCH/PUT/DELETE) starts. Default 1000. */
  writeMinIntervalMs?: number;
  /** Most writes started in any 60 s. Default 60 (GitHub allows 80). */
  writesPerMinute?: number;
  /** Most writes started in any hour. Default 450 (GitHub allows 500). */
  writesPerHour?: number;
  /** Keeps the write budget across restarts. Default: none (each process starts with an unspent budget). */
  writeHistory?: WriteHistory;
  /** Hold after a secondary limit that did not say how long. Default 60_000, as GitHub advises. */
  secondaryDefaultWaitMs?: number;
  /** Clock in epoch ms. Default Date.now. */
  now?: () => number;
  /** Waits `ms`, rejecting with an AbortError when `signal` aborts. Default: a timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface ThrottleStats {
  /** Requests sent. */
  requests: number;
  /** 304 answers (free of the primary budget). */
  notModified: number;
  /** Times a request was held for a rate limit or write pacing. */
  waits: number;
  /** Total time requests were held for those reasons. */
  waitedMs: number;
}

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
/**
 * Held past x-ratelimit-reset by this much: the reset is read against the
 * response's `Date`, which has whole seconds, and a request that lands a
 * moment early is rejected and resets the hold.
 */
const RESET_MARGIN_MS = 1000;

/**
 * A write check travels from GitHubClient.createComment to the request hook
 * in the async context, so the requests in between (and their signatures)
 * need not know about it. While it runs, the context says so: the check's own
 * requests ride on the write's admission.
 */
type WriteContext = { readonly phase: 'pending'; readonly check: WriteCheck; consumed: boolean } | { readonly phase: 'checking' };
const writeContext = new AsyncLocalStorage<WriteContext>();

/**
 * Runs `send` so that the first write it makes calls `check` once the
 * throttle has admitted it (write pacing and budget passed, a concurrency
 * slot held), right before it is sent. If `check` throws, the write is not
 * sent, does not count against the budget, and the error propagates.
 */
export function withWriteCheck<T>(check: WriteCheck, send: () => Promise<T>): Promise<T> {
  return writeContext.run({ phase: 'pending', check, consumed: false }, send);
}

export class RequestThrottle {
  private readonly minIntervalMs: number;
  private readonly maxConcurrent: number;
  private readonly writeMinIntervalMs: number;
  private readonly writesPerMinute: number;
  private readonly writesPerHour: number;
  private readonly secondaryDefaultWaitMs: number;
  readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly telemetry: GitHubTelemetry;
  private readonly writeHistory: WriteHistory | undefined;
  private historyLoaded = false;
  /** The save in progress; saves run one at a time. */
  private saving: Promise<void> = Promise.resolve();

  /** Every request passes this gate; writes pass the write gate first. */
  private readonly lane = new Lane();
  private readonly writeLane = new Lane();
  private active = 0;
  private slotFreed: (() => void) | null = null;
  private lastStartAt = Number.NEGATIVE_INFINITY;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  /** Start times of the writes of the last hour, oldest first. */
  private readonly writeStarts: number[] = [];
  private holdUntil = Number.NEGATIVE_INFINITY;
  private holdReason: WaitReason = 'primary-rate-limit';
  private readonly counters: ThrottleStats = { requests: 0, notModified: 0, waits: 0, waitedMs: 0 };

  constructor(options: ThrottleOptions, telemetry: GitHubTelemetry = {}) {
    this.minIntervalMs = nonNegative('minIntervalMs', options.minIntervalMs);
    this.maxConcurrent = atLeastOne('maxConcurrent', options.maxConcurrent ?? 8);
    this.writeMinIntervalMs = nonNegative('writeMinIntervalMs', options.writeMinIntervalMs ?? 1000);
    this.writesPerMinute = atLeastOne('writesPerMinute', options.writesPerMinute ?? 60);
    this.writesPerHour = atLeastOne('writesPerHour', options.writesPerHour ?? 450);
    this.secondaryDefaultWaitMs = nonNegative('secondaryDefaultWaitMs', options.secondaryDefaultWaitMs ?? 60_000);
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleepWithTimer;
    this.telemetry = telemetry;
    this.writeHistory = options.writeHistory;
  }

  stats(): ThrottleStats {
    return { ...this.counters };
  }

  /**
   * Waits until `method` may be sent, then counts it as started; for a write
   * made inside withWriteCheck, runs the check too. Call the returned function
   * once the response (or failure) is in.
   */
  async admit(method: string, signal?: AbortSignal): Promise<() => void> {
    const isWrite = WRITE_METHODS.has(method.toUpperCase());
    const context = writeContext.getStore();
    // A write check's own requests use the slot of the write that waits for
    // them: queueing for a slot of their own could wait for that very write.
    const takesSlot = context?.phase !== 'checking';
    if (isWrite) await this.writeLane.enter(signal);
    let startedAt: number;
    try {
      if (isWrite) {
        await this.loadWriteHistory();
        await this.waitForWriteBudget(signal);
      }
      if (takesSlot) await this.lane.enter(signal);
      try {
        await this.waitForTurn(takesSlot, signal);
        startedAt = this.markStarted(isWrite, takesSlot);
      } finally {
        if (takesSlot) this.lane.leave();
      }
    } finally {
      if (isWrite) this.writeLane.leave();
    }
    const release = this.releaser(takesSlot);
    if (!isWrite) return release;
    try {
      if (context?.phase === 'pending' && !context.consumed) {
        context.consumed = true;
        await writeContext.run({ phase: 'checking' }, () => context.check(signal ?? new AbortController().signal));
      }
      await this.persistWrites();
    } catch (error) {
      this.withdrawWrite(startedAt);
      release();
      throw error;
    }
    return release;
  }

  private releaser(takesSlot: boolean): () => void {
    let released = !takesSlot;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      const notify = this.slotFreed;
      this.slotFreed = null;
      notify?.();
    };
  }

  /** Reads what a response says about rate limits; call for every response, success or error. */
  observe(response: { method: string; route: string; status: number; headers: ResponseHeaders; data?: unknown; durationMs: number }): void {
    const now = this.now();
    const notModified = response.status === 304;
    if (notModified) this.counters.notModified++;
    this.telemetry.onResponse?.({
      method: response.method,
      route: response.route,
      status: response.status,
      durationMs: response.durationMs,
      notModified,
    });
    const rateLimit = readRateLimitHeaders(response.headers);
    if (rateLimit !== undefined) {
      const resetAtMs = localResetAtMs(rateLimit, response.headers, now);
      this.telemetry.onRateLimit?.({ ...rateLimit, resetAt: Math.round(resetAtMs / 1000) });
      if (rateLimit.remaining === 0) this.hold(resetAtMs + RESET_MARGIN_MS, 'primary-rate-limit');
    }
    const signal = rateLimitSignalOf(response.status, response.headers, response.data, now);
    if (signal?.kind === 'retry-after') this.hold(now + signal.waitMs, 'retry-after');
    if (signal?.kind === 'secondary') this.hold(now + this.secondaryDefaultWaitMs, 'secondary-rate-limit');
  }

  private hold(until: number, reason: WaitReason): void {
    if (until <= this.now() || until <= this.holdUntil) return;
    this.holdUntil = until;
    this.holdReason = reason;
  }

  /** Run while holding the main lane (unless riding on a write's slot), so the head of the line is the only one waiting here. */
  private async waitForTurn(takesSlot: boolean, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.now();
      if (this.holdUntil > now) {
        await this.wait(this.holdUntil - now, this.holdReason, signal);
        continue;
      }
      const pacing = this.lastStartAt + this.minIntervalMs - now;
      if (pacing > 0) {
        await this.sleep(pacing, signal);
        continue;
      }
      if (takesSlot && this.active >= this.maxConcurrent) {
        await waitForNotice((notify) => {
          this.slotFreed = notify;
          return () => {
            if (this.slotFreed === notify) this.slotFreed = null;
          };
        }, signal);
        continue;
      }
      return;
    }
  }

  /** Run while holding the write lane: writes wait here while reads keep flowing. */
  private async waitForWriteBudget(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.now();
      while (this.writeStarts.length > 0 && (this.writeStarts[0] as number) <= now - HOUR_MS) this.writeStarts.shift();
      let until = this.lastWriteAt + this.writeMinIntervalMs;
      const count = this.writeStarts.length;
      if (count >= this.writesPerMinute) {
        until = Math.max(until, (this.writeStarts[count - this.writesPerMinute] as number) + MINUTE_MS);
      }
      if (count >= this.writesPerHour) {
        until = Math.max(until, (this.writeStarts[count - this.writesPerHour] as number) + HOUR_MS);
      }
      if (until <= now) return;
      await this.wait(until - now, 'write-pacing', signal);
    }
  }

  private async wait(waitMs: number, reason: WaitReason, signal?: AbortSignal): Promise<void> {
    this.counters.waits++;
    this.telemetry.onWait?.({ reason, waitMs });
    const startedAt = this.now();
    try {
      await this.sleep(waitMs, signal);
    } finally {
      this.counters.waitedMs += Math.max(0, this.now() - startedAt);
    }
  }

  private markStarted(isWrite: boolean, takesSlot: boolean): number {
    const now = this.now();
    if (takesSlot) this.active++;
    this.counters.requests++;
    this.lastStartAt = now;
    if (isWrite) {
      this.lastWriteAt = now;
      this.writeStarts.push(now);
    }
    return now;
  }

  /** A write its check cancelled was never sent: it leaves the budget (its pacing gap stays, which only errs on the safe side). */
  private withdrawWrite(startedAt: number): void {
    const index = this.writeStarts.lastIndexOf(startedAt);
    if (index >= 0) this.writeStarts.splice(index, 1);
    this.counters.requests--;
  }

  /** Run in the write lane before the first write: the writes an earlier process made count too. */
  private async loadWriteHistory(): Promise<void> {
    if (this.historyLoaded || this.writeHistory === undefined) return;
    const stored = await this.writeHistory.load();
    this.historyLoaded = true;
    const now = this.now();
    // A clock set back since they were saved leaves starts in the future: count them as now.
    const recent = stored.filter((at) => Number.isFinite(at) && at > now - HOUR_MS).map((at) => Math.min(at, now));
    if (recent.length === 0) return;
    this.writeStarts.push(...recent);
    this.writeStarts.sort((a, b) => a - b);
    this.lastWriteAt = Math.max(this.lastWriteAt, ...recent);
  }

  /** Saves the write starts, one save at a time, each with the list as it is when it runs: the last save holds every write. */
  private persistWrites(): Promise<void> {
    const history = this.writeHistory;
    if (history === undefined) return Promise.resolve();
    const run = this.saving.then(() => history.save([...this.writeStarts]));
    this.saving = run.catch(() => undefined);
    return run;
  }
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`throttle ${name} must be a number >= 0, got ${value}`);
  }
  return value;
}

function atLeastOne(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`throttle ${name} must be an integer >= 1, got ${value}`);
  }
  return value;
}

interface ResponseLike {
  status: number;
  headers: ResponseHeaders;
  data?: unknown;
}

/** The HTTP response an Octokit error carries, if a response arrived at all. */
export function responseOfError(error: unknown): ResponseLike | undefined {
  if (typeof error !== 'object' || error === null || !('response' in error)) return undefined;
  const response = (error as { response: unknown }).response;
  if (typeof response !== 'object' || response === null) return undefined;
  const { status, headers } = response as { status?: unknown; headers?: unknown };
  if (typeof status !== 'number' || typeof headers !== 'object' || headers === null) return undefined;
  return { status, headers: headers as ResponseHeaders, data: (response as { data?: unknown }).data };
}

/**
 * Puts `throttle` in front of every request `octokit` sends. Register it after
 * any other request hook so it is the outermost one: time spent held here is
 * not part of a request's timeout.
 */
export function installThrottle(octokit: Octokit, throttle: RequestThrottle): void {
  octokit.hook.wrap('request', async (request, options) => {
    const method = String(options.method);
    const route = `${method} ${String(options.url)}`;
    const release = await throttle.admit(method, options.request?.signal);
    const startedAt = throttle.now();
    try {
      const response = await request(options);
      throttle.observe({ method, route, ...response, durationMs: throttle.now() - startedAt });
      return response;
    } catch (error) {
      const response = responseOfError(error);
      if (response) throttle.observe({ method, route, ...response, durationMs: throttle.now() - startedAt });
      throw error;
    } finally {
      release();
    }
  });
}
