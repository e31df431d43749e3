/**
 * The budget arithmetic of the governor (docs/github-rate-limits.md): what a
 * request costs against GitHub's secondary limits, how long it must wait for
 * its share of each budget, and what has been spent over the last minute.
 * No waiting happens here: the throttle asks, sleeps, and asks again.
 *
 * GitHub's documented secondary limits: 900 REST points and 2,000 GraphQL
 * points per minute (a GET or a query is 1 point, a REST write or a mutation
 * 5), and 90 s of server time per 60 s of real time, at most 60 s of it
 * GraphQL, estimated by the total response time.
 */
import type { WaitReason } from './throttle.js';

export type BudgetKind = 'rest' | 'graphql';

export interface RequestCost {
  readonly kind: BudgetKind;
  /** Secondary-limit points: 1 for a read or a query, 5 for a REST write or a mutation. */
  readonly points: number;
  /** Creates content (a REST POST/PATCH/PUT/DELETE): write pacing and budget apply. POST /graphql never does. */
  readonly isWrite: boolean;
  /** May spend the primary reserve: REST writes and mutations; reads wait at it. */
  readonly mayUseReserve: boolean;
  /** The primary budget it draws on, as `x-ratelimit-resource` names it. */
  readonly resource: 'core' | 'graphql';
}

export interface BudgetOptions {
  /** REST points per minute; absent: not paced by points. */
  readonly pointsPerMinute?: number | undefined;
  /** GraphQL points per minute; absent: not paced by points. */
  readonly graphqlPointsPerMinute?: number | undefined;
  /** Estimated server time per minute in ms, GraphQL's share two thirds of it; absent: not paced by time. */
  readonly cpuMsPerMinute?: number | undefined;
  /** Spread a primary budget below half of its limit evenly until its reset; absent or false: off. */
  readonly primaryPacing?: boolean | undefined;
}

export interface BudgetUse {
  /** Per minute; null when that budget is off. */
  readonly limit: number | null;
  /** Spent over the last minute. */
  readonly used: number;
}

export interface PrimaryBudget {
  readonly resource: string;
  readonly limit: number;
  readonly remaining: number;
  /** Epoch ms on this machine's clock (GitHub's reset moved by the response's `Date`). */
  readonly resetAtMs: number;
  /** Whether requests on it are spread until the reset (remaining below half of the limit). */
  readonly pacing: boolean;
}

/** What the capacity projection and `status` read: every budget, its limit and its use over the last minute. */
export interface BudgetSnapshot {
  readonly restPoints: BudgetUse;
  readonly graphqlPoints: BudgetUse;
  /** Estimated server time in ms, requests in flight counted as they run. */
  readonly cpuMs: BudgetUse;
  readonly graphqlCpuMs: BudgetUse;
  readonly primary: readonly PrimaryBudget[];
  /** Mean response time of the latest requests of each kind; null before the first. */
  readonly averageResponseMs: { readonly rest: number | null; readonly graphql: number | null };
  readonly inFlight: number;
}

export interface BudgetWait {
  readonly reason: WaitReason;
  readonly ms: number;
}

/** A request the governor counts as running: pass it back to `finished`. */
export interface Run {
  readonly kind: BudgetKind;
  readonly start: number;
  end: number | null;
}

const MINUTE_MS = 60_000;
const REST_WRITE_POINTS = 5;
const MUTATION_POINTS = 5;
/** GitHub: at most 60 s of the 90 s may be GraphQL. */
const GRAPHQL_CPU_SHARE = 2 / 3;
/** Response times the averages are taken over. */
const RECENT_DURATIONS = 50;
/** Part of the primary limit kept for writes when pacing: reads wait at it. */
const RESERVE_SHARE = 0.01;

/** What a request costs, from its method, its URL and (for GraphQL) its query text. */
export function costOf(method: string, url: string, query?: unknown): RequestCost {
  const upper = method.toUpperCase();
  const path = url.split('?')[0] ?? '';
  if (upper === 'POST' && /(?:^|\/)graphql$/.test(path)) {
    const mutation = typeof query === 'string' && isMutation(query);
    return { kind: 'graphql', points: mutation ? MUTATION_POINTS : 1, isWrite: false, mayUseReserve: mutation, resource: 'graphql' };
  }
  const isWrite = upper === 'POST' || upper === 'PATCH' || upper === 'PUT' || upper === 'DELETE';
  return { kind: 'rest', points: isWrite ? REST_WRITE_POINTS : 1, isWrite, mayUseReserve: isWrite, resource: 'core' };
}

