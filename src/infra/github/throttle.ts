/**
 * The one throttle every GitHub request passes through (docs/architecture.md,
 * "Rate limiting is transport-level, in GitHub's time"). It paces request
 * starts, caps concurrency, paces writes more strictly, and holds every
 * request while GitHub said to wait. It never retries: a failed request
 * still fails, and the scheduler decides what to do
 * (docs/decisions/002-github-throttle.md).
 */
import { type BudgetKind, BudgetGovernor, type BudgetSnapshot, type BudgetWait, type RequestCost, type Run, costOf } from './budget.js';
import { type ResponseHeaders, localResetAtMs, rateLimitSignalOf, readRateLimitHeaders } from './rate-limit-signals.js';
import { Lane, sleepWithTimer, waitForNotice } from './throttle-waits.js';
import { type SharedWriteBudget, WriteBudget, writeContext } from './write-budget.js';

export { type SharedWriteBudget, type WriteCheck, type WriteRules, withWriteCheck } from './write-budget.js';

export type WaitReason =
  | 'primary-rate-limit'
  | 'secondary-rate-limit'
  | 'retry-after'
  | 'write-pacing'
  /** REST or GraphQL secondary points of the minute (pointsPerMinute, graphqlPointsPerMinute). */
  | 'rest-points'
  | 'graphql-points'
  /** GitHub's server time, estimated from response times (cpuMsPerMinute). */
  | 'cpu-time'
  /** The primary budget below half, spread until its reset; or a read held at the reserve kept for writes. */
  | 'primary-pacing';

/** What GitHub said to wait for: a hold of every request, worth telling the other daemons on the credential. */
export type HoldReason = 'primary-rate-limit' | 'secondary-rate-limit' | 'retry-after';

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
  /**
   * A response told the throttle to hold every request until `until` (epoch
   * ms, this machine's clock), for other daemons on the credential to apply
   * too. Not called for holds given through `holdUntil`.
   */
  onHold?(info: { until: number; reason: HoldReason }): void;
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
  /**
   * The write budget every daemon on the credential (and every earlier run)
   * spends, asked right before each write starts. Default: none (this
   * process's own writes only; each process starts with an unspent budget).
   */
  sharedWrites?: SharedWriteBudget;
  /**
   * The daemons spending the credential's budgets: the per-minute budgets
   * (points, server time), the primary budget left and maxConcurrent are
   * divided by it, at least 1 each. Changed at run time with `setShare`. Default 1.
   */
  share?: number;
  /** REST secondary points (GET 1, write 5) started in any minute, spread evenly (github.rateLimit.pointsPerMinute). Default: off. */
  pointsPerMinute?: number;
  /** POST /graphql points (query 1, mutation 5) in any minute, spread evenly (github.rateLimit.graphqlPointsPerMinute). Default: off. */
  graphqlPointsPerMinute?: number;
  /** Estimated server time (response times) in any minute, GraphQL's share two thirds (github.rateLimit.cpuPerMinute). Default: off. */
  cpuMsPerMinute?: number;
  /**
   * Below half of a primary budget (x-ratelimit-remaining of core or graphql),
   * spread the rest evenly until the reset, keeping 1 % for writes. Default: off.
   */
  primaryPacing?: boolean;
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

/**
 * Held past x-ratelimit-reset by this much: the reset is read against the
 * response's `Date`, which has whole seconds, and a request that lands a
 * moment early is rejected and resets the hold.
 */
const RESET_MARGIN_MS = 1000;

/** What the throttle needs to know of a request: its method, its URL and, for GraphQL, the query (a mutation costs more). */
export interface AdmitRequest {
  readonly method: string;
  readonly url?: string;
  readonly query?: unknown;
}

export class RequestThrottle {
  private readonly minIntervalMs: number;
  private readonly maxConcurrent: number;
  private share = 1;
  private readonly secondaryDefaultWaitMs: number;
  readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly telemetry: GitHubTelemetry;
  private readonly writes: WriteBudget;
  private readonly budgets: BudgetGovernor;

