/**
 * GitHubClient's conversation requests against the simulator: a repository's comment listing (one page
 * at a time, conditional, every item validated), reactions as writes, and who wrote what (author
 * association, bots) in every comment and issue it maps.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { failureKindOf } from '../src/domain/failure.js';
import type { ListCommentsResult } from '../src/domain/ports.js';
import { GitHubClient, type ThrottleOptions } from '../src/infra/github/index.js';
import { type Simulator, startSimulator } from '../src/simulator/index.js';
import { type VirtualTime, virtualTime } from './support/virtual-time.js';

const TOKEN = 'ghp_commentsTestTOKEN_0000000000000000000';
const REPO = { owner: 'acme', name: 'api' };
const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const at = (seconds: number) => iso(T0 + seconds * 1000);

let simulator: Simulator | undefined;

afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

/** acme/api with issue #1 and pull request #2, both created at T0; the simulator's clock a day later unless given. */
async function start(now: () => number = () => T0 + 86_400_000): Promise<Simulator> {
  simulator = await startSimulator({
    tokens: [TOKEN],
    now,
    scenario: {
      repositories: [
        {
          owner: 'acme',
          name: 'api',
          issues: [
            { title: 'one', createdAt: at(0) },
            { title: 'two', pullRequest: true, createdAt: at(0) },
          ],
        },
      ],
    },
  });
  return simulator;
}

function clientFor(sim: Simulator, throttle: Partial<ThrottleOptions> = {}, clock?: VirtualTime): GitHubClient {
  return new GitHubClient({
    baseUrl: sim.url,
    token: TOKEN,
    timeoutMs: 5_000,
    userAgent: 'autosolve/test',
    throttle: { minIntervalMs: 0, writeMinIntervalMs: 0, ...(clock ? { now: clock.now, sleep: clock.sleep } : {}), ...throttle },
    ...(clock ? { fetch: clock.fetch } : {}),
  });
}

const signal = (): AbortSignal => new AbortController().signal;

function page(result: ListCommentsResult): Exclude<ListCommentsResult, { notModified: true }> {
  assert.equal(result.notModified, false, 'expected a page, got 304');
  return result as Exclude<ListCommentsResult, { notModified: true }>;
}