/** A document with a mutation among its operations: read at the top level, outside comments, strings and selections. */
function isMutation(query: string): boolean {
  const code = query.replace(/#[^\n\r]*/g, '').replace(/"""[\s\S]*?"""|"(?:[^"\\]|\\.)*"/g, '""');
  let depth = 0;
  let top = '';
  for (const char of code) {
    if (char === '{') depth++;
    else if (char === '}') depth--;
    else if (depth === 0) top += char;
  }
  return /(?:^|[^\w$])mutation\b/.test(top);
}

interface PointsBudget {
  /** The whole credential's points a minute; this daemon's limit is its share of them. */
  readonly base: number | undefined;
  limit: number | undefined;
  /** Starts of the last minute, oldest first. */
  readonly spends: Array<{ at: number; points: number }>;
  /** The earliest the next request may start: each one pushes it by its share of the minute, so starts come evenly. */
  nextAt: number;
}

interface PrimaryState {
  limit: number;
  remaining: number;
  resetAtMs: number;
}

export class BudgetGovernor {
  private readonly points: Record<BudgetKind, PointsBudget>;
  private readonly cpuBase: number | undefined;
  private cpuMsPerMinute: number | undefined;
  private readonly primaryPacing: boolean;
  /** The daemons spending the credential's budgets: each gets this part of every per-minute budget and of the primary budget left. */
  private share = 1;
  /** Requests of the last minute (and those still running), oldest start first. */
  private readonly runs: Run[] = [];
  private readonly durations: Record<BudgetKind, number[]> = { rest: [], graphql: [] };
  private readonly primary = new Map<string, PrimaryState>();
  private readonly lastStartAt = new Map<string, number>();

  constructor(options: BudgetOptions) {
    this.points = {
      rest: pointsBudget(optionalPositive('pointsPerMinute', options.pointsPerMinute)),
      graphql: pointsBudget(optionalPositive('graphqlPointsPerMinute', options.graphqlPointsPerMinute)),
    };
    this.cpuBase = optionalPositive('cpuMsPerMinute', options.cpuMsPerMinute);
    this.cpuMsPerMinute = this.cpuBase;
    this.primaryPacing = options.primaryPacing === true;
  }

  /**
   * Divides every per-minute budget (at least 1 each) and the primary budget
   * left by `share`, the number of daemons spending the credential. Starts
   * already paced keep their place; the next ones are paced on the new share.
   */
  setShare(share: number): void {
    this.share = share;
    for (const budget of Object.values(this.points)) budget.limit = shareOf(budget.base, share);
    this.cpuMsPerMinute = shareOf(this.cpuBase, share);
  }

  /**
   * How long `cost` must still wait for its points, the server-time estimate
   * and primary pacing (the longest of them), or undefined when it may start.
   * Reads at the primary reserve are `reserveWait`'s business.
   */
  waitFor(cost: RequestCost, now: number): BudgetWait | undefined {
    let longest: BudgetWait | undefined;
    const consider = (reason: WaitReason, ms: number): void => {
      if (ms > 0 && (longest === undefined || ms > longest.ms)) longest = { reason, ms: Math.ceil(ms) };
    };
    consider(cost.kind === 'rest' ? 'rest-points' : 'graphql-points', this.pointsWait(cost, now));
    consider('cpu-time', this.cpuWait(cost.kind, now));
    consider('primary-pacing', this.pacingWait(cost, now));
    return longest;
  }

  /** A read held until the reset while the primary remaining is down to the reserve kept for writes. */
  reserveWait(cost: RequestCost, now: number): BudgetWait | undefined {
    if (cost.mayUseReserve) return undefined;
    const state = this.pacedPrimary(cost.resource, now);
    if (state === undefined || state.remaining > reserveOf(state.limit)) return undefined;
    return { reason: 'primary-pacing', ms: Math.ceil(state.resetAtMs - now) };
  }

  /** Counts `cost` as started now; call `finished` with the result once its response is in. */
  started(cost: RequestCost, now: number): Run {
    const budget = this.points[cost.kind];
    if (budget.limit !== undefined) {
      budget.spends.push({ at: now, points: cost.points });
      budget.nextAt = Math.max(budget.nextAt, now) + (cost.points * MINUTE_MS) / budget.limit;
    }
    this.lastStartAt.set(cost.resource, now);
    const run: Run = { kind: cost.kind, start: now, end: null };
    this.runs.push(run);
    return run;
  }

  finished(run: Run, now: number): void {
    if (run.end !== null) return;
    run.end = Math.max(now, run.start);
    const recent = this.durations[run.kind];
    recent.push(run.end - run.start);
    if (recent.length > RECENT_DURATIONS) recent.shift();
  }

  /** What a response said about a primary budget (`resetAtMs` on this machine's clock). */
  observePrimary(resource: string, limit: number, remaining: number, resetAtMs: number): void {
    this.primary.set(resource, { limit, remaining, resetAtMs });
  }

  snapshot(now: number): BudgetSnapshot {
    this.prune(now);
    const cpuLimit = this.cpuMsPerMinute ?? null;
    return {
      restPoints: this.pointsUse('rest'),
      graphqlPoints: this.pointsUse('graphql'),
      cpuMs: { limit: cpuLimit, used: Math.round(this.cpuUse(now, now)) },
      graphqlCpuMs: { limit: cpuLimit === null ? null : Math.floor(cpuLimit * GRAPHQL_CPU_SHARE), used: Math.round(this.cpuUse(now, now, 'graphql')) },
      primary: [...this.primary].map(([resource, state]) => ({
        resource,
        ...state,
        pacing: this.pacedPrimary(resource, now) !== undefined,
      })),
      averageResponseMs: { rest: average(this.durations.rest), graphql: average(this.durations.graphql) },
      inFlight: this.runs.filter((run) => run.end === null).length,
    };
  }

  private pointsUse(kind: BudgetKind): BudgetUse {
    const budget = this.points[kind];
    return { limit: budget.limit ?? null, used: budget.spends.reduce((sum, spend) => sum + spend.points, 0) };
  }

  /**
   * Even gaps (each start pushes the next by its share of the minute), and
   * never more than the limit in any sliding minute.
   */
  private pointsWait(cost: RequestCost, now: number): number {
    const budget = this.points[cost.kind];
    if (budget.limit === undefined) return 0;
    this.prune(now);
    let wait = budget.nextAt - now;
    let used = budget.spends.reduce((sum, spend) => sum + spend.points, 0);
    const allowed = budget.limit - Math.min(cost.points, budget.limit);
    for (const spend of budget.spends) {
      if (used <= allowed) break;
      used -= spend.points;
      wait = Math.max(wait, spend.at + MINUTE_MS - now);
    }
    return wait;
  }

  /**
   * Admits a request when the server time of the last minute plus what one
   * more is expected to take (the recent average) fits; otherwise waits until
   * the window has slid far enough, counting running requests as ending now
   * (the throttle asks again after the wait, when they have run on).
   */
  private cpuWait(kind: BudgetKind, now: number): number {
    if (this.cpuMsPerMinute === undefined) return 0;
    this.prune(now);
    const expected = average(this.durations[kind]) ?? 0;
    let wait = this.untilBelow(this.cpuMsPerMinute - expected, now);
    if (kind === 'graphql') wait = Math.max(wait, this.untilBelow(this.cpuMsPerMinute * GRAPHQL_CPU_SHARE - expected, now, 'graphql'));
    return wait;
  }

  /** The time from `now` until the estimate falls to `target` (at least 0), found by halving: it only falls as the window slides. */
  private untilBelow(target: number, now: number, kind?: BudgetKind): number {
    const goal = Math.max(0, target);
    if (this.cpuUse(now, now, kind) <= goal) return 0;
    let low = 0;
    let high = MINUTE_MS + Math.max(0, ...this.runs.map((run) => (run.end ?? now) - run.start));
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (this.cpuUse(now + middle, now, kind) <= goal) high = middle;
      else low = middle;
    }
    return high;
  }

  /** Server time spent in the minute before `at`, running requests counted until `now`. */
  private cpuUse(at: number, now: number, kind?: BudgetKind): number {
    const from = at - MINUTE_MS;
    let used = 0;
    for (const run of this.runs) {
      if (kind !== undefined && run.kind !== kind) continue;
      const end = Math.min(run.end ?? now, at);
      used += Math.max(0, end - Math.max(run.start, from));
    }
    return used;
  }

  /** Below half of its limit, a primary budget is spread evenly until its reset: gap = time to reset / what is left to use. */
  private pacingWait(cost: RequestCost, now: number): number {
    const state = this.pacedPrimary(cost.resource, now);
    if (state === undefined) return 0;
    const usable = cost.mayUseReserve ? state.remaining : state.remaining - reserveOf(state.limit);
    if (usable <= 0) return state.resetAtMs - now;
    const last = this.lastStartAt.get(cost.resource);
    if (last === undefined) return 0;
    // Every daemon sees what is left for all of them: each spreads its share.
    return last + ((state.resetAtMs - now) * this.share) / usable - now;
  }

  private pacedPrimary(resource: string, now: number): PrimaryState | undefined {
    const state = this.primary.get(resource);
    // A reset already passed: a fresh window, the next response will say. A
    // spent budget (0) is the throttle's hold, with its margin past the reset.
    if (!this.primaryPacing || state === undefined || now >= state.resetAtMs || state.remaining === 0) return undefined;
    if (state.remaining >= state.limit / 2) return undefined;
    return state;
  }

  private prune(now: number): void {
    for (const budget of Object.values(this.points)) {
      while (budget.spends.length > 0 && (budget.spends[0]?.at ?? now) <= now - MINUTE_MS) budget.spends.shift();
    }
    for (let i = this.runs.length - 1; i >= 0; i--) {
      const end = this.runs[i]?.end;
      if (end !== null && end !== undefined && end <= now - MINUTE_MS) this.runs.splice(i, 1);
    }
  }
}

function pointsBudget(base: number | undefined): PointsBudget {
  return { base, limit: base, spends: [], nextAt: Number.NEGATIVE_INFINITY };
}

function shareOf(base: number | undefined, share: number): number | undefined {
  return base === undefined ? undefined : Math.max(1, base / share);
}

function reserveOf(limit: number): number {
  return Math.max(1, Math.ceil(limit * RESERVE_SHARE));
}

function average(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function optionalPositive(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`throttle ${name} must be a number > 0, got ${value}`);
  return value;
}
