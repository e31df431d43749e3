/**
 * The capacity projection: how often each detection path can look at its
 * members inside the credential's budgets, the detection latency that gives,
 * and which budget bounds it. When the configured intervals do not fit, the
 * intervals stretch instead of a limit being hit; `status`, the dashboard and
 * a metric show the projection. The arithmetic is in docs/github-rate-limits.md.
 */
import type { DetectionPath } from './types.js';

/** What bounds a path's interval: the configuration, or one of GitHub's limits. */
export const CAPACITY_BOUNDS = ['interval', 'rest-points', 'graphql-points', 'graphql-primary', 'cpu-time', 'min-interval'] as const;
export type CapacityBound = (typeof CAPACITY_BOUNDS)[number];

export interface CapacityBudget {
  /** github.rateLimit.pointsPerMinute. */
  readonly restPointsPerMinute: number;
  /** github.rateLimit.graphqlPointsPerMinute. */
  readonly graphqlPointsPerMinute: number;
  /** github.rateLimit.cpuPerMinute, in ms; GraphQL may use two thirds of it. */
  readonly cpuMsPerMinute: number;
  /** github.rateLimit.minInterval. */
  readonly minIntervalMs: number;
  /** The GraphQL primary budget per hour (5,000 for a token). */
  readonly graphqlPointsPerHour: number;
}

export interface CapacityInput {
  /** Members on each path. */
  readonly members: Readonly<Record<DetectionPath, number>>;
  /** Scope streams polled every parseInterval (one request each when idle). */
  readonly streams: number;
  readonly parseIntervalMs: number;
  readonly reconcileIntervalMs: number;
  /** Repositories per sweep query. */
  readonly sweepBatch: number;
  /** Organisation listing pages per discovery pass (repositories / 100, rounded up, per organisation). */
  readonly discoveryPages: number;
  readonly discoveryIntervalMs: number;
  readonly budget: CapacityBudget;
  /** REST requests one walk makes when idle: the issue listing, and the comment listing when follow-ups are on. Default 1. */
  readonly requestsPerWalk?: number;
  /** Average response times lately; before any is measured, 200 ms and 1 s. */
  readonly measured?: { readonly restMs?: number; readonly graphqlMs?: number };
}

export interface PathCapacity {
  readonly members: number;
  /** How often each member is looked at (walked, swept, or the stream read). */
  readonly intervalMs: number;
  /** Projected p95 time from an issue update to its job being queued. */
  readonly latencyMs: number;
  readonly boundBy: CapacityBound;
}

export interface Capacity {
  readonly paths: Readonly<Record<DetectionPath, PathCapacity>>;
  /** Walk-path members that fit the REST budget at parseInterval. */
  readonly walkFits: number;
  /** How often stream-path members are reconciled by a sweep, at the most. */
  readonly reconcileIntervalMs: number;
  /** What an idle fleet costs per hour: REST requests that spend primary budget, all REST requests, GraphQL points. */
  readonly idlePerHour: { readonly restPrimary: number; readonly restRequests: number; readonly graphqlPoints: number };
}

/** Detection leaves a fifth of each budget to the dispatcher (marker checks, comments) and to other clients of the token. */
export const DETECTION_SHARE = 0.8;
/** GitHub's documented share of CPU time GraphQL may use: 60 s of 90 s. */
const GRAPHQL_CPU_SHARE = 2 / 3;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DEFAULT_REST_MS = 200;
const DEFAULT_GRAPHQL_MS = 1_000;

/**
 * GitHub's cost of one sweep query: two `first: 1` connections per
 * repository, one request each; their sum divided by 100 and rounded to the
 * nearest whole number, at least 1.
 */
export function sweepQueryCost(batch: number): number {
  return Math.max(1, Math.round((2 * batch) / 100));
}

