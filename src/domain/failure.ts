/**
 * How a failure should be treated, as small structural facts rather than
 * class hierarchies (see docs/architecture.md, "Errors and retry live in one place").
 *
 * Only adapters (GitHub client, AI executors, store) attach these facts to the
 * errors they create. Domain code wraps errors with `cause`; the scheduler walks
 * the cause chain and asks. Nobody else retries.
 */

/**
 * - `node`: the transport failed (DNS, reset, refused, TLS, timeout, truncated body).
 * - `service`: the remote is under pressure (rate limit, 5xx, secondary limit).
 * - `permanent`: retrying cannot help (bad credentials, not found, no access).
 *
 * An error without any of these is *unknown*.
 */
export type FailureKind = 'node' | 'service' | 'permanent';

export interface Classified {
  readonly failureKind: FailureKind;
}

/**
 * The failure is the daemon's, not the job's: no job can succeed until an
 * operator acts (or the backend changes), so the consumer pauses instead of
 * spending attempts. It travels next to `failureKind` (which stays `permanent`:
 * in setup such a failure is fatal as before).
 * - `credential`: a token or API key was rejected (GitHub 401, a model server's 401/403).
 * - `permission`: the token works but lacks a scope or permission (a GitHub 403 that is not a rate limit).
 * - `configuration`: the configuration names something the backend does not have (a model, an endpoint path).
 * - `unavailable`: the backend (the model server, GitHub) fails for every job: unreachable, or 5xx/429.
 *   Adapters do not attach it (they classify such failures `node`/`service`, retried);
 *   the dispatcher records it when no job gets through, so a dead model never looks healthy.
 */
export const PAUSE_REASONS = ['credential', 'permission', 'configuration', 'unavailable'] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

export interface PausesWork {
  readonly pausesWork: PauseReason;
}

export interface WaitHinted {
  /** Exactly how long the remote asked us to wait, in milliseconds. */
  readonly waitMs: number;
}

const MAX_CAUSE_DEPTH = 16;

function* causeChain(error: unknown): Generator<unknown> {
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current !== undefined && current !== null; depth++) {
    yield current;
    current = typeof current === 'object' && 'cause' in current ? (current as { cause?: unknown }).cause : undefined;
  }
}

function isClassified(value: unknown): value is Classified {
  if (typeof value !== 'object' || value === null || !('failureKind' in value)) return false;
  const kind = (value as { failureKind: unknown }).failureKind;
  return kind === 'node' || kind === 'service' || kind === 'permanent';
}

function isWaitHinted(value: unknown): value is WaitHinted {
  return (
    typeof value === 'object' &&
    value !== null &&
    'waitMs' in value &&
    typeof (value as { waitMs: unknown }).waitMs === 'number' &&
    Number.isFinite((value as { waitMs: number }).waitMs)
  );
}

function isPausing(value: unknown): value is PausesWork {
  if (typeof value !== 'object' || value === null || !('pausesWork' in value)) return false;
  const reason = (value as { pausesWork: unknown }).pausesWork;
  return PAUSE_REASONS.some((known) => known === reason);
}

/** Why the failure pauses work (the first such fact along the cause chain), or undefined when it is the job's. */
export function pauseReasonOf(error: unknown): PauseReason | undefined {
  for (const link of causeChain(error)) {
    if (isPausing(link)) return link.pausesWork;
  }
  return undefined;
}

/** The first classification found along the cause chain, or `unknown`. */
export function failureKindOf(error: unknown): FailureKind | 'unknown' {
  for (const link of causeChain(error)) {
    if (isClassified(link)) return link.failureKind;
  }
  return 'unknown';
}

/** The first wait hint found along the cause chain, in milliseconds. */
export function waitHintOf(error: unknown): number | undefined {
  for (const link of causeChain(error)) {
    if (isWaitHinted(link)) return Math.max(0, link.waitMs);
  }
  return undefined;
}

/** Whether a retry can help: node and service failures. */
export function isRetryable(error: unknown): boolean {
  const kind = failureKindOf(error);
  return kind === 'node' || kind === 'service';
}

/** Whether the failure was caused by our own shutdown signal. */
export function isAbort(error: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  for (const link of causeChain(error)) {
    if (link instanceof Error && link.name === 'AbortError') return true;
  }
  return false;
}

/** Options for adapters that create classified errors. */
export interface ClassifiedErrorOptions {
  readonly cause?: unknown;
  readonly waitMs?: number;
  /** The failure is the daemon's: see PausesWork. Default: the job's. */
  readonly pausesWork?: PauseReason;
}

/**
 * The error adapters throw. It is a plain Error carrying the facts above; the
 * scheduler never checks its class, only the facts.
 */
export class ClassifiedError extends Error implements Classified {
  readonly failureKind: FailureKind;
  readonly waitMs?: number;
  readonly pausesWork?: PauseReason;

  constructor(kind: FailureKind, message: string, options: ClassifiedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClassifiedError';
    this.failureKind = kind;
    if (options.waitMs !== undefined) this.waitMs = options.waitMs;
    if (options.pausesWork !== undefined) this.pausesWork = options.pausesWork;
  }
}

/** Message of an error and its causes, joined, for logs and job records. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  for (const link of causeChain(error)) {
    const message = link instanceof Error ? link.message : String(link);
    if (message && !parts.includes(message)) parts.push(message);
  }
  return parts.join(': ') || 'unknown error';
}
