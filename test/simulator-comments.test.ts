/**
 * The simulator's side of conversation: a repository's comment listing (order, `since`, pages, ETags),
 * reactions to a comment, who wrote what (author association, bots), and the test controls that drive
 * them. Over HTTP with fetch, as any client sees it; the payloads themselves are held to GitHub's
 * description by test/simulator-openapi.test.ts.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { parseScenario, startSimulator } from '../src/simulator/index.js';
import type { Simulator, SimulatorOptions } from '../src/simulator/index.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const TOKEN = 'sim-token';
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const minutes = (n: number) => iso(T0 + n * 60_000);

const running: Simulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.close()));
});

async function start(options: SimulatorOptions = {}) {
  const clock = { now: T0 + 24 * 3_600_000 };
  const sim = await startSimulator({ now: () => clock.now, tokens: [TOKEN], ...options });
  running.push(sim);
  if (!options.scenario) sim.addRepository({ owner: 'acme', name: 'api' });
  return { sim, clock };
}

interface CommentJson {
  id: number;
  body: string;
  issue_url: string;
  html_url: string;
  created_at: string;
  updated_at: string;
  author_association: string;
  user: { login: string; type: string };
}

async function get(sim: Simulator, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${sim.url}${path}`, { headers: { authorization: `token ${TOKEN}`, ...headers } });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

async function listed(sim: Simulator, query: string): Promise<CommentJson[]> {
  const response = await get(sim, `/repos/acme/api/issues/comments?${query}`);
  assert.equal(response.status, 200, query);
  return response.json as CommentJson[];
}

async function react(sim: Simulator, id: number, body: unknown, path = `/repos/acme/api/issues/comments/${id}/reactions`) {
  const response = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

/** Two issues in acme/api, the second a pull request, both created at minute 0. */
function seedThread(sim: Simulator) {
  sim.addIssue('acme', 'api', { title: 'one', createdAt: minutes(0) });
  sim.addIssue('acme', 'api', { title: 'two', createdAt: minutes(0), pullRequest: true });
}

