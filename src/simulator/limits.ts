/**
 * GitHub's secondary rate limits per token over a sliding minute (points, GraphQL points, CPU time,
 * GraphQL CPU time) and its concurrency limit, each enforced only when configured; and the log of every
 * request refused by a limit, primary or secondary, for tests and benchmarks to assert "no breach".
 */
import type { SecondaryLimits, SimBreach, SimBreachKind } from './types.js';

const WINDOW_MS = 60_000;

export type Api = 'rest' | 'graphql';

interface Spent {
  at: number;
  points: number;
  graphqlPoints: number;
  cpuMs: number;
  graphqlCpuMs: number;
}

interface TokenUse {
  spent: Spent[];
  inFlight: number;
}

/** Secondary points as GitHub documents them: REST reads 1, REST writes 5; GraphQL queries 1, mutations 5. */
export function restPoints(method: string): number {
  return ['GET', 'HEAD', 'OPTIONS'].includes(method) ? 1 : 5;
}

export class SecondaryLimiter {
  private readonly uses = new Map<string, TokenUse>();

  constructor(
    private readonly limits: SecondaryLimits,
    private readonly now: () => number,
  ) {}

  /**
   * Admits a request (counts its points and holds a concurrency place) or names the limit it would break;
   * a refused request counts for nothing.
   */
  admit(token: string, api: Api, points: number): SimBreachKind | null {
    const use = this.current(token);
    const sums = this.sums(use);
    const { limits } = this;
    if (limits.maxConcurrent !== undefined && use.inFlight >= limits.maxConcurrent) return 'secondary-concurrency';
    if (api === 'rest' && limits.restPointsPerMinute !== undefined && sums.points + points > limits.restPointsPerMinute) {
      return 'secondary-points';
    }
    if (
      api === 'graphql' &&
      limits.graphqlPointsPerMinute !== undefined &&
      sums.graphqlPoints + points > limits.graphqlPointsPerMinute
    ) {
      return 'secondary-graphql-points';
    }
    if (limits.cpuMsPerMinute !== undefined && sums.cpuMs + sums.graphqlCpuMs >= limits.cpuMsPerMinute) return 'secondary-cpu';
    if (api === 'graphql' && limits.graphqlCpuMsPerMinute !== undefined && sums.graphqlCpuMs >= limits.graphqlCpuMsPerMinute) {
      return 'secondary-graphql-cpu';
    }
    use.inFlight++;
    use.spent.push({
      at: this.now(),
      points: api === 'rest' ? points : 0,
      graphqlPoints: api === 'graphql' ? points : 0,
      cpuMs: 0,
      graphqlCpuMs: 0,
    });
    return null;
  }

  /** The admitted request is answered: its place is free, its time counts as CPU time. */
  finish(token: string, api: Api, cpuMs: number): void {
    const use = this.current(token);
    use.inFlight = Math.max(0, use.inFlight - 1);
    if (cpuMs > 0) {
      use.spent.push({
        at: this.now(),
        points: 0,
        graphqlPoints: 0,
        cpuMs: api === 'rest' ? cpuMs : 0,
        graphqlCpuMs: api === 'graphql' ? cpuMs : 0,
      });
    }
  }

  /** Seconds until the oldest use in the window leaves it: when a refused caller may try again. */
  retryAfterSeconds(token: string): number {
    const oldest = this.current(token).spent[0];
    if (!oldest) return 1;
    return Math.max(1, Math.ceil((oldest.at + WINDOW_MS - this.now()) / 1000));
  }

  private current(token: string): TokenUse {
    let use = this.uses.get(token);
    if (!use) {
      use = { spent: [], inFlight: 0 };
      this.uses.set(token, use);
    }
    const cutoff = this.now() - WINDOW_MS;
    let stale = 0;
    while (stale < use.spent.length && (use.spent[stale] as Spent).at <= cutoff) stale++;
    if (stale > 0) use.spent.splice(0, stale);
    return use;
  }

  private sums(use: TokenUse): Omit<Spent, 'at'> {
    const sums = { points: 0, graphqlPoints: 0, cpuMs: 0, graphqlCpuMs: 0 };
    for (const spent of use.spent) {
      sums.points += spent.points;
      sums.graphqlPoints += spent.graphqlPoints;
      sums.cpuMs += spent.cpuMs;
      sums.graphqlCpuMs += spent.graphqlCpuMs;
    }
    return sums;
  }
}

export class BreachLog {
  private readonly entries: SimBreach[] = [];

  record(breach: SimBreach): void {
    this.entries.push(breach);
  }

  all(): readonly SimBreach[] {
    return this.entries;
  }
}
