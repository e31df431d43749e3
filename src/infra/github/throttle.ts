/**
 * The one throttle every GitHub request passes through (ARCHITECTURE.md, "Rate
 * limiting is transport-level"). It paces request starts, caps concurrency,
 * paces writes more strictly, and holds every request while GitHub said to
 * wait. It never retries: a failed request still fails, and the scheduler
 * decides what to do (docs/decisions/002-github-throttle.md).
 */
import type { Octokit } from '@octokit/core';
import { type ResponseHeaders, rateLimitSignalOf, readRateLimitHeaders } from './rate-limit-signals.js';

export type WaitReason = 'primary-rate-limit' | 'secondary-rate-limit' | 'retry-after' | 'write-pacing';

/** An optional observer for metrics and status; every callback defaults to a no-op. */
export interface GitHubTelemetry {
  /** Every HTTP response received (any status, 304 included). */
  onResponse?(info: { method: string; route: string; status: number; durationMs: number; notModified: boolean }): void;
  /** Every response that carried the x-ratelimit-* headers. */
  onRateLimit?(info: { limit: number; remaining: number; resetAt: number; resource: string }): void;
  /** A request is about to be held this long before it is sent. */
  onWait?(info: { reason: WaitReason; waitMs: number }): void;
}

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
 * Held past x-ratelimit-reset by this much: our clock and GitHub's differ, and
 * a request that lands a moment early is rejected and resets the hold.
 */
const RESET_MARGIN_MS = 1000;

function abortError(signal?: AbortSignal): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return new DOMException('The operation was aborted', 'AbortError');
}

function sleepWithTimer(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Resolves once `register`'s notify is called, or rejects on abort (and then
 * unregisters). For "wait your turn" and "wait for a free slot": no deadline.
 */
function waitForNotice(register: (notify: () => void) => () => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      unregister();
      reject(abortError(signal));
    };
    const unregister = register(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** First in, first out: one request at a time past a gate; aborted waiters leave the line. */
class Lane {
  private busy = false;
  private readonly waiting: Array<() => void> = [];

  async enter(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortError(signal);
    if (!this.busy) {
      this.busy = true;
      return;
    }
    await waitForNotice((notify) => {
      this.waiting.push(notify);
      return () => {
        const index = this.waiting.indexOf(notify);
        if (index >= 0) this.waiting.splice(index, 1);
      };
    }, signal);
  }

  /** Hands the gate to the next in line (it stays busy) or frees it. */
  leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }
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
  }

  stats(): ThrottleStats {
    return { ...this.counters };
  }

  /**
   * Waits until `method` may be sent, then counts it as started. Call the
   * returned function once the response (or failure) is in.
   */
  async admit(method: string, signal?: AbortSignal): Promise<() => void> {
    const isWrite = WRITE_METHODS.has(method.toUpperCase());
    if (isWrite) await this.writeLane.enter(signal);
    try {
      if (isWrite) await this.waitForWriteBudget(signal);
      await this.lane.enter(signal);
      try {
        await this.waitForTurn(signal);
        this.markStarted(isWrite);
      } finally {
        this.lane.leave();
      }
    } finally {
      if (isWrite) this.writeLane.leave();
    }
    let released = false;
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
      this.telemetry.onRateLimit?.(rateLimit);
      if (rateLimit.remaining === 0) this.hold(rateLimit.resetAt * 1000 + RESET_MARGIN_MS, 'primary-rate-limit');
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

  /** Run while holding the main lane, so the head of the line is the only one waiting here. */
  private async waitForTurn(signal?: AbortSignal): Promise<void> {
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
      if (this.active >= this.maxConcurrent) {
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

  private markStarted(isWrite: boolean): void {
    const now = this.now();
    this.active++;
    this.counters.requests++;
    this.lastStartAt = now;
    if (isWrite) {
      this.lastWriteAt = now;
      this.writeStarts.push(now);
    }
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
