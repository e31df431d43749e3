/**
 * How the issue poller walks an `updated`-ascending list that GitHub pages by
 * offset, without losing issues and without ever looping
 * (docs/decisions/003-walking-an-offset-paged-backlog.md).
 *
 * Paging a fixed `since` with page=2, 3, ... loses issues: an issue that changes
 * mid-walk moves to the end of the list and shifts every later page back by
 * one. So after each full page we restart at page 1 with `since` advanced to
 * the newest `updated_at` seen. Anything that changes after we read it now has
 * a newer `updated_at` and is still ahead of us. `since` is inclusive, so the
 * boundary issues come back once more; storing them again is harmless (the
 * store ignores unchanged rows).
 *
 * A full page whose issues all share the `since` instant T cannot advance
 * `since`: only then do we step to the next page of that instant, which is
 * offset paging again. So when the walk leaves such a run of T, it walks the
 * run again from page 1, collecting the ids it sees at T, until two
 * consecutive walks see the same ids. An issue can only slide onto a page
 * already read when an issue read earlier in the walk leaves T (it changed);
 * that issue is then missing from the next walk, so two equal walks prove the
 * first of them missed nothing. While inside such a run the saved cursor is
 * the run's page 1, so a crash restarts the run rather than resuming mid-run.
 *
 * The last (partial) page does not advance `since`: its request is repeated on
 * the next pass with its ETag, and a 304 means nothing changed, for free.
 *
 * Every walk is bounded: an empty page announcing a next one, the same page
 * twice, issues older than `since`, a run that keeps changing, or more pages
 * than `maxPages` end the pass with a WalkStalledError, and the cursor saved
 * is never one that only a misbehaving server could have produced.
 */
import type { Issue, SyncCursor } from '../../entities.js';
import type { SkippedIssue } from '../../ports.js';

export interface PageSeen {
  /** The page's items (issues, or comments for the comment poller): only their id and `updated_at` matter here. */
  readonly issues: readonly Pick<Issue, 'githubId' | 'updatedAt'>[];
  /** Items that failed validation: they still hold their place in the list. */
  readonly skipped?: readonly Pick<SkippedIssue, 'githubId' | 'updatedAt'>[];
  readonly hasNextPage: boolean;
  readonly etag: string | null;
}

export interface NextStep {
  /** The request to make next, when `more`. */
  readonly cursor: SyncCursor;
  /** The cursor to store with this page: where the next pass, or a restart after a crash, resumes. */
  readonly saved: SyncCursor;
  /** Whether to request another page in this pass. */
  readonly more: boolean;
}

export interface WalkLimits {
  /** Pages in one pass before it stops with an error (the next pass resumes from the saved cursor). Default 2,000 (200,000 issues). */
  readonly maxPages?: number;
  /** Walks of one run of identical timestamps before the pass stops with an error. Default 10. */
  readonly maxRunWalks?: number;
}

export const DEFAULT_MAX_PAGES = 2_000;
export const DEFAULT_MAX_RUN_WALKS = 10;

/** The listing did not make progress: the pass stops rather than loop or store a runaway cursor. */
export class WalkStalledError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WalkStalledError';
  }
}

interface Entry {
  readonly id: number | null;
  /** Epoch ms, or null when the item had no valid updated_at. */
  readonly at: number | null;
  readonly updatedAt: string | null;
}

/** A run of full pages at one instant, walked by offset. */
interface Run {
  readonly since: string;
  readonly at: number;
  /** Ids seen at the run's instant in the current walk of it. */
  seen: Set<number>;
  /** Ids seen in the walk before, when that walk started at the run's page 1. */
  previous: Set<number> | null;
  /** Whether the current walk started at the run's page 1 (a resumed pass may start further in). */
  complete: boolean;
  walks: number;
}

/** One pass over the listing: feed it each page in turn; it says what to request and what to save. */
export class BacklogWalk {
  readonly #maxPages: number;
  readonly #maxRunWalks: number;
  #cursor: SyncCursor;
  #pages = 0;
  #previousSignature: string | null = null;
  #run: Run | null = null;

