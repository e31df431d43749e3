/**
 * How the issue poller walks an `updated`-ascending list that GitHub pages by
 * offset, without losing issues.
 *
 * Paging a fixed `since` with page=2, 3, ... loses issues: an issue that changes
 * mid-walk moves to the end of the list and shifts every later page back by
 * one. So after each full page we restart at page 1 with `since` advanced to
 * the newest `updated_at` seen. Anything that changes after we read it now has
 * a newer `updated_at` and is still ahead of us. `since` is inclusive, so the
 * boundary issues come back once more; storing them again is harmless (the
 * store ignores unchanged rows).
 *
 * A full page whose issues all share the `since` instant cannot advance
 * `since`; only then do we step to the next page of that instant.
 *
 * The last (partial) page does not advance `since`: its request is repeated on
 * the next pass with its ETag, and a 304 means nothing changed, for free.
 */
import type { Issue, SyncCursor } from '../../entities.js';

export interface PageSeen {
  readonly issues: readonly Issue[];
  readonly hasNextPage: boolean;
  readonly etag: string | null;
}

export interface NextStep {
  readonly cursor: SyncCursor;
  /** Whether to request another page in this pass. */
  readonly more: boolean;
}

export function nextStep(current: SyncCursor, page: PageSeen): NextStep {
  if (!page.hasNextPage || page.issues.length === 0) {
    // Caught up: keep this request, so the next pass can repeat it with its ETag.
    return { cursor: { since: current.since, page: current.page, etag: page.etag }, more: false };
  }
  const newest = newestUpdate(page.issues);
  if (current.since === null || Date.parse(newest) > Date.parse(current.since)) {
    return { cursor: { since: newest, page: 1, etag: null }, more: true };
  }
  // A whole page of issues updated at the same instant as `since`.
  return { cursor: { since: current.since, page: current.page + 1, etag: null }, more: true };
}

function newestUpdate(issues: readonly Issue[]): string {
  let newest = issues[0]?.updatedAt ?? '';
  for (const issue of issues) {
    if (Date.parse(issue.updatedAt) > Date.parse(newest)) newest = issue.updatedAt;
  }
  return newest;
}
