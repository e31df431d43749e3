/**
 * Which issues get an answer (src/domain/eligibility.ts), rule by rule and at
 * each boundary: the rules the poller and the dispatcher share, so a slip here
 * answers what nobody asked for or drops what they did. Written for what a
 * mutation run found untested (docs/mutation-testing.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ANSWER_JOB,
  backlogCutoff,
  backlogNotice,
  describeBacklogPolicy,
  isBacklog,
  unansweredDecision,
  wantsAnswer,
  type UnansweredState,
} from '../src/domain/eligibility.js';

const open = { state: 'open' as const, isPullRequest: false, labels: ['bug', 'AutoSolve'] };

describe('eligibility', () => {
  it("names the answer job as stored rows already do: a new name would orphan every queued job", () => {
    assert.equal(ANSWER_JOB, 'answer');
  });

  it('answers an open issue carrying the label, whatever its case on either side', () => {
    assert.equal(wantsAnswer(open, 'autosolve'), true);
    assert.equal(wantsAnswer(open, 'AUTOSOLVE'), true);
    assert.equal(wantsAnswer({ ...open, labels: ['autosolve'] }, 'AutoSolve'), true);
  });

  it('never answers a closed issue or a pull request, label or not', () => {
    assert.equal(wantsAnswer({ ...open, state: 'closed' }, 'autosolve'), false);
    assert.equal(wantsAnswer({ ...open, isPullRequest: true }, 'autosolve'), false);
    assert.equal(wantsAnswer({ ...open, state: 'closed' }, undefined), false);
    assert.equal(wantsAnswer({ ...open, isPullRequest: true }, undefined), false);
  });

  it('without the label, or with only other labels, no answer; with no label configured, every open issue', () => {
    assert.equal(wantsAnswer({ ...open, labels: [] }, 'autosolve'), false);
    assert.equal(wantsAnswer({ ...open, labels: ['bug', 'autosolve-later'] }, 'autosolve'), false);
    assert.equal(wantsAnswer({ ...open, labels: [] }, undefined), true);
    assert.equal(wantsAnswer({ ...open, labels: [] }, ''), true);
  });

  it('the backlog cutoff: none for answer, the first sync for skip, a window before it for a duration', () => {
    const first = '2026-06-01T00:00:00.000Z';
    assert.equal(backlogCutoff('answer', first), null);
    assert.equal(backlogCutoff('skip', first)?.toISOString(), first);
    assert.equal(backlogCutoff(86_400_000, first)?.toISOString(), '2026-05-31T00:00:00.000Z');
  });

  it('an issue is backlog only when last updated strictly before the cutoff', () => {
    const cutoff = new Date('2026-06-01T00:00:00.000Z');
    assert.equal(isBacklog({ updatedAt: '2026-05-31T23:59:59.999Z' }, cutoff), true);
    assert.equal(isBacklog({ updatedAt: '2026-06-01T00:00:00.000Z' }, cutoff), false);
    assert.equal(isBacklog({ updatedAt: '2026-06-01T00:00:00.001Z' }, cutoff), false);
    assert.equal(isBacklog({ updatedAt: '2000-01-01T00:00:00.000Z' }, null), false);
  });

  it('says the policy as the key is written: the largest whole unit, else milliseconds', () => {
    assert.equal(describeBacklogPolicy('skip'), 'skip');
    assert.equal(describeBacklogPolicy('answer'), 'answer');
    assert.equal(describeBacklogPolicy(7 * 86_400_000), '7d');
    assert.equal(describeBacklogPolicy(36 * 3_600_000), '36h');
    assert.equal(describeBacklogPolicy(90 * 60_000), '90m');
    assert.equal(describeBacklogPolicy(45_000), '45s');
    assert.equal(describeBacklogPolicy(1_500), '1500ms');
    assert.equal(describeBacklogPolicy(0), '0ms');
  });

  it('the backlog notice counts, dates, and names the key and the value that widens it', () => {
    const cutoff = new Date('2026-06-01T00:00:00.000Z');
    assert.equal(
      backlogNotice(1, cutoff, 'skip'),
      '1 issue older than 2026-06-01T00:00:00.000Z skipped as backlog (github.issues.backlog: skip); set github.issues.backlog: answer or 7d to answer them',
    );
    assert.equal(
      backlogNotice(3, cutoff, 86_400_000),
      '3 issues older than 2026-06-01T00:00:00.000Z skipped as backlog (github.issues.backlog: 1d); set github.issues.backlog: answer or a longer duration to answer them',
    );
  });

  describe('what to do with an issue nobody answered', () => {
    const cutoff = new Date('2026-06-01T00:00:00.000Z');
    const recent = { ...open, updatedAt: '2026-06-02T00:00:00.000Z' };
    const old = { ...open, updatedAt: '2026-05-01T00:00:00.000Z' };
    const entry = (issue: UnansweredState['issue'], latestJob: UnansweredState['latestJob'] = null): UnansweredState => ({ issue, latestJob });
    const cases: Array<[string, UnansweredState, boolean, 'queue' | 'backlog' | 'leave']> = [
      ['never queued, recent', entry(recent), false, 'queue'],
      ['never queued, old', entry(old), false, 'backlog'],
      ['not eligible (closed)', entry({ ...recent, state: 'closed' }), false, 'leave'],
      ['not eligible (label gone)', entry({ ...recent, labels: [] }), false, 'leave'],
      ['dead: an operator brings it back', entry(recent, { state: 'dead', outcome: null }), false, 'leave'],
      ['dead and old: still left, not backlog', entry(old, { state: 'dead', outcome: null }), false, 'leave'],
      ['settled by an earlier backlog decision, now recent', entry(recent, { state: 'done', outcome: 'backlog' }), false, 'queue'],
      ['seen by a dry run, dry run still on', entry(recent, { state: 'done', outcome: 'dry-run' }), true, 'leave'],
      ['seen by a dry run, dry run now off', entry(recent, { state: 'done', outcome: 'dry-run' }), false, 'queue'],
      ['judged not eligible at dispatch', entry(recent, { state: 'done', outcome: 'not-eligible' }), false, 'leave'],
      ['judged not eligible, dry run on', entry(recent, { state: 'done', outcome: 'not-eligible' }), true, 'leave'],
      ['done without an outcome', entry(recent, { state: 'done', outcome: null }), true, 'queue'],
    ];
    for (const [name, state, dryRun, expected] of cases) {
      it(`${name}: ${expected}`, () => {
        assert.equal(unansweredDecision(state, cutoff, 'autosolve', dryRun), expected);
      });
    }
    it('with no cutoff, nothing is backlog', () => {
      assert.equal(unansweredDecision(entry(old), null, 'autosolve', false), 'queue');
    });
  });
});
