/**
 * The one retry baseline, by classification (docs/architecture.md, "Errors and
 * retry live in one place"). The delay series come from cockatiel's
 * ExponentialBackoff; the waiting itself is done by the scheduler, because
 * cockatiel's retry loop cannot be interrupted by a shutdown signal.
 */
import { ExponentialBackoff, noJitterGenerator, type IBackoff } from 'cockatiel';
import { failureKindOf, waitHintOf, type FailureKind } from '../domain/failure.js';

export interface BackoffRange {
  readonly initialMs: number;
  readonly maxMs: number;
}

export interface RetryBaseline {
  /** Transport failed: retry soon. */
  readonly node: BackoffRange;
  /** Remote under pressure: retry gently, or exactly as long as it asked. */
  readonly service: BackoffRange;
  /** Nobody recognised the failure: degraded, loud, slow. Also used for permanent failures in work. */
  readonly unknown: BackoffRange;
}

export const DEFAULT_BASELINE: RetryBaseline = {
  node: { initialMs: 2_000, maxMs: 120_000 },
  service: { initialMs: 5_000, maxMs: 300_000 },
  unknown: { initialMs: 30_000, maxMs: 300_000 },
};

/** `baseline` with every wait multiplied by `factor` (AUTOSOLVE_TEST_RETRY_SCALE: tests only), at least 1 ms. */
export function scaledBaseline(factor: number, baseline: RetryBaseline = DEFAULT_BASELINE): RetryBaseline {
  if (factor === 1) return baseline;
  const scale = (range: BackoffRange): BackoffRange => ({
    initialMs: Math.max(1, Math.round(range.initialMs * factor)),
    maxMs: Math.max(1, Math.round(range.maxMs * factor)),
  });
  return { node: scale(baseline.node), service: scale(baseline.service), unknown: scale(baseline.unknown) };
}

export interface RetryDecision {
  readonly kind: FailureKind | 'unknown';
  readonly delayMs: number;
  /** The remote said how long: we wait exactly that. */
  readonly hinted: boolean;
}

type Series = 'node' | 'service' | 'unknown';

/** Successive delays for one job; `reset()` after a success. */
export class ClassifiedBackoff {
  readonly #states = new Map<Series, IBackoff<unknown>>();

  constructor(private readonly baseline: RetryBaseline = DEFAULT_BASELINE) {}

  next(error: unknown): RetryDecision {
    const kind = failureKindOf(error);
    const hint = waitHintOf(error);
    const series: Series = kind === 'node' || kind === 'service' ? kind : 'unknown';
    const previous = this.#states.get(series);
    const state = previous ? previous.next(undefined) : this.#factory(series).next();
    this.#states.set(series, state);
    if (kind === 'service' && hint !== undefined) return { kind, delayMs: hint, hinted: true };
    return { kind, delayMs: Math.round(state.duration), hinted: false };
  }

  reset(): void {
    this.#states.clear();
  }

  #factory(series: Series): ExponentialBackoff<unknown> {
    const range = this.baseline[series];
    // No jitter: the throttle already spreads requests out, and operators read
    // "retrying in 8s" in the logs; predictable doubling is easier to follow.
    return new ExponentialBackoff({ initialDelay: range.initialMs, maxDelay: range.maxMs, generator: noJitterGenerator });
  }
}

/**
 * The callbacks waiting on each signal. One abort listener per signal however
 * many pauses share it: 200 pollers waiting for their next pass on the one
 * shutdown signal would otherwise trip Node's MaxListenersExceededWarning.
 */
const pausesBySignal = new WeakMap<AbortSignal, Set<() => void>>();

function whenAborted(signal: AbortSignal, callback: () => void): () => void {
  let callbacks = pausesBySignal.get(signal);
  if (callbacks === undefined) {
    const waiting = new Set<() => void>();
    callbacks = waiting;
    pausesBySignal.set(signal, waiting);
    signal.addEventListener(
      'abort',
      () => {
        pausesBySignal.delete(signal);
        for (const notify of waiting) notify();
      },
      { once: true },
    );
  }
  const registered = callbacks;
  registered.add(callback);
  return () => registered.delete(callback);
}

/** Waits `ms`, or less when the signal aborts; resolves false when aborted. */
export function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const forget = whenAborted(signal, () => {
      clearTimeout(timer);
      resolve(false);
    });
    const timer = setTimeout(() => {
      forget();
      resolve(true);
    }, ms);
  });
}

/**
 * Like pause, but also ends early (resolving true) when `subscribe`'s callback
 * is called; everything it registered is removed when it ends.
 */
export function pauseOrWake(ms: number, signal: AbortSignal, subscribe: (wakeUp: () => void) => () => void): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    let settled = false;
    const cleanups: Array<() => void> = [];
    const done = (value: boolean) => {
      if (settled) return;
      settled = true;
      for (const cleanup of cleanups) cleanup();
      resolve(value);
    };
    const timer = setTimeout(() => done(true), ms);
    cleanups.push(() => clearTimeout(timer));
    cleanups.push(whenAborted(signal, () => done(false)));
    cleanups.push(subscribe(() => done(true)));
  });
}

/** How an operator would call each classification, for log lines (the values stay in fields and metrics). */
export const KIND_WORDS: Readonly<Record<RetryDecision['kind'], string>> = {
  node: 'network',
  service: 'server busy',
  permanent: 'permanent',
  unknown: 'unrecognised',
};

/** `800ms`, `2s`, `1.5s`, `2m`, `1m30s`, `1h`: a wait as people read it. */
export function formatWait(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  const seconds = Math.round(ms / 1000);
  const parts = [
    [Math.floor(seconds / 3600), 'h'],
    [Math.floor((seconds % 3600) / 60), 'm'],
    [seconds % 60, 's'],
  ] as const;
  return parts.filter(([amount]) => amount > 0).map(([amount, unit]) => `${amount}${unit}`).join('');
}
