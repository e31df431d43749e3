/**
 * How many repositories the next sweep query asks about. GraphQL cost and
 * GitHub's 10-second query timeout both grow with the batch, so the size
 * follows the answers: a slow answer (or a query failing as a whole) halves it,
 * a quick one grows it by a quarter, up to GitHub's 100 nodes per connection.
 */

/** The most repositories one query asks about. */
export const MAX_SWEEP_BATCH = 100;
/** An answer slower than this counts as slow. */
export const SLOW_SWEEP_MS = 5_000;

export class SweepBatchSize {
  /** Kept fractional, so that growing from 1 or 2 by a quarter still moves. */
  #size: number;
  readonly #slowMs: number;

  /** `initial`: github.fleet.sweepBatch. */
  constructor(initial: number, slowMs = SLOW_SWEEP_MS) {
    this.#size = clamp(initial);
    this.#slowMs = slowMs;
  }

  get current(): number {
    return Math.floor(this.#size);
  }

  answered(elapsedMs: number): void {
    this.#size = clamp(elapsedMs > this.#slowMs ? this.#size / 2 : this.#size * 1.25);
  }

  failed(): void {
    this.#size = clamp(this.#size / 2);
  }
}

function clamp(size: number): number {
  return Math.min(MAX_SWEEP_BATCH, Math.max(1, Number.isFinite(size) ? size : 1));
}
