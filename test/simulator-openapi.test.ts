/**
 * The simulator held to GitHub's own REST description (api.github.com, `@octokit/openapi`): every endpoint it
 * serves, every status it answers, bodies and described headers, so no test rests on a payload GitHub would
 * not send.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSimulator } from '../src/simulator/index.js';
import type { Simulator } from '../src/simulator/index.js';
import { matchRoute, servedOperations } from '../src/simulator/routes.js';
import { GitHubDescription, type Exchange, type Verdict } from './support/github-openapi.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const TOKEN = 'sim-token';
const clock = { now: T0 };

let description: GitHubDescription;
let sim: Simulator;
/** Every checked exchange, for the coverage check at the end. */
const seen: Array<{ method: string; path: string; status: number; verdict: Verdict }> = [];

before(async () => {
  description = GitHubDescription.load();
  sim = await startSimulator({ now: () => clock.now, tokens: [TOKEN] });
  sim.addRepository({ owner: 'acme', name: 'api' });
  sim.addRepository({ owner: 'acme', name: 'private-api', private: true });
  sim.addRepository({ owner: 'acme', name: 'web', archived: true, topics: ['frontend', 'fleet'] });
  const at = (minutes: number) => new Date(T0 - minutes * 60_000).toISOString();
  sim.addIssue('acme', 'api', {
    title: 'Crash on empty config',
    body: 'Steps to reproduce',
    labels: ['bug', 'autosolve', 'good first issue', '🐛 crash'],
    user: 'alice',
    authorAssociation: 'FIRST_TIME_CONTRIBUTOR',
    createdAt: at(90),
    comments: [
      { body: 'Same here', user: 'bob', createdAt: at(80) },
      { body: 'And here', user: 'dependabot[bot]', createdAt: at(70) },
      { body: '@autosolve why?', user: 'carol', authorAssociation: 'MEMBER', createdAt: at(68), updatedAt: at(65) },
      { body: 'Checks passed', user: 'ci', bot: true, authorAssociation: 'CONTRIBUTOR', createdAt: at(66) },
    ],
  });
  sim.addIssue('acme', 'api', { title: 'Closed one', body: null, state: 'closed', createdAt: at(60) });
  sim.addIssue('acme', 'api', { title: 'A pull request', pullRequest: true, labels: ['autosolve'], createdAt: at(50) });
  for (let i = 0; i < 4; i++) sim.addIssue('acme', 'api', { title: `Filler ${i}`, labels: [`area-${i}`], createdAt: at(40 - i) });
  sim.addIssue('acme', 'web', { title: 'Moves away', createdAt: at(30) });
  sim.transferIssue('acme', 'web', 1, 'acme', 'api');
});

after(async () => {
  await sim?.close();
});

interface CallOptions {
  body?: string;
  token?: string | null;
  headers?: Record<string, string>;
}

