/**
 * When a member is swept next. Stream-path members are reconciled every
 * reconcileInterval, quiet ones less often; sweep-path members every
 * (stretched) parseInterval; walk-path members are never swept (their walk sees
 * everything). First sweeps are spread over the interval by repository id, so
 * ten thousand members loaded at once do not all come due together.
 */
import type { DetectionPath } from './types.js';

/** The intervals the capacity projection currently allows, in milliseconds. */
export interface FleetIntervals {
  /** Walk-path members: the (stretched) github.issues.parseInterval. */
  readonly walkMs: number;
  /** Sweep-path members: the (stretched) parseInterval. */
  readonly sweepMs: number;
  /** Stream-path members: the (stretched) github.fleet.reconcileInterval, before the quiet factor. */
  readonly reconcileMs: number;
}

export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;
/** A quiet member is reconciled at most this many times less often than a busy one. */
export const MAX_QUIET_FACTOR = 4;

/** How quiet a stream-path member is: ×1 when it changed within a day, ×2 within a week, ×4 beyond (or never). */
export function quietFactor(lastChangeAt: number | null, now: number): number {
  if (lastChangeAt === null) return MAX_QUIET_FACTOR;
  const quiet = now - lastChangeAt;
  if (quiet >= WEEK_MS) return MAX_QUIET_FACTOR;
  if (quiet >= DAY_MS) return 2;
  return 1;
}

/** Milliseconds between two sweeps of a member; Infinity for the walk path. */
export function sweepInterval(path: DetectionPath, lastChangeAt: number | null, now: number, intervals: FleetIntervals): number {
  if (path === 'walk') return Number.POSITIVE_INFINITY;
  if (path === 'sweep') return intervals.sweepMs;
  return intervals.reconcileMs * quietFactor(lastChangeAt, now);
}

/**
 * A fraction in [0, 1) that depends only on the repository id: Fibonacci
 * hashing, so consecutive ids (how the store hands them out) land far apart.
 */
export function jitter(repositoryId: number): number {
  return (Math.imul(repositoryId, 0x9e3779b1) >>> 0) / 2 ** 32;
}

/** An ISO time as epoch milliseconds; -Infinity for null or garbage (older than anything). */
export function instant(iso: string | null): number {
  if (iso === null) return Number.NEGATIVE_INFINITY;
  const at = Date.parse(iso);
  return Number.isNaN(at) ? Number.NEGATIVE_INFINITY : at;
}

/**
 * The members due at `now`, the longest overdue first, at most `limit`; when
 * any is due, the last batch of `fillTo` is topped up with the members due
 * soonest (see Fleet.dueForSweep).
 */
export function pickDue<T extends { readonly nextSweepAt: number }>(members: Iterable<T>, now: number, limit: number, fillTo: number): T[] {
  const due: T[] = [];
  const soon: T[] = [];
  for (const member of members) {
    if (member.nextSweepAt <= now) due.push(member);
    else if (Number.isFinite(member.nextSweepAt)) soon.push(member);
  }
  if (due.length === 0) return [];
  due.sort((a, b) => a.nextSweepAt - b.nextSweepAt);
  const batch = Math.max(1, Math.floor(fillTo));
  const wanted = Math.min(Math.max(0, limit), Math.ceil(due.length / batch) * batch);
  if (wanted > due.length) {
    soon.sort((a, b) => a.nextSweepAt - b.nextSweepAt);
    due.push(...soon.slice(0, wanted - due.length));
  }
  return due.slice(0, wanted);
}