export function projectCapacity(input: CapacityInput): Capacity {
  const { budget, members } = input;
  const restMs = input.measured?.restMs ?? DEFAULT_REST_MS;
  const graphqlMs = input.measured?.graphqlMs ?? DEFAULT_GRAPHQL_MS;
  const batch = Math.max(1, input.sweepBatch);
  const parseMinutes = input.parseIntervalMs / MINUTE_MS;

  // REST: the streams and discovery come first; the walks get what is left of the detection share.
  const fixedRestPerMinute = input.streams / parseMinutes + (input.discoveryPages * MINUTE_MS) / input.discoveryIntervalMs;
  const restForWalks = Math.max(1, budget.restPointsPerMinute * DETECTION_SHARE - fixedRestPerMinute);
  const graphqlCpuMs = budget.cpuMsPerMinute * GRAPHQL_CPU_SHARE * DETECTION_SHARE;

  // GraphQL: the reconciliation of stream-path members first, the sweep path gets the rest.
  const reconcileQueries = Math.ceil(members.stream / batch);
  const reconcilePerMinute = (reconcileQueries * MINUTE_MS) / input.reconcileIntervalMs;
  const sweepQueries = Math.ceil(members.sweep / batch);
  const graphqlPointsLeft = Math.max(1, budget.graphqlPointsPerMinute * DETECTION_SHARE - reconcilePerMinute);
  const graphqlCpuLeft = Math.max(1, graphqlCpuMs - reconcilePerMinute * graphqlMs);
  const primaryPerMinute = (budget.graphqlPointsPerHour * DETECTION_SHARE * MINUTE_MS) / HOUR_MS;
  const primaryLeft = Math.max(1, primaryPerMinute - reconcilePerMinute * sweepQueryCost(batch));
  // REST CPU: what GraphQL does not use of the detection share.
  const restCpuMs = Math.max(1, budget.cpuMsPerMinute * DETECTION_SHARE - reconcilePerMinute * graphqlMs - (sweepQueries * graphqlMs * MINUTE_MS) / input.parseIntervalMs);

  const perWalk = Math.max(1, input.requestsPerWalk ?? 1);
  const walk = stretch(input.parseIntervalMs, members.walk * perWalk, [
    ['rest-points', restForWalks],
    ['cpu-time', restCpuMs / restMs],
    ['min-interval', budget.minIntervalMs > 0 ? MINUTE_MS / budget.minIntervalMs : Number.POSITIVE_INFINITY],
  ]);
  const sweep = stretch(input.parseIntervalMs, sweepQueries, [
    ['graphql-points', graphqlPointsLeft],
    ['cpu-time', graphqlCpuLeft / graphqlMs],
    ['graphql-primary', primaryLeft / sweepQueryCost(batch)],
  ]);
  const walkFits = Math.floor((Math.min(restForWalks, restCpuMs / restMs) * parseMinutes) / perWalk);

  // A change is seen at the next look (p95 of a uniform phase), plus the requests that follow:
  // a stream page; a sweep then a walk; a walk.
  const paths: Record<DetectionPath, PathCapacity> = {
    walk: { members: members.walk, intervalMs: walk.intervalMs, latencyMs: 0.95 * walk.intervalMs + restMs, boundBy: walk.boundBy },
    stream: {
      members: members.stream,
      intervalMs: input.parseIntervalMs,
      latencyMs: 0.95 * input.parseIntervalMs + restMs,
      boundBy: 'interval',
    },
    sweep: {
      members: members.sweep,
      intervalMs: sweep.intervalMs,
      latencyMs: 0.95 * sweep.intervalMs + graphqlMs + restMs,
      boundBy: sweep.boundBy,
    },
  };
  const hours = (intervalMs: number): number => HOUR_MS / intervalMs;
  const streamRequests = input.streams * hours(input.parseIntervalMs);
  const walkRequests = members.walk * perWalk * hours(walk.intervalMs);
  const discovery = input.discoveryPages * hours(input.discoveryIntervalMs);
  return {
    paths,
    walkFits,
    reconcileIntervalMs: input.reconcileIntervalMs,
    idlePerHour: {
      // Idle streams and walks are answered 304, free of the primary budget; discovery's listings are not.
      restPrimary: discovery,
      restRequests: streamRequests + walkRequests + discovery,
      graphqlPoints: (reconcileQueries * hours(input.reconcileIntervalMs) + sweepQueries * hours(sweep.intervalMs)) * sweepQueryCost(batch),
    },
  };
}

/**
 * The interval at which `units` requests a round fit every budget: the
 * configured one, or longer, bound by the tightest budget (per minute).
 */
function stretch(configuredMs: number, units: number, budgets: ReadonlyArray<readonly [CapacityBound, number]>): { intervalMs: number; boundBy: CapacityBound } {
  let intervalMs = configuredMs;
  let boundBy: CapacityBound = 'interval';
  for (const [bound, perMinute] of budgets) {
    if (!(perMinute > 0) || !Number.isFinite(perMinute)) continue;
    const needed = (units / perMinute) * MINUTE_MS;
    if (needed > intervalMs) {
      intervalMs = needed;
      boundBy = bound;
    }
  }
  return { intervalMs: Math.ceil(intervalMs), boundBy };
}

/** `12 s`, `4.5 min`, `2.1 h`: how a projected latency reads in `status`. */
export function describeLatency(ms: number): string {
  if (ms < 90_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 90 * MINUTE_MS) return `${(ms / MINUTE_MS).toFixed(1)} min`;
  return `${(ms / HOUR_MS).toFixed(1)} h`;
}
