/**
 * The comment poller (src/domain/tasks/repository/comment-poller.ts) against
 * the simulator over loopback, the real client and a real SQLite file, with
 * the issue poller storing the issues as in the daemon: which comments become
 * follow-up jobs, and which never do.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { formatComment } from '../src/domain/comment.js';
import type { Partition } from '../src/domain/entities.js';
import { FOLLOW_UP_JOB } from '../src/domain/eligibility.js';
import type { Log } from '../src/domain/ports.js';
import { commentPoller, type CommentPollerDeps } from '../src/domain/tasks/repository/comment-poller.js';
import { issuePoller } from '../src/domain/tasks/repository/issue-poller.js';
import { GitHubClient } from '../src/infra/github/index.js';
import { SqlCommentSyncStore, SqlIssueSyncStore, SqlRepositoryStore, type Database } from '../src/infra/store/index.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { freshDatabase } from './support/store.js';

const TOKEN = 'comment-poller-token';
const OWNER = 'acme';
const NAME = 'api';
const LISTING = `/repos/${OWNER}/${NAME}/issues/comments`;
const T0 = Date.parse('2026-03-01T12:00:00Z');
const MINUTE = 60_000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  readonly sim: Simulator;
  readonly database: Database;
  readonly clock: { now: number };
  readonly warnings: string[];
  readonly wakes: { count: number };
  /** One pass of the issue poller (stores the issues; its first pass sets the first sync time). */
  pollIssues(): Promise<void>;
  /** One pass of the comment poller. */
  pollComments(overrides?: Partial<CommentPollerDeps>): Promise<void>;
  /** The follow-up jobs queued: [issue number, comment id]. */
  followUps(): Promise<Array<[number, number]>>;
  /** The requests of the comment listing since the last call: their statuses. */
  listings(): number[];
}

async function setUp(): Promise<Setup> {
  const clock = { now: T0 };
  const sim = await startSimulator({
    tokens: [TOKEN],
    now: () => clock.now,
    scenario: { repositories: [{ owner: OWNER, name: NAME, issues: [{ title: 'Crash on save', createdAt: iso(T0 - 60 * MINUTE) }] }] },
  });
  cleanups.push(() => sim.close());
  const { database, cleanup } = await freshDatabase();
  cleanups.push(cleanup);
  const github = new GitHubClient({ baseUrl: sim.url, token: TOKEN, timeoutMs: 10_000, userAgent: 'autosolve/test', throttle: { minIntervalMs: 0 } });
  const ref = { owner: OWNER, name: NAME };
  const repositoryId = await new SqlRepositoryStore(database.db).record(ref, await github.getRepository(ref, new AbortController().signal));
  const partition: Partition = { ...ref, repositoryId };
  const warnings: string[] = [];
  const log: Log = {
    debug: () => {},
    info: () => {},
    warn: (_fields, message) => warnings.push(message),
    error: (_fields, message) => warnings.push(message),
    child: () => log,
  };
  const now = () => new Date(clock.now);
  const issues = new SqlIssueSyncStore(database.db, { maxAttempts: 3, now });
  const comments = new SqlCommentSyncStore(database.db, { maxAttempts: 3, now });
  const wakes = { count: 0 };
  const issueIdOf = async (id: number, number: number): Promise<number | undefined> => {
    const row = await database.db.selectFrom('issues').select('github_id').where('repository_id', '=', id).where('number', '=', number).executeTakeFirst();
    return row?.github_id;
  };
  let seen = 0;
  return {
    sim,
    database,
    clock,
    warnings,
    wakes,
    pollIssues: () =>
      issuePoller({ github, store: issues, interval: MINUTE, requiredLabel: undefined, backlog: 'skip', log }).work(new AbortController().signal, partition),
    pollComments: (overrides = {}) =>
      commentPoller({
        github,
        store: comments,
        firstSync: issues,
        issueIdOf,
        mention: { handle: '@autosolve', allowed: ['OWNER', 'MEMBER', 'COLLABORATOR'] },
        interval: MINUTE,
        log,
        now: () => clock.now,
        onEnqueued: () => wakes.count++,
        ...overrides,
      }).work(new AbortController().signal, partition),
    async followUps() {
      const rows = await database.db
        .selectFrom('jobs')
        .innerJoin('issues', 'issues.github_id', 'jobs.issue_github_id')
        .select(['issues.number', 'jobs.subject_id'])
        .where('jobs.type', '=', FOLLOW_UP_JOB)
        .orderBy('jobs.id')
        .execute();
      return rows.map((row) => [row.number, Number(row.subject_id)]);
    },
    listings() {
      const statuses = sim.requests.slice(seen).filter((request) => request.path === LISTING).map((request) => request.status);
      seen = sim.requests.length;
      return statuses;
    },
  };
}

