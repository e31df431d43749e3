/**
 * The router: ordered rules, the first that matches decides; requiredLabel,
 * pull requests and closed issues gate `opened`/`edited` but not `mention`;
 * without rules one implicit rule answers every event with `default`; a
 * regular expression runs under a time limit and one that gives up does not match.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TimedPattern } from '../src/domain/pattern.js';
import { Router, type PatternGaveUp, type RouteSubject, type RuleSpec } from '../src/domain/rules.js';

type Issue = RouteSubject['issue'];

const ISSUE: Issue = { title: 'Crash when saving', body: 'Stack trace:\n  at save()', labels: ['bug'], state: 'open', isPullRequest: false, authorAssociation: 'MEMBER' };

function subject(overrides: Partial<Omit<RouteSubject, 'issue'>> & { issue?: Partial<Issue> } = {}): RouteSubject {
  const { issue, ...rest } = overrides;
  return { repository: 'acme/api', event: 'opened', ...rest, issue: { ...ISSUE, ...issue } };
}

/** An issue whose author's association GitHub did not give. */
function unknownAuthor(): RouteSubject {
  const { title, body, labels, state, isPullRequest } = ISSUE;
  return { repository: 'acme/api', event: 'opened', issue: { title, body, labels, state, isPullRequest } };
}

function rule(when: RuleSpec['when'], then: Partial<RuleSpec['then']> = {}): RuleSpec {
  return { when, then: { skip: false, executor: 'default', ...then } };
}

void describe('Router: conditions', () => {
  const cases: Array<[string, RuleSpec['when'], RouteSubject, RouteSubject]> = [
    ['label (any of, case-insensitive)', { label: ['docs', 'BUG'] }, subject(), subject({ issue: { labels: ['question'] } })],
    ['labelAbsent (none of)', { labelAbsent: ['wontfix', 'duplicate'] }, subject(), subject({ issue: { labels: ['bug', 'WontFix'] } })],
    ['titleMatches (case-insensitive)', { titleMatches: '^crash' }, subject(), subject({ issue: { title: 'Question: why crash' } })],
    ['bodyMatches', { bodyMatches: 'stack trace' }, subject(), subject({ issue: { body: 'no details' } })],
    ['bodyMatches on an empty body', { bodyMatches: '^$' }, subject({ issue: { body: null } }), subject()],
    ['repository globs (any of, ignoring case)', { repository: ['other/*', 'ACME/a?i'] }, subject(), subject({ repository: 'acme/web' })],
    ['authorAssociation of the issue author for opened', { authorAssociation: ['OWNER', 'MEMBER'] }, subject(), subject({ issue: { authorAssociation: 'NONE' } })],
    ['authorAssociation of the comment author for mention', { authorAssociation: ['OWNER'] }, subject({ event: 'mention', actorAssociation: 'OWNER', issue: { authorAssociation: 'NONE' } }), subject({ event: 'mention', actorAssociation: 'NONE', issue: { authorAssociation: 'OWNER' } })],
    ['authorAssociation unknown', { authorAssociation: ['NONE'] }, subject({ issue: { authorAssociation: 'NONE' } }), unknownAuthor()],
    ['event', { event: ['edited', 'mention'] }, subject({ event: 'edited' }), subject({ event: 'opened' })],
  ];
  for (const [name, when, matching, failing] of cases) {
    void it(`${name}: matches one subject and names the condition for the other`, () => {
      const router = new Router([rule(when, { executor: 'chosen' })], {});
      assert.deepEqual(router.route(matching), { kind: 'run', rule: 0, executor: 'chosen', prompt: undefined });
      assert.deepEqual(router.route(failing), { kind: 'none', reason: 'no rule matches' });
      const [verdict] = router.explain(failing).rules;
      assert.equal(verdict?.matched, false);
      const field = Object.keys(when)[0] ?? '';
      assert.equal(verdict?.reasons.length, 1, JSON.stringify(verdict?.reasons));
      assert.ok(verdict?.reasons[0]?.startsWith(`${field}: `), `the reason names ${field}: ${verdict?.reasons[0]}`);
      assert.deepEqual(router.explain(matching).rules[0]?.reasons, []);
    });
  }

  void it('needs every condition of a rule, and explain names each one that failed', () => {
    const router = new Router([rule({ label: ['docs'], titleMatches: '^question', event: ['mention'] })]);
    assert.equal(router.route(subject()).kind, 'none');
    const reasons = router.explain(subject()).rules[0]?.reasons ?? [];
    assert.deepEqual(reasons.map((r) => r.split(':')[0]), ['event', 'label', 'titleMatches']);
    assert.equal(new Router([rule({ label: ['bug'], titleMatches: 'crash', event: ['opened'] })]).route(subject()).kind, 'run');
  });

  void it('an empty when matches everything', () => {
    assert.deepEqual(new Router([rule({}, { executor: 'x', prompt: 'P' })]).route(subject({ event: 'mention' })), { kind: 'run', rule: 0, executor: 'x', prompt: 'P' });
  });
});

