/** GitHub's primary rate limit: a budget per token that refills when its window's reset time has passed. */
import type { RateLimitState } from './types.js';

interface Budget {
  remaining: number;
  /** Epoch seconds. */
  resetAt: number;
}

export class RateLimitBudgets {
  private readonly budgets = new Map<string, Budget>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** The token's budget now, refilled first if its reset time has passed. */
  stateOf(token: string): RateLimitState {
    const budget = this.current(token);
    return {
      limit: this.limit,
      remaining: budget.remaining,
      used: Math.max(0, this.limit - budget.remaining),
      resetAt: budget.resetAt,
    };
  }

  set(token: string, state: { remaining: number; resetAt?: number }): void {
    const budget = this.current(token);
    budget.remaining = Math.max(0, Math.floor(state.remaining));
    if (state.resetAt !== undefined) budget.resetAt = state.resetAt;
  }

  /** True when the budget is spent and the reset is still ahead: the request must be refused. */
  exhausted(token: string): boolean {
    return this.current(token).remaining <= 0;
  }

  charge(token: string, points = 1): void {
    const budget = this.current(token);
    budget.remaining = Math.max(0, budget.remaining - points);
  }

  /** What an unauthenticated caller sees: GitHub's anonymous limit of 60, never charged here. */
  anonymous(): RateLimitState {
    return { limit: 60, remaining: 60, used: 0, resetAt: this.freshResetAt() };
  }

  private current(token: string): Budget {
    let budget = this.budgets.get(token);
    if (!budget || this.now() >= budget.resetAt * 1000) {
      // Like GitHub, a window starts with the first request after the previous one ended.
      budget = { remaining: this.limit, resetAt: this.freshResetAt() };
      this.budgets.set(token, budget);
    }
    return budget;
  }

  private freshResetAt(): number {
    return Math.ceil((this.now() + this.windowMs) / 1000);
  }
}