  constructor(start: SyncCursor, limits: WalkLimits = {}) {
    this.#cursor = start;
    this.#maxPages = limits.maxPages ?? DEFAULT_MAX_PAGES;
    this.#maxRunWalks = limits.maxRunWalks ?? DEFAULT_MAX_RUN_WALKS;
    if (!(this.#maxPages >= 1) || !(this.#maxRunWalks >= 2)) {
      throw new RangeError(`walk limits: maxPages must be >= 1 and maxRunWalks >= 2, got ${this.#maxPages} and ${this.#maxRunWalks}`);
    }
  }

  /** The request to make next. */
  get cursor(): SyncCursor {
    return this.#cursor;
  }

  get pages(): number {
    return this.#pages;
  }

  /**
   * What the page just read (for `cursor`) means. Throws WalkStalledError when
   * the listing misbehaves; the page is then not to be stored.
   */
  next(page: PageSeen): NextStep {
    const request = this.#cursor;
    const entries = entriesOf(page);
    this.#checkProgress(request, page, entries);
    this.#pages++;
    const since = request.since;
    const run = this.#run !== null && this.#run.since === since ? this.#run : null;
    if (run) for (const entry of entries) if (entry.at === run.at && entry.id !== null) run.seen.add(entry.id);

    if (!page.hasNextPage) return this.#finish(run, this.#endCursor(request, page, entries));
    const timed = entries.filter((entry): entry is Entry & { at: number; updatedAt: string } => entry.at !== null);
    if (timed.length === 0) throw new WalkStalledError(`page ${request.page} held only malformed issues, none with a valid updated_at, and announced another page`);
    const sinceAt = since === null ? null : Date.parse(since);
    const older = sinceAt === null ? undefined : timed.find((entry) => entry.at < sinceAt);
    if (older) {
      throw new WalkStalledError(`GitHub listed an issue updated at ${older.updatedAt}, before since=${since}: the server ignores the since parameter`);
    }
    const newest = timed.reduce((a, b) => (b.at > a.at ? b : a));
    if (since === null || sinceAt === null || newest.at > sinceAt) {
      return this.#finish(run, { since: newest.updatedAt, page: 1, etag: null }, true);
    }
    // A whole page at the instant `since`: step the page, inside a run of that instant.
    if (!run) {
      const ids = new Set(entries.flatMap((entry) => (entry.id === null ? [] : [entry.id])));
      this.#run = { since, at: sinceAt, seen: ids, previous: null, complete: request.page === 1, walks: 0 };
    }
    return this.#go({ since, page: request.page + 1, etag: null }, { since, page: 1, etag: null }, true);
  }

  /** Whether the pass has read as many pages as it may and must stop with an error. */
  get exhausted(): boolean {
    return this.#pages >= this.#maxPages;
  }

  get maxPages(): number {
    return this.#maxPages;
  }

  /** Rejects what only a misbehaving listing sends. */
  #checkProgress(request: SyncCursor, page: PageSeen, entries: readonly Entry[]): void {
    if (entries.length === 0 && page.hasNextPage) {
      throw new WalkStalledError(`page ${request.page} was empty but announced another page`);
    }
    const signature = entries.map((entry) => entry.id ?? '?').join(',');
    const stepped = this.#run !== null && this.#run.since === request.since && request.page > 1;
    const previous = this.#previousSignature;
    this.#previousSignature = signature;
    if (stepped && entries.length > 0 && signature === previous) {
      throw new WalkStalledError(`page ${request.page} held the same issues as page ${request.page - 1}: the server ignores the page parameter`);
    }
  }

  /** The request to repeat on the next pass once caught up. */
  #endCursor(request: SyncCursor, page: PageSeen, entries: readonly Entry[]): SyncCursor {
    // An empty page past the first: issues were deleted under the cursor. Going
    // back to page 1 of the instant keeps issues that arrive later from landing
    // on pages before the cursor.
    if (entries.length === 0 && request.page > 1) return { since: request.since, page: 1, etag: null };
    return { since: request.since, page: request.page, etag: page.etag };
  }

  /** The walk goes on to `after` (more) or ends there, unless it is leaving a run it has not verified yet. */
  #finish(run: Run | null, after: SyncCursor, more = false): NextStep {
    if (run === null) return this.#go(after, after, more);
    run.walks++;
    if (run.previous !== null && sameIds(run.previous, run.seen)) {
      this.#run = null;
      return this.#go(after, after, more);
    }
    if (run.walks >= this.#maxRunWalks) {
      throw new WalkStalledError(
        `the issues updated at ${run.since} kept changing during ${run.walks} walks of them; the next pass walks them again`,
      );
    }
    run.previous = run.complete ? run.seen : null;
    run.seen = new Set();
    run.complete = true;
    const restart = { since: run.since, page: 1, etag: null };
    return this.#go(restart, restart, true);
  }

  #go(cursor: SyncCursor, saved: SyncCursor, more: boolean): NextStep {
    this.#cursor = cursor;
    return { cursor, saved, more };
  }
}

function entriesOf(page: PageSeen): Entry[] {
  const entries: Entry[] = page.issues.map((issue) => ({ id: issue.githubId, at: parseTime(issue.updatedAt), updatedAt: issue.updatedAt }));
  for (const item of page.skipped ?? []) entries.push({ id: item.githubId, at: parseTime(item.updatedAt), updatedAt: item.updatedAt });
  return entries;
}

function parseTime(iso: string | null): number | null {
  if (iso === null) return null;
  const at = Date.parse(iso);
  return Number.isNaN(at) ? null : at;
}

function sameIds(a: ReadonlySet<number>, b: ReadonlySet<number>): boolean {
  if (a.size !== b.size) return false;
  for (const id of a) if (!b.has(id)) return false;
  return true;
}