void describe('Router: order, skip and the implicit rule', () => {
  void it('the first rule that matches decides; later ones are not reached', () => {
    const router = new Router([
      rule({ label: ['docs'] }, { executor: 'writer' }),
      rule({ label: ['bug'] }, { executor: 'coder', prompt: 'Fix {{title}}' }),
      rule({}, { executor: 'triage' }),
    ]);
    assert.deepEqual(router.route(subject()), { kind: 'run', rule: 1, executor: 'coder', prompt: 'Fix {{title}}' });
    assert.deepEqual(router.route(subject({ issue: { labels: [] } })), { kind: 'run', rule: 2, executor: 'triage', prompt: undefined });
    const explained = router.explain(subject());
    assert.deepEqual(explained.rules.map((v) => v.matched), [false, true, true]);
    assert.deepEqual(explained.route, router.route(subject()));
  });

  void it('skip stops at its rule: no answer, even when a later rule would match', () => {
    const router = new Router([rule({ labelAbsent: ['bug'] }), rule({ label: ['bug'] }, { skip: true }), rule({})]);
    assert.deepEqual(router.route(subject()), { kind: 'skip', rule: 1 });
    assert.deepEqual(router.route(subject({ issue: { labels: ['docs'] } })), { kind: 'run', rule: 0, executor: 'default', prompt: undefined });
  });

  void it('with no rules, one implicit rule answers every event with the default executor and prompt', () => {
    const router = new Router([]);
    for (const event of ['opened', 'edited', 'mention'] as const) {
      assert.deepEqual(router.route(subject({ event })), { kind: 'run', rule: null, executor: 'default', prompt: undefined });
    }
    assert.deepEqual(router.explain(subject()).rules, []);
  });

  void it('with rules, an event none of them matches is not answered', () => {
    assert.deepEqual(new Router([rule({ event: ['mention'] })]).route(subject()), { kind: 'none', reason: 'no rule matches' });
  });
});

void describe('Router: the gates in front of the rules', () => {
  const gated = new Router([rule({}, { executor: 'any' })], { requiredLabel: 'AutoSolve' });

  void it('requiredLabel gates opened and edited (ignoring case), not mention', () => {
    const labelled = { labels: ['autosolve'] };
    assert.equal(gated.route(subject({ issue: labelled })).kind, 'run');
    assert.equal(gated.route(subject({ event: 'edited', issue: labelled })).kind, 'run');
    for (const event of ['opened', 'edited'] as const) {
      const route = gated.route(subject({ event }));
      assert.equal(route.kind, 'none');
      assert.match(route.kind === 'none' ? route.reason : '', /AutoSolve/);
      assert.match(gated.explain(subject({ event })).gate ?? '', /requiredLabel/);
    }
    assert.deepEqual(gated.route(subject({ event: 'mention' })), { kind: 'run', rule: 0, executor: 'any', prompt: undefined });
    assert.equal(gated.explain(subject({ event: 'mention' })).gate, null);
  });

  void it('pull requests: opened and edited never apply, mention does', () => {
    const router = new Router([]);
    const pr = { isPullRequest: true };
    assert.equal(router.route(subject({ issue: pr })).kind, 'none');
    assert.equal(router.route(subject({ event: 'edited', issue: pr })).kind, 'none');
    assert.match(router.explain(subject({ issue: pr })).gate ?? '', /pull request/);
    assert.equal(router.route(subject({ event: 'mention', issue: pr })).kind, 'run');
  });

  void it('closed issues: opened and edited need the issue open, mention does not', () => {
    const router = new Router([]);
    const closed = { state: 'closed' as const };
    assert.equal(router.route(subject({ issue: closed })).kind, 'none');
    assert.equal(router.route(subject({ event: 'edited', issue: closed })).kind, 'none');
    assert.match(router.explain(subject({ issue: closed })).gate ?? '', /closed/);
    assert.equal(router.route(subject({ event: 'mention', issue: closed })).kind, 'run');
  });

  void it('explain still gives each rule its verdict behind a gate', () => {
    const explained = gated.explain(subject());
    assert.equal(explained.route.kind, 'none');
    assert.deepEqual(explained.rules.map((v) => v.matched), [true]);
  });
});

void describe('Router: regular expressions under a time limit', () => {
  const catastrophic = '(a+)+$';
  const long = `${'a'.repeat(50_000)}!`;

  void it('a catastrophic pattern on a long title gives up within the limit: no match, reported', () => {
    const gaveUp: PatternGaveUp[] = [];
    const router = new Router([rule({ titleMatches: catastrophic }, { executor: 'slow' }), rule({}, { executor: 'next' })], {
      patternTimeoutMs: 50,
      onPatternGaveUp: (event) => gaveUp.push(event),
    });
    // Unbounded, this input backtracks for longer than any test timeout: returning at all is the limit at work.
    const route = router.route(subject({ issue: { title: long } }));
    assert.deepEqual(route, { kind: 'run', rule: 1, executor: 'next', prompt: undefined });
    assert.equal(gaveUp.length, 1);
    assert.deepEqual({ ...gaveUp[0], reason: undefined }, { rule: 0, field: 'titleMatches', pattern: catastrophic, reason: undefined });
    const reason = router.explain(subject({ issue: { title: long } })).rules[0]?.reasons[0] ?? '';
    assert.match(reason, /^titleMatches: .*gave up after 50 ms/);
  });

  void it('the same pattern still matches what it can decide quickly, after giving up once', () => {
    const pattern = new TimedPattern(catastrophic, { timeoutMs: 50 });
    assert.equal(pattern.test(long).kind, 'gave-up');
    assert.equal(pattern.test('aaa').kind, 'match');
    assert.equal(pattern.test('aaa!').kind, 'no-match');
  });

  void it('a body is matched on its first 65,536 characters only', () => {
    const pattern = new TimedPattern('needle', { timeoutMs: 1_000 });
    assert.equal(pattern.test(`${'x'.repeat(65_531)}needle`).kind, 'no-match');
    assert.equal(pattern.test(`${'x'.repeat(65_000)}needle`).kind, 'match');
  });
});
