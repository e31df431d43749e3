/**
 * The backlog walk's decisions page by page (src/domain/tasks/repository/backlog-walk.ts):
 * what it requests next, what it saves, when a run of one instant is proven
 * complete, and each listing it refuses. test/backlog-walk.test.ts drives it
 * through the simulator; these pin the rules one step at a time, for what a
 * mutation run found untested (docs/mutation-testing.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Issue, SyncCursor } from '../src/domain/entities.js';
import { BacklogWalk, DEFAULT_MAX_PAGES, DEFAULT_MAX_RUN_WALKS, WalkStalledError, type PageSeen } from '../src/domain/tasks/repository/backlog-walk.js';
import { issue } from './support/issues.js';

const T = '2026-06-01T12:00:00Z';
const LATER = '2026-06-01T12:00:05Z';
const EARLIER = '2026-06-01T11:59:00Z';

const at = (updatedAt: string, ...ids: number[]): Issue[] => ids.map((id) => issue(id, { updatedAt }));
const full = (issues: Issue[], etag: string | null = null): PageSeen => ({ issues, hasNextPage: true, etag });
const last = (issues: Issue[], etag: string | null = '"e1"'): PageSeen => ({ issues, hasNextPage: false, etag });
const cursor = (since: string | null, page = 1, etag: string | null = null): SyncCursor => ({ since, page, etag });

function stalls(walk: BacklogWalk, page: PageSeen, message: RegExp): void {
  assert.throws(() => walk.next(page), (error: unknown) => error instanceof WalkStalledError && error.name === 'WalkStalledError' && message.test(error.message));
}

describe('backlog walk, step by step', () => {
  it('has bounds that must allow a walk, with documented defaults', () => {
    assert.throws(() => new BacklogWalk(cursor(null), { maxPages: 0 }), /maxPages must be >= 1 and maxRunWalks >= 2, got 0 and 10/);
    assert.throws(() => new BacklogWalk(cursor(null), { maxRunWalks: 1 }), RangeError);
    assert.throws(() => new BacklogWalk(cursor(null), { maxPages: Number.NaN }), RangeError);
    assert.equal(new BacklogWalk(cursor(null), { maxPages: 1, maxRunWalks: 2 }).maxPages, 1);
    assert.equal(new BacklogWalk(cursor(null)).maxPages, DEFAULT_MAX_PAGES);
    assert.equal(DEFAULT_MAX_PAGES, 2_000);
    assert.equal(DEFAULT_MAX_RUN_WALKS, 10);
  });

  it('counts the pages it read and is exhausted at maxPages, not before', () => {
    const walk = new BacklogWalk(cursor(null), { maxPages: 2 });
    assert.equal(walk.pages, 0);
    walk.next(full(at(EARLIER, 1, 2)));
    assert.equal(walk.pages, 1);
    assert.equal(walk.exhausted, false);
    walk.next(full(at(LATER, 3, 4)));
    assert.equal(walk.pages, 2);
    assert.equal(walk.exhausted, true);
  });

  it('after a full page restarts at page 1 from the newest updated_at seen, and saves that', () => {
    const walk = new BacklogWalk(cursor(null));
    assert.deepEqual(walk.cursor, cursor(null));
    const step = walk.next(full([...at(T, 1), ...at(LATER, 2), ...at(EARLIER, 3)], '"ignored"'));
    assert.deepEqual(step, { cursor: cursor(LATER), saved: cursor(LATER), more: true });
    assert.deepEqual(walk.cursor, cursor(LATER));
    const onward = walk.next(full(at('2026-06-02T00:00:00Z', 4, 5)));
    assert.deepEqual(onward.cursor, cursor('2026-06-02T00:00:00Z'));
  });

  it('the last page ends the pass and is asked again next time with its ETag', () => {
    const walk = new BacklogWalk(cursor(T, 3));
    assert.deepEqual(walk.next(last(at(LATER, 1), '"abc"')), { cursor: cursor(T, 3, '"abc"'), saved: cursor(T, 3, '"abc"'), more: false });
  });

  it('an empty last page past page 1 goes back to page 1 of its instant; on page 1 it keeps its ETag', () => {
    assert.deepEqual(new BacklogWalk(cursor(T, 2)).next(last([], '"x"')).saved, cursor(T, 1));
    assert.deepEqual(new BacklogWalk(cursor(T, 1)).next(last([], '"x"')).saved, cursor(T, 1, '"x"'));
    assert.deepEqual(new BacklogWalk(cursor(null, 1)).next(last([], null)).saved, cursor(null, 1));
  });

  it('refuses an empty page that announces another', () => {
    stalls(new BacklogWalk(cursor(T, 4)), full([]), /^page 4 was empty but announced another page$/);
  });

  it('refuses a full page of only malformed items, but lets their timestamps place valid ones', () => {
    const broken = { githubId: 7, number: 7, updatedAt: null, reason: 'bad' };
    stalls(new BacklogWalk(cursor(null, 2)), { issues: [], skipped: [broken], hasNextPage: true, etag: null }, /^page 2 held only malformed issues/);
    const dated = { githubId: 8, number: 8, updatedAt: LATER, reason: 'bad title' };
    const step = new BacklogWalk(cursor(null)).next({ issues: at(T, 1), skipped: [dated], hasNextPage: true, etag: null });
    assert.equal(step.cursor.since, LATER, 'a skipped item still marks its place in the list');
    const garbled = { githubId: 9, number: 9, updatedAt: 'not a date', reason: 'bad date' };
    stalls(new BacklogWalk(cursor(null)), { issues: [], skipped: [garbled], hasNextPage: true, etag: null }, /malformed/);
  });

  it('refuses a listing that goes back before since: the server ignores the parameter', () => {
    stalls(new BacklogWalk(cursor(T)), full([...at(LATER, 1), ...at(EARLIER, 2)]), new RegExp(`^GitHub listed an issue updated at ${EARLIER}, before since=${T}`));
    // At since itself is fine.
    assert.equal(new BacklogWalk(cursor(T)).next(full([...at(T, 1), ...at(LATER, 2)])).cursor.since, LATER);
  });

  it('a whole page at since steps by offset, saving the run’s page 1', () => {
    const walk = new BacklogWalk(cursor(T));
    assert.deepEqual(walk.next(full(at(T, 1, 2))), { cursor: cursor(T, 2), saved: cursor(T, 1), more: true });
    assert.deepEqual(walk.next(full(at(T, 3, 4))), { cursor: cursor(T, 3), saved: cursor(T, 1), more: true });
  });

  it('leaves a run only after two walks of it saw the same issues', () => {
    const walk = new BacklogWalk(cursor(T));
    walk.next(full(at(T, 1, 2)));
    // First walk ends: not proven yet, walk the run again from page 1.
    assert.deepEqual(walk.next(last(at(T, 3), '"end"')), { cursor: cursor(T, 1), saved: cursor(T, 1), more: true });
    walk.next(full(at(T, 1, 2)));
    // Same ids: the walk ends where the listing ends.
    assert.deepEqual(walk.next(last(at(T, 3), '"end"')), { cursor: cursor(T, 2, '"end"'), saved: cursor(T, 2, '"end"'), more: false });
  });

  it('walks a run again when an issue left it, and proves the next walk', () => {
    const walk = new BacklogWalk(cursor(T));
    walk.next(full(at(T, 1, 2)));
    walk.next(last(at(T, 3)));
    walk.next(full(at(T, 1, 3))); // 2 changed and left the instant
    assert.deepEqual(walk.next(last(at(LATER, 2))).cursor, cursor(T, 1), 'different ids: again');
    walk.next(full(at(T, 1, 3)));
    assert.equal(walk.next(last(at(LATER, 2))).more, false);
  });

  it('a run that leaves through a newer full page is still proven before the walk goes on', () => {
    const walk = new BacklogWalk(cursor(T));
    walk.next(full(at(T, 1, 2)));
    assert.deepEqual(walk.next(full([...at(T, 3), ...at(LATER, 4)])), { cursor: cursor(T, 1), saved: cursor(T, 1), more: true });
    walk.next(full(at(T, 1, 2)));
    assert.deepEqual(walk.next(full([...at(T, 3), ...at(LATER, 4)])), { cursor: cursor(LATER), saved: cursor(LATER), more: true });
  });

  it('a pass resumed inside a run does not count its partial walk as proof', () => {
    const walk = new BacklogWalk(cursor(T, 2));
    walk.next(full(at(T, 3, 4)));
    assert.deepEqual(walk.next(last(at(T, 5))).cursor, cursor(T, 1), 'partial walk: walk the whole run');
    walk.next(full(at(T, 1, 2)));
    walk.next(full(at(T, 3, 4)));
    assert.deepEqual(walk.next(last(at(T, 5))).cursor, cursor(T, 1), 'first whole walk: not proven yet');
    walk.next(full(at(T, 1, 2)));
    walk.next(full(at(T, 3, 4)));
    assert.equal(walk.next(last(at(T, 5))).more, false);
  });

  it('gives up on a run that keeps changing after maxRunWalks walks', () => {
    const walk = new BacklogWalk(cursor(T), { maxRunWalks: 2 });
    walk.next(full(at(T, 1, 2)));
    walk.next(last(at(T, 3)));
    walk.next(full(at(T, 1, 2)));
    stalls(walk, last(at(T, 4)), new RegExp(`^the issues updated at ${T} kept changing during 2 walks of them`));
    const patient = new BacklogWalk(cursor(T), { maxRunWalks: 3 });
    patient.next(full(at(T, 1, 2)));
    patient.next(last(at(T, 3)));
    patient.next(full(at(T, 1, 2)));
    assert.equal(patient.next(last(at(T, 4))).more, true, 'a third walk is allowed');
  });

  it('counts only ids at the run’s instant: newer issues on the last page do not break the proof', () => {
    const walk = new BacklogWalk(cursor(T));
    walk.next(full(at(T, 1, 2)));
    walk.next(last([...at(T, 3), ...at(LATER, 10)]));
    walk.next(full(at(T, 1, 2)));
    assert.equal(walk.next(last([...at(T, 3), ...at(LATER, 11)])).more, false);
  });

  it('a run whose size changed is not proven, even when one walk’s ids contain the other’s', () => {
    const walk = new BacklogWalk(cursor(T));
    walk.next(full(at(T, 1, 2)));
    walk.next(last(at(T, 3, 4)));
    walk.next(full(at(T, 1, 2)));
    assert.equal(walk.next(last(at(T, 3))).more, true);
    const grown = new BacklogWalk(cursor(T));
    grown.next(full(at(T, 1, 2)));
    grown.next(last(at(T, 3)));
    grown.next(full(at(T, 1, 2)));
    assert.equal(grown.next(last(at(T, 3, 4))).more, true);
  });

  it('refuses a page inside a run that repeats the page before it: the server ignores the page parameter', () => {
    const walk = new BacklogWalk(cursor(T));
    walk.next(full(at(T, 1, 2)));
    stalls(walk, full(at(T, 1, 2)), /^page 2 held the same issues as page 1: the server ignores the page parameter$/);
    // Page 1 of a new instant repeating the page before it is the boundary coming back, not a stall.
    const plain = new BacklogWalk(cursor(null));
    plain.next(full(at(LATER, 1, 2)));
    assert.deepEqual(plain.next(full(at(LATER, 1, 2))).cursor, cursor(LATER, 2));
  });
});