void describe("a repository's comment listing", () => {
  void it('lists the comments of every issue and pull request of the repository, ascending id by default', async () => {
    const { sim } = await start();
    sim.addRepository({ owner: 'acme', name: 'web' });
    sim.addIssue('acme', 'api', { title: 'one', createdAt: minutes(0) });
    sim.addIssue('acme', 'api', { title: 'two', createdAt: minutes(0), pullRequest: true });
    sim.addIssue('acme', 'web', { title: 'elsewhere', createdAt: minutes(0) });
    const a = sim.addComment('acme', 'api', 2, { body: 'a', createdAt: minutes(1) });
    const b = sim.addComment('acme', 'api', 1, { body: 'b', createdAt: minutes(2) });
    sim.addComment('acme', 'web', 1, { body: 'not this repository', createdAt: minutes(3) });
    const c = sim.addComment('acme', 'api', 2, { body: 'c', createdAt: minutes(4) });

    const comments = await listed(sim, '');
    assert.deepEqual(
      comments.map((comment) => comment.id),
      [a.id, b.id, c.id],
    );
    assert.match(comments[0]?.issue_url ?? '', /\/repos\/acme\/api\/issues\/2$/);
    assert.match(comments[0]?.html_url ?? '', /\/acme\/api\/pull\/2#issuecomment-\d+$/);
    assert.match(comments[1]?.issue_url ?? '', /\/repos\/acme\/api\/issues\/1$/);
    assert.equal(comments[1]?.created_at, minutes(2));
    assert.equal((await get(sim, '/repos/acme/nope/issues/comments')).status, 404);
  });

  void it('sorts by update or creation, in either direction (descending by default once sorted)', async () => {
    const { sim, clock } = await start();
    seedThread(sim);
    const a = sim.addComment('acme', 'api', 1, { body: 'a', createdAt: minutes(1) });
    const b = sim.addComment('acme', 'api', 2, { body: 'b', createdAt: minutes(2) });
    const c = sim.addComment('acme', 'api', 1, { body: 'c', createdAt: minutes(3) });
    clock.now = T0 + 10 * 60_000;
    sim.editComment('acme', 'api', a.id, 'a, edited');

    const ids = async (query: string) => (await listed(sim, query)).map((comment) => comment.id);
    assert.deepEqual(await ids('sort=updated&direction=asc'), [b.id, c.id, a.id]);
    assert.deepEqual(await ids('sort=updated'), [a.id, c.id, b.id]);
    assert.deepEqual(await ids('sort=created&direction=asc'), [a.id, b.id, c.id]);
    assert.deepEqual(await ids('sort=created&direction=desc'), [c.id, b.id, a.id]);
    assert.deepEqual(await ids('direction=desc'), [a.id, b.id, c.id], 'direction is ignored without sort');
    for (const query of ['sort=comments', 'direction=up', 'since=yesterday']) {
      assert.equal((await get(sim, `/repos/acme/api/issues/comments?${query}`)).status, 422, query);
    }
  });

  void it('keeps comments updated at or after since (inclusive), at second resolution', async () => {
    const { sim } = await start();
    seedThread(sim);
    sim.addComment('acme', 'api', 1, { body: 'before', createdAt: minutes(1) });
    sim.addComment('acme', 'api', 2, { body: 'at', createdAt: minutes(2) });
    sim.addComment('acme', 'api', 1, { body: 'after', createdAt: minutes(3) });

    const bodies = async (query: string) => (await listed(sim, query)).map((comment) => comment.body);
    assert.deepEqual(await bodies(`sort=updated&direction=asc&since=${minutes(2)}`), ['at', 'after']);
    assert.deepEqual(await bodies(`sort=updated&direction=asc&since=${new Date(T0 + 2 * 60_000 + 1).toISOString()}`), ['after']);
    assert.deepEqual(await bodies(`sort=updated&direction=asc&since=${minutes(4)}`), []);
  });

  void it('pages by at most 100 with GitHub\'s Link header', async () => {
    const { sim } = await start();
    seedThread(sim);
    for (let i = 0; i < 230; i++) sim.addComment('acme', 'api', 1 + (i % 2), { body: `c${i}`, createdAt: iso(T0 + i * 1000) });

    const first = await get(sim, '/repos/acme/api/issues/comments?sort=updated&direction=asc&per_page=500');
    assert.equal((first.json as unknown[]).length, 100, 'per_page is capped at 100');
    const link = first.headers.get('link') ?? '';
    assert.match(link, /[?&]page=2\b[^>]*>; rel="next"/);
    assert.match(link, /[?&]page=3\b[^>]*>; rel="last"/);
    assert.match(link, /sort=updated/);
    const last = await get(sim, '/repos/acme/api/issues/comments?sort=updated&direction=asc&per_page=100&page=3');
    assert.deepEqual(
      (last.json as CommentJson[]).map((comment) => comment.body),
      Array.from({ length: 30 }, (_, i) => `c${200 + i}`),
    );
    assert.doesNotMatch(last.headers.get('link') ?? '', /rel="next"/);
    assert.equal(((await get(sim, '/repos/acme/api/issues/comments')).json as unknown[]).length, 30, '30 by default');
  });

  void it('answers the same request again with 304 for its ETag, costing no primary budget, until a comment changes', async () => {
    const { sim, clock } = await start();
    seedThread(sim);
    const comment = sim.addComment('acme', 'api', 1, { body: 'hello', createdAt: minutes(1) });
    const query = `/repos/acme/api/issues/comments?sort=updated&direction=asc&since=${minutes(0)}&per_page=100`;
    const first = await get(sim, query);
    const etag = first.headers.get('etag') ?? '';
    assert.match(etag, /^W\/"[0-9a-f]+"$/);
    const before = sim.rateLimitOf(TOKEN);

    const second = await get(sim, query, { 'if-none-match': etag });
    assert.equal(second.status, 304);
    assert.deepEqual(sim.rateLimitOf(TOKEN), before);
    assert.equal(sim.requests.at(-1)?.rateLimitCost, 0);

    clock.now += 60_000;
    sim.editComment('acme', 'api', comment.id, 'hello, edited');
    const third = await get(sim, query, { 'if-none-match': etag });
    assert.equal(third.status, 200, 'an edit changes the listing');
    assert.equal(sim.rateLimitOf(TOKEN).remaining, before.remaining - 1, 'a 200 costs one unit, as any GET');
  });
});

void describe('who wrote a comment or an issue', () => {
  void it('gives each comment its author, association and bot-ness, as set by the test', async () => {
    const { sim } = await start();
    seedThread(sim);
    sim.addComment('acme', 'api', 1, { body: 'maintainer', user: 'alice', authorAssociation: 'MEMBER' });
    sim.addComment('acme', 'api', 1, { body: 'bot', user: 'renovate', bot: true, authorAssociation: 'CONTRIBUTOR' });
    sim.addComment('acme', 'api', 1, { body: 'stranger', user: 'mallory' });
    sim.addComment('acme', 'api', 1, { body: 'owner', user: 'acme' });

    const comments = await listed(sim, '');
    assert.deepEqual(
      comments.map((comment) => [comment.user.login, comment.user.type, comment.author_association]),
      [
        ['alice', 'User', 'MEMBER'],
        ['renovate[bot]', 'Bot', 'CONTRIBUTOR'],
        ['mallory', 'User', 'NONE'],
        ['acme', 'User', 'OWNER'],
      ],
    );
    assert.deepEqual(
      sim.comments('acme', 'api', 1).map((comment) => [comment.user, comment.authorAssociation, comment.bot]),
      [
        ['alice', 'MEMBER', false],
        ['renovate[bot]', 'CONTRIBUTOR', true],
        ['mallory', 'NONE', false],
        ['acme', 'OWNER', false],
      ],
    );
  });

  void it("posts the token user's comments as a member, and gives issues their author's association", async () => {
    const { sim } = await start();
    sim.addIssue('acme', 'api', { title: 'by a stranger', user: 'mallory' });
    sim.addIssue('acme', 'api', { title: 'by a collaborator', user: 'carol', authorAssociation: 'COLLABORATOR' });
    sim.addIssue('acme', 'api', { title: 'by the owner', user: 'acme' });
    const posted = await fetch(`${sim.url}/repos/acme/api/issues/1/comments`, {
      method: 'POST',
      headers: { authorization: `token ${TOKEN}` },
      body: JSON.stringify({ body: 'an answer' }),
    });
    const comment = (await posted.json()) as CommentJson;
    assert.equal(comment.user.login, 'sim-user');
    assert.equal(comment.user.type, 'User');
    assert.equal(comment.author_association, 'MEMBER');

    const association = async (number: number) => ((await get(sim, `/repos/acme/api/issues/${number}`)).json as CommentJson).author_association;
    assert.equal(await association(1), 'NONE');
    assert.equal(await association(2), 'COLLABORATOR');
    assert.equal(await association(3), 'OWNER');
    assert.deepEqual(
      sim.issues('acme', 'api').map((issue) => issue.authorAssociation),
      ['NONE', 'COLLABORATOR', 'OWNER'],
    );
  });

  void it('editing a comment moves its own updated_at, not its issue\'s', async () => {
    const { sim, clock } = await start();
    seedThread(sim);
    const comment = sim.addComment('acme', 'api', 1, { body: 'first words', createdAt: minutes(1) });
    const issueBefore = sim.issues('acme', 'api')[0]?.updatedAt;
    assert.equal(issueBefore, minutes(1));

    clock.now = T0 + 5 * 60_000;
    const edited = sim.editComment('acme', 'api', comment.id, 'second thoughts');
    assert.equal(edited.body, 'second thoughts');
    assert.equal(edited.createdAt, minutes(1));
    assert.equal(edited.updatedAt, minutes(5));
    assert.equal(sim.issues('acme', 'api')[0]?.updatedAt, issueBefore);
    const [listedComment] = await listed(sim, `since=${minutes(5)}`);
    assert.equal(listedComment?.body, 'second thoughts');
    assert.throws(() => sim.editComment('acme', 'api', 42, 'x'), /unknown comment 42 of acme\/api/);
  });

  void it('seeds comments with an author, association, bot flag and edit time from a scenario', async () => {
    const scenario = parseScenario({
      repositories: [
        {
          owner: 'acme',
          name: 'api',
          issues: [
            {
              title: 'asked',
              user: 'carol',
              authorAssociation: 'CONTRIBUTOR',
              createdAt: minutes(0),
              comments: [
                { body: '@autosolve why?', user: 'alice', authorAssociation: 'OWNER', createdAt: minutes(1), updatedAt: minutes(2) },
                { body: 'beep', user: 'ci', bot: true, createdAt: minutes(3) },
              ],
            },
          ],
        },
      ],
    });
    const { sim } = await start({ scenario });
    assert.equal(sim.issues('acme', 'api')[0]?.authorAssociation, 'CONTRIBUTOR');
    assert.deepEqual(
      sim.comments('acme', 'api', 1).map((comment) => [comment.user, comment.authorAssociation, comment.bot, comment.updatedAt]),
      [
        ['alice', 'OWNER', false, minutes(2)],
        ['ci[bot]', 'NONE', true, minutes(3)],
      ],
    );
    assert.throws(
      () => parseScenario({ repositories: [{ owner: 'a', name: 'b', issues: [{ title: 't', comments: [{ body: 'x', authorAssociation: 'BOSS' }] }] }] }),
      /repositories\[0\]\.issues\[0\]\.comments\[0\]\.authorAssociation/,
    );
    assert.throws(
      () =>
        parseScenario({
          repositories: [{ owner: 'a', name: 'b', issues: [{ title: 't', comments: [{ body: 'x', createdAt: minutes(2), updatedAt: minutes(1) }] }] }],
        }),
      /comments\[0\]\.updatedAt: is before createdAt/,
    );
  });
});

void describe('reactions to a comment', () => {
  void it('creates a reaction (201), finds it again for the same user and content (200), and records it', async () => {
    const { sim } = await start();
    seedThread(sim);
    const comment = sim.addComment('acme', 'api', 1, { body: '@autosolve ?', user: 'alice', createdAt: minutes(1) });

    const created = await react(sim, comment.id, { content: 'eyes' });
    assert.equal(created.status, 201);
    const reaction = created.json as { id: number; content: string; user: { login: string } };
    assert.equal(reaction.content, 'eyes');
    assert.equal(reaction.user.login, 'sim-user');
    const again = await react(sim, comment.id, { content: 'eyes' });
    assert.equal(again.status, 200);
    assert.equal((again.json as { id: number }).id, reaction.id);
    assert.equal((await react(sim, comment.id, { content: 'heart' })).status, 201);

    assert.deepEqual(
      sim.reactions('acme', 'api', comment.id).map((r) => [r.content, r.user]),
      [
        ['eyes', 'sim-user'],
        ['heart', 'sim-user'],
      ],
    );
    assert.equal(sim.comments('acme', 'api', 1)[0]?.updatedAt, minutes(1), 'a reaction does not edit the comment');
    assert.deepEqual(
      sim.requests.filter((r) => r.method === 'POST').map((r) => r.rateLimitCost),
      [1, 1, 1],
      'each a request against the primary budget, like any write',
    );
  });

  void it('answers 404 for an unknown comment, 422 for an unknown content, 400 for a body that is not JSON', async () => {
    const { sim } = await start();
    seedThread(sim);
    sim.addRepository({ owner: 'acme', name: 'web' });
    const comment = sim.addComment('acme', 'api', 1, { body: 'hi' });
    assert.equal((await react(sim, 42, { content: 'eyes' })).status, 404);
    assert.equal((await react(sim, comment.id, { content: 'eyes' }, `/repos/acme/web/issues/comments/${comment.id}/reactions`)).status, 404);
    assert.equal((await react(sim, comment.id, { content: 'shrug' })).status, 422);
    assert.equal((await react(sim, comment.id, {})).status, 422);
    assert.equal((await react(sim, comment.id, '{"content":')).status, 400);
    assert.deepEqual(sim.reactions('acme', 'api', comment.id), []);
  });

  void it('counts a reaction as a write against the secondary points, like a comment', async () => {
    const { sim } = await start({ secondaryLimits: { restPointsPerMinute: 9 } });
    seedThread(sim);
    const comment = sim.addComment('acme', 'api', 1, { body: 'hi' });
    assert.equal((await react(sim, comment.id, { content: 'eyes' })).status, 201);
    assert.equal((await react(sim, comment.id, { content: 'rocket' })).status, 403, 'two writes are 10 points');
    assert.deepEqual(
      sim.breaches().map((breach) => breach.kind),
      ['secondary-points'],
    );
  });
});