/** One request, checked against the description; fails the test with every departure it finds. */
async function call(method: string, pathAndQuery: string, options: CallOptions = {}): Promise<Exchange & { json: unknown }> {
  const token = options.token === undefined ? TOKEN : options.token;
  const response = await fetch(`${sim.url}${pathAndQuery}`, {
    method,
    redirect: 'manual',
    headers: { ...(token === null ? {} : { authorization: `token ${token}` }), ...options.headers },
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await response.text();
  const path = new URL(pathAndQuery, sim.url).pathname.replace(/^\/api\/v3(?=\/)/, '');
  const exchange: Exchange = { method, path, status: response.status, headers: response.headers, text };
  const verdict = description.check(exchange);
  seen.push({ method, path, status: response.status, verdict });
  const problems = [...verdict.problems, ...httpProblems(exchange)];
  assert.deepEqual(problems, [], `${method} ${pathAndQuery} → ${response.status} departs from GitHub's description`);
  return { ...exchange, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

/** What HTTP itself asks of headers the description leaves undescribed (ETag) or only types as text (Link). */
function httpProblems(exchange: Exchange): string[] {
  const problems: string[] = [];
  const etag = exchange.headers.get('etag');
  // RFC 9110 entity-tag: optional W/ then a quoted string without quotes inside.
  if (etag !== null && !/^(W\/)?"[\x21\x23-\x7e]*"$/.test(etag)) problems.push(`etag ${etag} is not an entity-tag`);
  const link = exchange.headers.get('link');
  if (link !== null) {
    // RFC 8288 as GitHub writes it: `<absolute URL>; rel="next"`, comma separated, each relation once.
    const parts = link.split(', ');
    const rels = parts.map((part) => /^<(https?:\/\/[^>\s]+)>; rel="(prev|next|last|first)"$/.exec(part)?.[2]);
    if (rels.some((rel) => rel === undefined)) problems.push(`link ${link} is not GitHub's Link format`);
    if (new Set(rels).size !== rels.length) problems.push(`link ${link} repeats a relation`);
  }
  return problems;
}

const ok = (exchange: { status: number }, status = 200) => assert.equal(exchange.status, status);

void describe('the simulator against GitHub\'s REST description', () => {
  void it('answers every endpoint it serves with a body and headers GitHub describes', async () => {
    ok(await call('GET', '/rate_limit'));
    ok(await call('GET', '/user'));
    ok(await call('GET', '/repos/acme/api'));
    ok(await call('GET', '/repos/acme/private-api'));
    ok(await call('GET', '/api/v3/repos/acme/api'));

    const firstPage = await call('GET', '/repos/acme/api/issues?state=all&per_page=2&sort=updated&direction=asc');
    assert.match(firstPage.headers.get('link') ?? '', /rel="next"/);
    ok(await call('GET', '/repos/acme/api/issues?state=all&per_page=2&page=2'));
    ok(await call('GET', '/repos/acme/api/issues?state=all&per_page=2&page=9'));
    ok(await call('GET', `/repos/acme/api/issues?since=${new Date(T0 - 45 * 60_000).toISOString()}&labels=autosolve`));
    ok(await call('GET', '/api/v3/repos/acme/api/issues?state=closed'));

    ok(await call('GET', '/repos/acme/api/issues/1'));
    ok(await call('GET', '/repos/acme/api/issues/2'));
    ok(await call('GET', '/repos/acme/api/issues/3'));
    ok(await call('GET', '/repos/acme/api/issues/1/comments?per_page=1'));
    ok(await call('GET', '/repos/acme/api/issues/1/comments?per_page=1&page=2'));
    ok(await call('GET', '/repos/acme/api/issues/2/comments'));

    const created = await call('POST', '/repos/acme/api/issues/1/comments', { body: JSON.stringify({ body: 'An answer' }) });
    ok(created, 201);
    const { id, url } = created.json as { id: number; url: string };
    assert.equal(created.headers.get('location'), url);
    clock.now += 60_000;
    ok(await call('GET', `/repos/acme/api/issues/comments/${id}`));
    ok(await call('PATCH', `/repos/acme/api/issues/comments/${id}`, { body: JSON.stringify({ body: 'A better answer' }) }));

    ok(await call('GET', '/repos/acme/api/labels'));
    ok(await call('GET', '/repos/acme/api/labels?per_page=2&page=2'));
  });

  void it("answers a repository's comment listing and reactions to a comment", async () => {
    const comments = await call('GET', '/repos/acme/api/issues/comments?sort=updated&direction=asc&per_page=2');
    ok(comments);
    assert.match(comments.headers.get('link') ?? '', /rel="next"/);
    const listed = comments.json as Array<{ id: number; author_association: string; user: { type: string } }>;
    ok(await call('GET', '/repos/acme/api/issues/comments?sort=updated&direction=asc&per_page=2&page=2'));
    ok(await call('GET', `/repos/acme/api/issues/comments?sort=created&since=${new Date(T0 - 67 * 60_000).toISOString()}`));
    const all = await call('GET', '/api/v3/repos/acme/api/issues/comments?per_page=100');
    ok(all);
    const kinds = (all.json as Array<{ author_association: string; user: { type: string } }>).map(
      (comment) => `${comment.author_association}/${comment.user.type}`,
    );
    assert.ok(kinds.includes('MEMBER/User') && kinds.includes('CONTRIBUTOR/Bot'), kinds.join(', '));

    const id = listed[0]?.id ?? 0;
    ok(await call('POST', `/repos/acme/api/issues/comments/${id}/reactions`, { body: JSON.stringify({ content: 'eyes' }) }), 201);
    ok(await call('POST', `/repos/acme/api/issues/comments/${id}/reactions`, { body: JSON.stringify({ content: 'eyes' }) }), 200);
    const issue = await call('GET', '/repos/acme/api/issues/1');
    assert.equal((issue.json as { author_association: string }).author_association, 'FIRST_TIME_CONTRIBUTOR');
  });

  void it('answers the listings across repositories (organisation repositories and issues, the user\'s issues)', async () => {
    const repos = await call('GET', '/orgs/acme/repos?type=all&sort=created&direction=asc&per_page=2');
    ok(repos);
    assert.match(repos.headers.get('link') ?? '', /rel="next"/);
    ok(await call('GET', '/orgs/acme/repos?per_page=2&page=2'));
    ok(await call('GET', '/orgs/acme/repos?type=private&sort=full_name'));
    ok(await call('GET', '/orgs/ACME/repos?sort=updated&direction=desc'));

    const issues = await call('GET', '/orgs/acme/issues?filter=all&state=all&sort=updated&direction=asc&per_page=3');
    ok(issues);
    assert.match(issues.headers.get('link') ?? '', /rel="last"/);
    ok(await call('GET', '/orgs/acme/issues?filter=all&state=all&per_page=3&page=2'));
    ok(await call('GET', `/orgs/acme/issues?filter=all&labels=autosolve&since=${new Date(T0 - 55 * 60_000).toISOString()}`));
    ok(await call('GET', '/orgs/acme/issues'));
    ok(await call('GET', '/issues?filter=all&state=all&sort=comments&per_page=100'));
    ok(await call('GET', '/api/v3/issues?filter=created'));
  });

  void it('answers failures with the statuses and error bodies GitHub describes', async () => {
    assert.equal((await call('GET', '/repos/acme/nope')).status, 404);
    assert.equal((await call('GET', '/repos/acme/api/issues/999')).status, 404);
    assert.equal((await call('GET', '/repos/acme/nope/issues')).status, 404);
    assert.equal((await call('GET', '/repos/acme/api/issues/999/comments')).status, 404);
    assert.equal((await call('POST', '/repos/acme/api/issues/999/comments', { body: '{"body":"x"}' })).status, 404);
    assert.equal((await call('GET', '/repos/acme/api/issues/comments/1')).status, 404);
    assert.equal((await call('PATCH', '/repos/acme/api/issues/comments/1', { body: '{"body":"x"}' })).status, 404);
    assert.equal((await call('GET', '/repos/acme/nope/labels')).status, 404);
    assert.equal((await call('GET', '/repos/acme/nope/issues/comments')).status, 404);
    assert.equal((await call('POST', '/repos/acme/api/issues/comments/1/reactions', { body: '{"content":"eyes"}' })).status, 404);
    assert.equal((await call('POST', '/repos/acme/api/issues/comments/2000000001/reactions', { token: 'revoked', body: '{"content":"eyes"}' })).status, 401);
    for (const query of ['sort=comments', 'direction=up', 'since=yesterday']) {
      assert.equal((await call('GET', `/repos/acme/api/issues/comments?${query}`)).status, 422, query);
    }
    assert.equal((await call('POST', '/repos/acme/api/issues/comments/2000000001/reactions', { body: '{"content":"shrug"}' })).status, 422);
    assert.equal((await call('POST', '/repos/acme/api/issues/comments/2000000001/reactions', { body: '{}' })).status, 422);
    assert.equal((await call('POST', '/repos/acme/api/issues/comments/2000000001/reactions', { body: 'not json' })).status, 400);
    assert.equal((await call('GET', '/no/such/endpoint')).status, 404);
    assert.equal((await call('GET', '/orgs/nobody/repos')).status, 404);
    assert.equal((await call('GET', '/orgs/nobody/issues')).status, 404);

    assert.equal((await call('GET', '/repos/acme/api', { token: 'revoked' })).status, 401);
    assert.equal((await call('GET', '/repos/acme/api/issues', { token: null })).status, 401);
    assert.equal((await call('POST', '/repos/acme/api/issues/1/comments', { token: 'revoked', body: '{}' })).status, 401);

    for (const query of ['state=bogus', 'sort=bogus', 'direction=up', 'since=yesterday']) {
      assert.equal((await call('GET', `/repos/acme/api/issues?${query}`)).status, 422, query);
      assert.equal((await call('GET', `/orgs/acme/issues?${query}`)).status, 422, query);
      assert.equal((await call('GET', `/issues?${query}`)).status, 422, query);
    }
    assert.equal((await call('GET', '/issues?filter=bogus')).status, 422);
    assert.equal((await call('GET', '/orgs/acme/repos?sort=bogus')).status, 422);
    assert.equal((await call('GET', '/repos/acme/api/issues/1/comments?since=yesterday')).status, 422);
    assert.equal((await call('POST', '/repos/acme/api/issues/1/comments', { body: '{"body":' })).status, 400);
    assert.equal((await call('POST', '/repos/acme/api/issues/1/comments', { body: '{"body":""}' })).status, 422);
    assert.equal((await call('PATCH', '/repos/acme/api/issues/comments/2000000001', { body: 'not json' })).status, 400);
    assert.equal((await call('PATCH', '/repos/acme/api/issues/comments/2000000001', { body: '{}' })).status, 422);

    const moved = await call('GET', '/repos/acme/web/issues/1');
    assert.equal(moved.status, 301);
    assert.match(moved.headers.get('location') ?? '', /\/repos\/acme\/api\/issues\/\d+$/);
    assert.equal((await call('GET', '/repos/acme/web/issues/1/comments')).status, 301);

    const fresh = await call('GET', '/repos/acme/api/issues/1');
    const notModified = await call('GET', '/repos/acme/api/issues/1', { headers: { 'if-none-match': fresh.headers.get('etag') ?? '' } });
    assert.equal(notModified.status, 304);
    const listing = '/repos/acme/api/issues/comments?sort=updated&direction=asc&per_page=100';
    const freshComments = await call('GET', listing);
    const unchanged = await call('GET', listing, { headers: { 'if-none-match': freshComments.headers.get('etag') ?? '' } });
    assert.equal(unchanged.status, 304);
  });

  void it('refuses a spent budget and passes on limits the way GitHub describes', async () => {
    sim.injectFault({ kind: 'secondary-rate-limit', retryAfterSeconds: 60 });
    assert.equal((await call('GET', '/repos/acme/api/issues')).status, 403);
    sim.injectFault({ kind: 'server-error', status: 503 });
    assert.equal((await call('GET', '/repos/acme/api/issues')).status, 503);
    sim.injectFault({ kind: 'server-error' });
    assert.equal((await call('POST', '/repos/acme/api/issues/1/comments', { body: '{"body":"x"}' })).status, 500);
    sim.injectFault({ kind: 'secondary-rate-limit', match: { path: /\/reactions$/ } });
    assert.equal((await call('POST', '/repos/acme/api/issues/comments/2000000001/reactions', { body: '{"content":"eyes"}' })).status, 403);

    sim.setRateLimit(TOKEN, { remaining: 0, resetAt: Math.ceil(clock.now / 1000) + 600 });
    assert.equal((await call('GET', '/repos/acme/api/issues')).status, 403);
    assert.equal((await call('POST', '/repos/acme/api/issues/1/comments', { body: '{"body":"x"}' })).status, 403);
    assert.equal((await call('GET', '/repos/acme/api/issues/comments')).status, 403);
    assert.equal((await call('POST', '/repos/acme/api/issues/comments/2000000001/reactions', { body: '{"content":"eyes"}' })).status, 403);
    const limits = await call('GET', '/rate_limit');
    assert.equal((limits.json as { rate: { remaining: number } }).rate.remaining, 0);
    clock.now += 601_000; // the window ends: a later test sees a full budget
  });

  void it('covers every endpoint the simulator serves, each as the GitHub operation it names', () => {
    for (const entry of seen) {
      const route = matchRoute(entry.method, entry.path);
      if (route) assert.equal(entry.verdict.operationId, route.operationId, `${entry.method} ${entry.path}`);
    }
    const answered = new Set(
      seen.filter((entry) => entry.status >= 200 && entry.status < 300).map((entry) => entry.verdict.operationId),
    );
    const unchecked = servedOperations().filter((operation) => !answered.has(operation.operationId));
    assert.deepEqual(unchecked, [], 'a route the simulator serves has no successful exchange checked above');
  });
});

void describe('the description checker', () => {
  const exchange = (method: string, path: string, status: number, body: unknown, headers: Record<string, string> = {}) =>
    description.check({
      method,
      path,
      status,
      headers: new Headers({ 'content-type': 'application/json; charset=utf-8', ...headers }),
      text: body === undefined ? '' : JSON.stringify(body),
    }).problems;

  void it('rejects payloads, statuses and headers GitHub would not send', async () => {
    const label = (await call('GET', '/repos/acme/api/labels')).json as Array<Record<string, unknown>>;
    assert.deepEqual(exchange('GET', '/repos/acme/api/labels', 200, label), []);
    assert.notDeepEqual(exchange('GET', '/repos/acme/api/labels', 200, [{ ...label[0], color: 0xff0000 }]), []);
    const user = (await call('GET', '/user')).json as Record<string, unknown>;
    delete user['gravatar_id'];
    assert.notDeepEqual(exchange('GET', '/user', 200, user), []);
    const issue = (await call('GET', '/repos/acme/api/issues/1')).json as Record<string, unknown>;
    assert.deepEqual(exchange('GET', '/repos/acme/api/issues/1', 200, { ...issue, state_reason: null }), []);
    assert.notDeepEqual(exchange('GET', '/repos/acme/api/issues/1', 200, { ...issue, state_reason: 'bogus' }), []);
    assert.notDeepEqual(exchange('GET', '/repos/acme/api/issues/1', 418, { message: 'teapot' }), []);
    assert.notDeepEqual(exchange('GET', '/repos/acme/api/issues/1', 304, { message: 'a body on a 304' }), []);
    const limits = (await call('GET', '/rate_limit')).json;
    assert.deepEqual(exchange('GET', '/rate_limit', 200, limits, { 'x-ratelimit-remaining': '4999' }), []);
    assert.notDeepEqual(exchange('GET', '/rate_limit', 200, limits, { 'x-ratelimit-remaining': 'many' }), []);
    assert.notDeepEqual(exchange('GET', '/repos/acme/api/no-such-endpoint', 200, []), []);
  });
});