void describe("GitHubClient: a repository's comments", () => {
  void it('asks for one page of 100, updated ascending, and leaves the walk over pages to the caller', async () => {
    const sim = await start();
    for (let i = 0; i < 150; i++) sim.addComment('acme', 'api', 1 + (i % 2), { body: `c${i}`, user: 'someone', createdAt: at(10 + i) });
    const client = clientFor(sim);

    const first = page(await client.listRepositoryComments(REPO, { since: null, page: 1, etag: null }, signal()));
    assert.equal(first.comments.length, 100);
    assert.equal(first.hasNextPage, true);
    assert.match(first.etag ?? '', /^W\/"/);
    assert.equal(sim.requests.length, 1, 'one page per call');
    const second = page(await client.listRepositoryComments(REPO, { since: null, page: 2, etag: null }, signal()));
    assert.equal(second.hasNextPage, false);

    const all = [...first.comments, ...second.comments];
    assert.deepEqual(
      all.map((comment) => comment.body),
      Array.from({ length: 150 }, (_, i) => `c${i}`),
    );
    assert.deepEqual(
      all.slice(0, 3).map((comment) => comment.issueNumber),
      [1, 2, 1],
    );
    assert.equal(all[1]?.updatedAt, at(11));
    assert.match(all[1]?.htmlUrl ?? '', /\/acme\/api\/pull\/2#issuecomment-/);
    assert.deepEqual(first.skipped, []);
    for (const request of sim.requests) {
      assert.equal(request.path, '/repos/acme/api/issues/comments');
      assert.deepEqual(
        [request.query.sort, request.query.direction, request.query.per_page, request.query.since],
        ['updated', 'asc', '100', undefined],
      );
    }
    assert.deepEqual(
      sim.requests.map((request) => request.query.page),
      ['1', '2'],
    );
  });

  void it('sends since, inclusive, and a repeated request with its ETag gets 304 without spending the primary budget', async () => {
    const sim = await start();
    sim.addComment('acme', 'api', 1, { body: 'before', createdAt: at(10) });
    sim.addComment('acme', 'api', 2, { body: 'at', createdAt: at(20) });
    sim.addComment('acme', 'api', 1, { body: 'after', createdAt: at(30) });
    const client = clientFor(sim);

    const first = page(await client.listRepositoryComments(REPO, { since: at(20), page: 1, etag: null }, signal()));
    assert.deepEqual(
      first.comments.map((comment) => comment.body),
      ['at', 'after'],
    );
    assert.equal(sim.requests[0]?.query.since, at(20));
    const before = sim.rateLimitOf(TOKEN).remaining;

    const second = await client.listRepositoryComments(REPO, { since: at(20), page: 1, etag: first.etag }, signal());
    assert.deepEqual(second, { notModified: true });
    assert.equal(sim.rateLimitOf(TOKEN).remaining, before, 'a 304 is free');
    assert.equal(sim.requests[1]?.ifNoneMatch, first.etag);
    assert.equal(sim.requests[1]?.rateLimitCost, 0);
    assert.equal(client.stats().notModified, 1);
  });

  void it('sets a malformed comment aside with the reason and keeps the rest of the page', async () => {
    const sim = await start();
    sim.addComment('acme', 'api', 1, { body: 'good one', user: 'alice', createdAt: at(10) });
    sim.addComment('acme', 'api', 2, { body: 'good two', user: 'bob', createdAt: at(20) });
    const client = clientFor(sim);
    const real = await (await fetch(`${sim.url}/repos/acme/api/issues/comments`, { headers: { authorization: `token ${TOKEN}` } })).json();
    const [one, two] = real as Array<Record<string, unknown>>;
    assert.ok(one && two);
    const body = [
      one,
      { ...two, id: 7, issue_url: `${sim.url}/repos/acme/api/issues/` },
      { ...two, id: 8, issue_url: `${sim.url}/repos/acme/api/issues/0` },
      { ...two, id: '9' },
      { ...two, id: 0 },
      { ...two, id: 10, updated_at: 'Sun, 01 Mar 2026 12:00:30 GMT' },
      { ...two, id: 11, body: 42 },
      { ...two, id: 12, user: { login: 7 } },
      { ...two, id: 13, updated_at: at(5) },
      two,
    ];
    sim.injectFault({ kind: 'status', status: 200, body, match: { path: '/repos/acme/api/issues/comments' } });

    const result = page(await client.listRepositoryComments(REPO, { since: null, page: 1, etag: null }, signal()));
    assert.deepEqual(
      result.comments.map((comment) => [comment.body, comment.issueNumber]),
      [
        ['good one', 1],
        ['good two', 2],
      ],
    );
    assert.deepEqual(
      result.skipped.map((skipped) => [skipped.githubId, skipped.updatedAt]),
      [
        [7, two['updated_at']],
        [8, two['updated_at']],
        [null, two['updated_at']],
        [null, two['updated_at']],
        [10, null],
        [11, two['updated_at']],
        [12, two['updated_at']],
        [13, at(5)],
      ],
    );
    const reasons = result.skipped.map((skipped) => skipped.reason);
    assert.match(reasons[0] ?? '', /issue_url/);
    assert.match(reasons[1] ?? '', /issue_url/);
    assert.match(reasons[2] ?? '', /^id:/);
    assert.match(reasons[3] ?? '', /^id:/);
    assert.match(reasons[4] ?? '', /^updated_at:/);
    assert.match(reasons[5] ?? '', /^body:/);
    assert.match(reasons[6] ?? '', /^user\.login:/);
    assert.match(reasons[7] ?? '', /updated_at is before created_at/);
  });

  void it('refuses an answer that is not a list of comments', async () => {
    const sim = await start();
    sim.injectFault({ kind: 'status', status: 200, body: { comments: [] }, match: { path: '/repos/acme/api/issues/comments' } });
    await assert.rejects(clientFor(sim).listRepositoryComments(REPO, { since: null, page: 1, etag: null }, signal()), /a list of comments/);
  });
});

void describe('GitHubClient: who wrote it', () => {
  void it('maps author association and bot-ness in the repository listing and in an issue\'s own comments', async () => {
    const sim = await start();
    sim.addComment('acme', 'api', 1, { body: 'maintainer', user: 'alice', authorAssociation: 'MEMBER', createdAt: at(10) });
    sim.addComment('acme', 'api', 1, { body: 'app', user: 'renovate', bot: true, authorAssociation: 'CONTRIBUTOR', createdAt: at(20) });
    sim.addComment('acme', 'api', 1, { body: 'stranger', user: 'mallory', createdAt: at(30) });
    const client = clientFor(sim);
    const expected = [
      ['alice', 'MEMBER', false],
      ['renovate[bot]', 'CONTRIBUTOR', true],
      ['mallory', 'NONE', false],
    ];

    const listed = page(await client.listRepositoryComments(REPO, { since: null, page: 1, etag: null }, signal()));
    assert.deepEqual(
      listed.comments.map((comment) => [comment.author, comment.authorAssociation, comment.authorIsBot]),
      expected,
    );
    const thread = await client.listComments(REPO, 1, signal());
    assert.deepEqual(
      thread.map((comment) => [comment.author, comment.authorAssociation, comment.authorIsBot]),
      expected,
    );
  });

  void it('takes a Bot user type, or a [bot] login, as a bot', async () => {
    const sim = await start();
    sim.addComment('acme', 'api', 1, { body: 'hi', user: 'alice', createdAt: at(10) });
    const real = (await (await fetch(`${sim.url}/repos/acme/api/issues/1/comments`, { headers: { authorization: `token ${TOKEN}` } })).json()) as Array<{
      user: Record<string, unknown>;
    }>;
    const [comment] = real;
    assert.ok(comment);
    const untyped = { ...comment.user };
    delete untyped['type'];
    const body = [
      { ...comment, user: { ...comment.user, login: 'enterprise-app', type: 'Bot' } },
      { ...comment, user: { ...untyped, login: 'legacy-app[bot]' } },
      { ...comment, user: { ...comment.user, type: 'Organization' } },
      { ...comment, user: null },
    ];
    sim.injectFault({ kind: 'status', status: 200, body, match: { path: '/repos/acme/api/issues/1/comments' } });
    const mapped = await clientFor(sim).listComments(REPO, 1, signal());
    assert.deepEqual(
      mapped.map((item) => [item.author, item.authorIsBot]),
      [
        ['enterprise-app', true],
        ['legacy-app[bot]', true],
        ['alice', false],
        [null, undefined],
      ],
    );
  });

  void it("maps an issue's author association, and our own comments as the token user's", async () => {
    const sim = await start();
    sim.addIssue('acme', 'api', { title: 'by a collaborator', user: 'carol', authorAssociation: 'COLLABORATOR', createdAt: at(5) });
    const client = clientFor(sim);

    const issue = await client.getIssue(REPO, 3, signal());
    assert.equal(issue.authorAssociation, 'COLLABORATOR');
    const listing = await client.listIssues(REPO, { since: null, page: 1, etag: null }, signal());
    assert.equal(listing.notModified, false);
    assert.deepEqual(
      listing.notModified ? [] : listing.issues.map((item) => [item.number, item.authorAssociation]),
      [
        [1, 'NONE'],
        [2, 'NONE'],
        [3, 'COLLABORATOR'],
      ],
    );

    const created = await client.createComment(REPO, 3, 'an answer', signal());
    assert.deepEqual([created.author, created.authorAssociation, created.authorIsBot], ['sim-user', 'MEMBER', false]);
    const edited = await client.updateComment(REPO, created.githubId, 'a better answer', signal());
    assert.deepEqual([edited.authorAssociation, edited.authorIsBot], ['MEMBER', false]);
  });
});

void describe('GitHubClient: reactions', () => {
  void it('adds an eyes reaction once: adding it again is not an error and adds nothing', async () => {
    const sim = await start();
    const comment = sim.addComment('acme', 'api', 1, { body: '@autosolve why?', user: 'alice', createdAt: at(10) });
    const client = clientFor(sim);

    await client.addReaction(REPO, comment.id, 'eyes', signal());
    await client.addReaction(REPO, comment.id, 'eyes', signal());

    assert.deepEqual(
      sim.reactions('acme', 'api', comment.id).map((reaction) => [reaction.content, reaction.user]),
      [['eyes', 'sim-user']],
    );
    assert.deepEqual(
      sim.requests.map((request) => `${request.method} ${request.path} ${request.status}`),
      [`POST /repos/acme/api/issues/comments/${comment.id}/reactions 201`, `POST /repos/acme/api/issues/comments/${comment.id}/reactions 200`],
    );
  });

  void it('fails permanently, naming the comment and the repository, for a comment that does not exist', async () => {
    const sim = await start();
    const error = await clientFor(sim)
      .addReaction(REPO, 42, 'eyes', signal())
      .then(
        () => assert.fail('expected a failure'),
        (failure: unknown) => failure as Error,
      );
    assert.equal(failureKindOf(error), 'permanent');
    assert.match(error.message, /comment 42/);
    assert.match(error.message, /acme\/api/);
    assert.doesNotMatch(error.message, new RegExp(TOKEN));
  });

  void it('refuses a comment id that cannot be one, without asking GitHub', async () => {
    const sim = await start();
    await assert.rejects(clientFor(sim).addReaction(REPO, 0, 'eyes', signal()), RangeError);
    await assert.rejects(clientFor(sim).addReaction(REPO, 1.5, 'eyes', signal()), RangeError);
    assert.deepEqual(sim.requests, []);
  });

  void it('is a write: paced with the comments, after the one before it', async () => {
    const clock = virtualTime(T0);
    const sim = await start(clock.now);
    const mention = sim.addComment('acme', 'api', 1, { body: '@autosolve why?', user: 'alice' });
    const client = clientFor(sim, { writeMinIntervalMs: 60_000 }, clock);

    await client.createComment(REPO, 2, 'an earlier answer', signal());
    await client.addReaction(REPO, mention.id, 'eyes', signal());
    await client.listRepositoryComments(REPO, { since: null, page: 1, etag: null }, signal());

    assert.deepEqual(
      sim.requests.map((request) => [request.method, request.startedAt - T0]),
      [
        ['POST', 0],
        ['POST', 60_000],
        ['GET', 60_000],
      ],
      'the reaction waited out the write interval; the read did not',
    );
  });
});