  /**
   * Every request passes the main lane; writes pass the write lane first; each
   * kind (REST, GraphQL) waits for its budgets in a lane of its own, so a
   * query held for GraphQL points never holds a REST read. Reads wait at the
   * primary reserve in a lane before that, so writes can pass them.
   */
  private readonly lane = new Lane();
  private readonly writeLane = new Lane();
  private readonly budgetLanes: Record<BudgetKind, Lane> = { rest: new Lane(), graphql: new Lane() };
  private readonly reserveLanes: Record<BudgetKind, Lane> = { rest: new Lane(), graphql: new Lane() };
  private active = 0;
  private slotFreed: (() => void) | null = null;
  private lastStartAt = Number.NEGATIVE_INFINITY;
  private heldUntil = Number.NEGATIVE_INFINITY;
  private holdReason: WaitReason = 'primary-rate-limit';
  private readonly counters: ThrottleStats = { requests: 0, notModified: 0, waits: 0, waitedMs: 0 };

  constructor(options: ThrottleOptions, telemetry: GitHubTelemetry = {}) {
    this.minIntervalMs = nonNegative('minIntervalMs', options.minIntervalMs);
    this.maxConcurrent = atLeastOne('maxConcurrent', options.maxConcurrent ?? 8);
    this.writes = new WriteBudget(
      {
        minIntervalMs: nonNegative('writeMinIntervalMs', options.writeMinIntervalMs ?? 1000),
        perMinute: atLeastOne('writesPerMinute', options.writesPerMinute ?? 60),
        perHour: atLeastOne('writesPerHour', options.writesPerHour ?? 450),
      },
      options.sharedWrites,
    );
    this.budgets = new BudgetGovernor(options);
    this.setShare(options.share ?? 1);
    this.secondaryDefaultWaitMs = nonNegative('secondaryDefaultWaitMs', options.secondaryDefaultWaitMs ?? 60_000);
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleepWithTimer;
    this.telemetry = telemetry;
  }

  stats(): ThrottleStats {
    return { ...this.counters };
  }

  /** Every budget's limit and use over the last minute, the primary budgets, response times and requests in flight. */
  budget(): BudgetSnapshot {
    return this.budgets.snapshot(this.now());
  }

  /**
   * The daemons spending the credential's budgets (at least 1): each one's
   * per-minute budgets, primary budget left and concurrency cap are this part
   * of the configured ones. Requests already admitted are not recalled.
   */
  setShare(share: number): void {
    if (!Number.isFinite(share) || share < 1) throw new RangeError(`throttle share must be a number >= 1, got ${share}`);
    this.share = share;
    this.budgets.setShare(share);
    // A larger cap frees a slot for whoever waits for one.
    this.notifySlotFreed();
  }

  /**
   * Holds every request until `until` (epoch ms, this machine's clock), as if
   * a response had said so: a hold another daemon on the credential learnt.
   * An earlier hold than the one running changes nothing; not told to onHold.
   */
  holdUntil(until: number, reason: HoldReason): void {
    this.hold(until, reason);
  }

  /**
   * Waits until the request may be sent, then counts it as started; for a
   * write made inside withWriteCheck, runs the check too. Call the returned
   * function once the response (or failure) is in. A bare method is a request
   * to a REST route.
   */
  async admit(request: string | AdmitRequest, signal?: AbortSignal): Promise<() => void> {
    const { method, url = '', query } = typeof request === 'string' ? { method: request } : request;
    const cost = costOf(method, url, query);
    const context = writeContext.getStore();
    // A write check's own requests use the slot of the write that waits for
    // them: queueing for a slot of their own could wait for that very write.
    const takesSlot = context?.phase !== 'checking';
    let started: { at: number; run: Run };
    if (cost.isWrite) await this.writeLane.enter(signal);
    try {
      started = await this.startWhenDue(cost, takesSlot, signal);
    } finally {
      if (cost.isWrite) this.writeLane.leave();
    }
    const release = this.releaser(takesSlot, started.run);
    if (!cost.isWrite || context?.phase !== 'pending' || context.consumed) return release;
    context.consumed = true;
    try {
      await writeContext.run({ phase: 'checking' }, () => context.check(signal ?? new AbortController().signal));
    } catch (error) {
      // The shared budget reports its own failures; the check's error is the one to tell.
      await this.writes.withdraw(started.at).catch(() => undefined);
      this.counters.requests--;
      release();
      throw error;
    }
    return release;
  }

