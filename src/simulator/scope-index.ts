/**
 * Orderings of issues across repositories, for the organisation and user issue listings. A fleet's stream
 * asks for a page of 100 out of tens of thousands every few seconds: the sort is kept until something
 * changes, so a request only filters and slices.
 */
import type { IssueRecord } from './state.js';

export type ScopeSort = 'created' | 'updated' | 'comments';

interface Ordering {
  changes: number;
  issues: IssueRecord[];
}

/** Timestamps are all ISO 8601 at second resolution with a Z, so text order is time order. */
function compare(sort: ScopeSort): (a: IssueRecord, b: IssueRecord) => number {
  switch (sort) {
    case 'comments':
      return (a, b) => a.comments.length - b.comments.length || a.id - b.id;
    case 'created':
      return (a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id - b.id);
    case 'updated':
      return (a, b) => (a.updatedAt < b.updatedAt ? -1 : a.updatedAt > b.updatedAt ? 1 : a.id - b.id);
  }
}

export class ScopeIndex {
  private readonly orderings = new Map<string, Ordering>();

  constructor(private readonly all: () => Iterable<IssueRecord>) {}

  /** Ascending; `changes` is the model's change counter, a different value rebuilds. */
  sorted(owner: string | null, sort: ScopeSort, changes: number): readonly IssueRecord[] {
    const wanted = owner?.toLowerCase() ?? null;
    const key = `${wanted ?? ''}\n${sort}`;
    const cached = this.orderings.get(key);
    if (cached?.changes === changes) return cached.issues;
    const issues: IssueRecord[] = [];
    for (const issue of this.all()) {
      if (wanted === null || issue.repository.owner.toLowerCase() === wanted) issues.push(issue);
    }
    issues.sort(compare(sort));
    // Only the latest few scopes are worth keeping; a stale one would be rebuilt anyway.
    if (this.orderings.size > 16) this.orderings.clear();
    this.orderings.set(key, { changes, issues });
    return issues;
  }
}