/** The issue poller's first pass at T0 (the first sync), then the clock a few minutes on. */
async function started(): Promise<Setup> {
  const setup = await setUp();
  await setup.pollIssues();
  setup.clock.now = T0 + 5 * MINUTE;
  return setup;
}

void describe('the comment poller', () => {
  void it('queues one follow-up for a mention by a member, about that comment, and wakes the dispatcher', async () => {
    const setup = await started();
    const mention = setup.sim.addComment(OWNER, NAME, 1, { body: '@autosolve does this happen on Windows too?', user: 'alice', authorAssociation: 'MEMBER' });
    await setup.pollComments();
    assert.deepEqual(await setup.followUps(), [[1, mention.id]]);
    assert.equal(setup.wakes.count, 1);
    assert.deepEqual(setup.warnings, []);
  });

  void it('queues none for a stranger, a bot, our own reply or a quoted mention, and a pass with nothing new is one 304', async () => {
    const setup = await started();
    const question = setup.sim.addComment(OWNER, NAME, 1, { body: 'hello', user: 'alice', authorAssociation: 'MEMBER' });
    setup.sim.addComment(OWNER, NAME, 1, { body: '@autosolve please fix', user: 'stranger', authorAssociation: 'NONE' });
    setup.sim.addComment(OWNER, NAME, 1, { body: '@autosolve summarise', user: 'helper', bot: true, authorAssociation: 'MEMBER' });
    const reply = formatComment({ text: 'Ask @autosolve again if it persists.', model: 'm' }, { replyTo: { githubId: question.id, author: 'alice', htmlUrl: `https://github.com/${OWNER}/${NAME}/issues/1#issuecomment-${question.id}` } });
    setup.sim.addComment(OWNER, NAME, 1, { body: reply });
    setup.sim.addComment(OWNER, NAME, 1, { body: '> @autosolve does this happen on Windows?\n\nSame question here.', user: 'bob', authorAssociation: 'MEMBER' });
    setup.sim.addComment(OWNER, NAME, 1, { body: 'run `@autosolve --help`', user: 'carol', authorAssociation: 'OWNER' });
    setup.listings();
    const outcomes: string[] = [];
    const onPoll = (repository: string, outcome: string) => outcomes.push(`${repository} ${outcome}`);
    await setup.pollComments({ onPoll });
    assert.deepEqual(setup.listings(), [200]);
    assert.deepEqual(await setup.followUps(), []);
    assert.equal(setup.wakes.count, 0);
    setup.clock.now += MINUTE;
    await setup.pollComments({ onPoll });
    assert.deepEqual(setup.listings(), [304], 'one conditional request, answered 304');
    assert.deepEqual(outcomes, ['acme/api changed', 'acme/api not_modified']);
  });

  void it('never queues a mention written before the first sync, even when it is edited after', async () => {
    const setup = await setUp();
    const old = setup.sim.addComment(OWNER, NAME, 1, { body: '@autosolve any news?', user: 'alice', authorAssociation: 'MEMBER', createdAt: iso(T0 - 10 * MINUTE) });
    setup.clock.now = T0 - 5 * MINUTE;
    await setup.pollIssues(); // the first sync
    setup.clock.now = T0 + 5 * MINUTE;
    await setup.pollComments();
    assert.deepEqual(await setup.followUps(), []);
    setup.sim.editComment(OWNER, NAME, old.id, '@autosolve any news? (edited)');
    setup.listings();
    await setup.pollComments();
    assert.deepEqual(setup.listings(), [200], 'the edit was read');
    assert.deepEqual(await setup.followUps(), []);
  });

  void it('reads at most an hour back on its first pass, however old the first sync is', async () => {
    const setup = await setUp();
    setup.clock.now = T0 - 30 * 24 * 60 * MINUTE;
    await setup.pollIssues(); // watched for a month before comment polling
    setup.clock.now = T0;
    setup.sim.addComment(OWNER, NAME, 1, { body: '@autosolve two hours ago', user: 'alice', authorAssociation: 'MEMBER', createdAt: iso(T0 - 120 * MINUTE) });
    const recent = setup.sim.addComment(OWNER, NAME, 1, { body: '@autosolve half an hour ago', user: 'alice', authorAssociation: 'MEMBER', createdAt: iso(T0 - 30 * MINUTE) });
    await setup.pollComments();
    assert.deepEqual(await setup.followUps(), [[1, recent.id]]);
  });

  void it('does not queue a second job when a queued mention is edited', async () => {
    const setup = await started();
    const mention = setup.sim.addComment(OWNER, NAME, 1, { body: '@autosolve why?', user: 'alice', authorAssociation: 'MEMBER' });
    await setup.pollComments();
    setup.clock.now += MINUTE;
    setup.sim.editComment(OWNER, NAME, mention.id, '@autosolve why, exactly?');
    setup.listings();
    await setup.pollComments();
    assert.deepEqual(setup.listings(), [200], 'the edit was read');
    assert.deepEqual(await setup.followUps(), [[1, mention.id]]);
    assert.equal(setup.wakes.count, 1);
  });

  void it('holds a mention on an issue not stored yet until the issue poller stores it', async () => {
    const setup = await started();
    const issue = setup.sim.addIssue(OWNER, NAME, { title: 'New one' });
    const mention = setup.sim.addComment(OWNER, NAME, issue.number, { body: '@autosolve look', user: 'alice', authorAssociation: 'MEMBER' });
    const outcomes: string[] = [];
    const onPoll = (_repository: string, outcome: string) => outcomes.push(outcome);
    await setup.pollComments({ onPoll });
    assert.deepEqual(await setup.followUps(), []);
    setup.clock.now += MINUTE;
    await setup.pollIssues();
    await setup.pollComments({ onPoll });
    assert.deepEqual(await setup.followUps(), [[issue.number, mention.id]]);
    assert.deepEqual(outcomes, ['held', 'changed']);
    assert.deepEqual(setup.warnings, []);
  });

  void it('skips such a mention with a warning once it has held the walk for holdMs, and goes on', async () => {
    const setup = await started();
    const issue = setup.sim.addIssue(OWNER, NAME, { title: 'Never stored' });
    setup.sim.addComment(OWNER, NAME, issue.number, { body: '@autosolve look', user: 'alice', authorAssociation: 'MEMBER' });
    const later = setup.sim.addComment(OWNER, NAME, 1, { body: '@autosolve and here', user: 'alice', authorAssociation: 'MEMBER' });
    await setup.pollComments({ holdMs: 10 * MINUTE });
    assert.deepEqual(await setup.followUps(), [], 'held: the mention after it waits too');
    setup.clock.now += 11 * MINUTE;
    await setup.pollComments({ holdMs: 10 * MINUTE });
    assert.deepEqual(await setup.followUps(), [[1, later.id]]);
    assert.equal(setup.warnings.length, 1);
    assert.match(setup.warnings[0] ?? '', new RegExp(`#${issue.number}: skipped a comment asking for a follow-up`));
  });

  void it('logs a malformed comment, naming it, and queues the rest of its page', async () => {
    const setup = await started();
    const mention = setup.sim.addComment(OWNER, NAME, 1, { body: '@autosolve and this?', user: 'alice', authorAssociation: 'MEMBER' });
    const response = await fetch(`${setup.sim.url}${LISTING}`, { headers: { authorization: `token ${TOKEN}` } });
    const [real] = (await response.json()) as Array<Record<string, unknown>>;
    assert.ok(real);
    setup.sim.injectFault({ kind: 'status', status: 200, body: [{ ...real, id: 77, body: 42 }, real], match: { path: LISTING } });
    await setup.pollComments();
    assert.deepEqual(await setup.followUps(), [[1, mention.id]]);
    assert.equal(setup.warnings.length, 1);
    assert.match(setup.warnings[0] ?? '', /^skipped a comment \(id 77\) of acme\/api: GitHub sent it malformed \(.*body.*\)/);
  });

  void it('walks past a full page whose comments are all malformed, by their place in the listing', async () => {
    const setup = await started();
    const mention = setup.sim.addComment(OWNER, NAME, 1, { body: '@autosolve still there?', user: 'alice', authorAssociation: 'MEMBER' });
    const response = await fetch(`${setup.sim.url}${LISTING}`, { headers: { authorization: `token ${TOKEN}` } });
    const [real] = (await response.json()) as Array<Record<string, unknown>>;
    assert.ok(real);
    const next = { link: `<${setup.sim.url}${LISTING}?page=2>; rel="next"` };
    const broken = [{ ...real, id: 77, body: 42, updated_at: iso(T0 + MINUTE) }];
    setup.sim.injectFault({ kind: 'status', status: 200, body: broken, headers: next, match: { path: LISTING } });
    await setup.pollComments();
    assert.deepEqual(await setup.followUps(), [[1, mention.id]]);
  });

  void it('records a failed pass and throws a domain error with the cause', async () => {
    const setup = await started();
    setup.sim.injectFault({ kind: 'status', status: 404, match: { path: LISTING } });
    await assert.rejects(setup.pollComments(), (error: Error) => {
      assert.equal(error.name, 'FetchCommentsError');
      assert.match(error.message, /cannot poll the comments of acme\/api/);
      assert.ok(error.cause instanceof Error);
      return true;
    });
    const row = await setup.database.db.selectFrom('sync_cursors').select(['last_error', 'last_polled_at']).where('topic', '=', 'comments').executeTakeFirst();
    assert.ok(row?.last_error, 'the failure is recorded');
    await setup.pollComments();
    const after = await setup.database.db.selectFrom('sync_cursors').select(['last_error', 'last_polled_at']).where('topic', '=', 'comments').executeTakeFirst();
    assert.equal(after?.last_error, null);
    assert.ok(after?.last_polled_at);
  });
});