  /**
   * Waits for the request's budgets and its turn, then starts it. A write
   * first waits for this process's own write budget, and at its turn asks the
   * shared one: when other daemons' writes hold it, it lets the lanes go,
   * waits, and goes round again.
   */
  private async startWhenDue(cost: RequestCost, takesSlot: boolean, signal?: AbortSignal): Promise<{ at: number; run: Run }> {
    for (;;) {
      if (cost.isWrite) await this.waitFor(() => waitOf('write-pacing', this.writes.waitMs(this.now())), signal);
      if (!cost.mayUseReserve) await this.inLane(this.reserveLanes[cost.kind], signal, () => this.waitFor(() => this.budgets.reserveWait(cost, this.now()), signal));
      const outcome = await this.inLane(this.budgetLanes[cost.kind], signal, async () => {
        await this.waitFor(() => this.budgets.waitFor(cost, this.now()), signal);
        const turn = async (): Promise<{ at: number; run: Run } | number> => {
          await this.waitForTurn(takesSlot, signal);
          const at = this.now();
          const sharedWait = cost.isWrite ? await this.writes.reserve(at) : 0;
          return sharedWait > 0 ? sharedWait : this.markStarted(cost, takesSlot, at);
        };
        return takesSlot ? this.inLane(this.lane, signal, turn) : turn();
      });
      if (typeof outcome !== 'number') return outcome;
      await this.wait(outcome, 'write-pacing', signal);
    }
  }

  private async inLane<T>(lane: Lane, signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
    await lane.enter(signal);
    try {
      return await run();
    } finally {
      lane.leave();
    }
  }

  private releaser(takesSlot: boolean, run: Run): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.budgets.finished(run, this.now());
      if (!takesSlot) return;
      this.active--;
      this.notifySlotFreed();
    };
  }

  private notifySlotFreed(): void {
    const notify = this.slotFreed;
    this.slotFreed = null;
    notify?.();
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
      this.budgets.observePrimary(rateLimit.resource, rateLimit.limit, rateLimit.remaining, resetAtMs);
      if (rateLimit.remaining === 0) this.learnt(resetAtMs + RESET_MARGIN_MS, 'primary-rate-limit');
    }
    const signal = rateLimitSignalOf(response.status, response.headers, response.data, now);
    if (signal?.kind === 'retry-after') this.learnt(now + signal.waitMs, 'retry-after');
    if (signal?.kind === 'secondary') this.learnt(now + this.secondaryDefaultWaitMs, 'secondary-rate-limit');
  }

  /** A hold a response gave: applied, and told so the other daemons on the credential apply it too. */
  private learnt(until: number, reason: HoldReason): void {
    if (this.hold(until, reason)) this.telemetry.onHold?.({ until, reason });
  }

  private hold(until: number, reason: HoldReason): boolean {
    if (until <= this.now() || until <= this.heldUntil) return false;
    this.heldUntil = until;
    this.holdReason = reason;
    return true;
  }

  /** Run while holding the main lane (unless riding on a write's slot), so the head of the line is the only one waiting here. */
  private async waitForTurn(takesSlot: boolean, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.now();
      if (this.heldUntil > now) {
        await this.wait(this.heldUntil - now, this.holdReason, signal);
        continue;
      }
      const pacing = this.lastStartAt + this.minIntervalMs - now;
      if (pacing > 0) {
        await this.sleep(pacing, signal);
        continue;
      }
      if (takesSlot && this.active >= Math.max(1, Math.floor(this.maxConcurrent / this.share))) {
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

  /** Asks `next` how long to wait, waits, and asks again, until nothing is left to wait for. */
  private async waitFor(next: () => BudgetWait | undefined, signal?: AbortSignal): Promise<void> {
    for (let wait = next(); wait !== undefined; wait = next()) await this.wait(wait.ms, wait.reason, signal);
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

  private markStarted(cost: RequestCost, takesSlot: boolean, at: number): { at: number; run: Run } {
    if (takesSlot) this.active++;
    this.counters.requests++;
    this.lastStartAt = at;
    if (cost.isWrite) this.writes.started(at);
    return { at, run: this.budgets.started(cost, at) };
  }
}

function waitOf(reason: WaitReason, ms: number): BudgetWait | undefined {
  return ms > 0 ? { reason, ms } : undefined;
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
