/**
 * Whatever a server sends: the client and the issue poller against a small
 * HTTP server in the test that answers what GitHub never would (the simulator
 * stays faithful to GitHub): malformed items, pages that never end, redirects
 * and bodies that are not JSON.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import type { Partition } from '../src/domain/entities.js';
import { describeError, failureKindOf } from '../src/domain/failure.js';
import type { Log } from '../src/domain/ports.js';
import { issuePoller, type IssuePollerDeps } from '../src/domain/tasks/repository/issue-poller.js';
import { repositoryValidator } from '../src/domain/tasks/setup/repository-validator.js';
import { GitHubClient } from '../src/infra/github/index.js';
import { SqlIssueSyncStore, SqlRepositoryStore, type Database } from '../src/infra/store/index.js';
import { freshDatabase } from './support/store.js';

const TOKEN = 'ghp_misbehavingTEST_token_0123456789';
const REPO = { owner: 'acme', name: 'api' };
const BASE_TIME = Date.UTC(2025, 2, 1);

interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  readonly body?: unknown;
}

interface Server {
  readonly url: string;
  /** Path and query of every request, in order. */
  readonly requests: string[];
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(route: (url: URL, request: IncomingMessage) => Reply): Promise<Server> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    requests.push(`${request.method} ${url.pathname}${url.search}`);
    const reply = route(url, request);
    const text = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    const json = reply.body !== undefined && typeof reply.body !== 'string';
    response.writeHead(reply.status, { ...(json ? { 'content-type': 'application/json; charset=utf-8' } : {}), ...reply.headers });
    response.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

function client(url: string): GitHubClient {
  return new GitHubClient({ baseUrl: url, token: TOKEN, timeoutMs: 5_000, userAgent: 'autosolve/test', throttle: { minIntervalMs: 0 } });
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A well-formed issue as GitHub sends it, updated `minutes` after BASE_TIME. */
function issue(number: number, minutes: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const at = iso(BASE_TIME + minutes * 60_000);
  return {
    id: 1_000 + number,
    number,
    title: `issue ${number}`,
    body: null,
    state: 'open',
    labels: [],
    user: { login: 'octocat' },
    html_url: `https://github.com/acme/api/issues/${number}`,
    comments: 0,
    created_at: at,
    updated_at: at,
    ...extra,
  };
}

/** GitHub's issue listing over `items`: since (inclusive), updated ascending, offset pages, Link rel="next". */
function listing(items: ReadonlyArray<Record<string, unknown>>) {
  return (url: URL): Reply => {
    const since = url.searchParams.get('since');
    const timeOf = (item: Record<string, unknown>) => Date.parse(String(item.updated_at));
    const listed = items
      .filter((item) => since === null || !(timeOf(item) < Date.parse(since)))
      .sort((a, b) => timeOf(a) - timeOf(b) || Number(a.id) - Number(b.id));
    const perPage = Number(url.searchParams.get('per_page') ?? 30);
    const page = Number(url.searchParams.get('page') ?? 1);
    const next = new URL(url);
    next.searchParams.set('page', String(page + 1));
    const more = page * perPage < listed.length;
    return { status: 200, body: listed.slice((page - 1) * perPage, page * perPage), headers: more ? { link: `<${next.href}>; rel="next"` } : {} };
  };
}

interface PollerSetup {
  readonly database: Database;
  readonly partition: Partition;
  readonly warnings: string[];
  deps(overrides?: Partial<IssuePollerDeps>): IssuePollerDeps;
}

function collectingLog(warnings: string[]): Log {
  const log: Log = {
    debug: () => {},
    info: () => {},
    warn: (_fields, message) => warnings.push(message),
    error: (_fields, message) => warnings.push(message),
    child: () => log,
  };
  return log;
}

async function pollerAgainst(server: Server): Promise<PollerSetup> {
  const { database, cleanup } = await freshDatabase();
  cleanups.push(cleanup);
  const remote = { githubId: 77, owner: REPO.owner, name: REPO.name, private: false, htmlUrl: 'https://github.com/acme/api' };
  const repositoryId = await new SqlRepositoryStore(database.db).record(REPO, remote);
  const warnings: string[] = [];
  const log = collectingLog(warnings);
  const store = new SqlIssueSyncStore(database.db, { maxAttempts: 3 });
  return {
    database,
    partition: { ...REPO, repositoryId },
    warnings,
    deps: (overrides = {}) => ({ github: client(server.url), store, interval: 60_000, requiredLabel: undefined, backlog: 'answer' as const, log, ...overrides }),
  };
}

async function cursorOf(setup: PollerSetup) {
  return new SqlIssueSyncStore(setup.database.db, { maxAttempts: 3 }).cursor(setup.partition.repositoryId);
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(outcome instanceof Error, 'the call should have failed');
  return outcome;
}

const signal = (): AbortSignal => new AbortController().signal;

void describe('a server that sends malformed issues', () => {
  void it('skips a malformed issue with a log line naming the repository and issue, stores the rest and keeps moving', async () => {
    const items = Array.from({ length: 150 }, (_, i) => issue(i + 1, i));
    // Malformed items among them, each wrong in one way.
    items[2] = issue(3, 2, { state: 'reopened' });
    items[40] = issue(41, 40, { title: 42 });
    items[99] = issue(100, 99, { created_at: iso(BASE_TIME + 200 * 60_000) });
    items.push(issue(0, 120, { id: 5_000 }), issue(-4, 130, { id: 5_001 }));
    const server = await serve(listing(items));
    const setup = await pollerAgainst(server);

    await issuePoller(setup.deps()).work(signal(), setup.partition);

    const stored = (await setup.database.db.selectFrom('issues').select('number').execute()).map((row) => row.number).sort((a, b) => a - b);
    const expected = Array.from({ length: 150 }, (_, i) => i + 1).filter((n) => ![3, 41, 100].includes(n));
    assert.deepEqual(stored, expected);
    for (const which of ['#3', '#41', '#100', '#0', '#-4']) {
      assert.ok(
        setup.warnings.some((line) => line.includes(`issue ${which} of acme/api`)),
        `a log line names ${which} of acme/api: ${setup.warnings.join(' | ')}`,
      );
    }
    assert.match(setup.warnings.find((line) => line.includes('#3 ')) ?? '', /state/);
    assert.match(setup.warnings.find((line) => line.includes('#100 ')) ?? '', /updated_at is before created_at/);
    // The walk went past the malformed items: the cursor is at the end of the list.
    assert.equal((await cursorOf(setup)).since, iso(BASE_TIME + 99 * 60_000));
  });

  void it('posts nothing to, and reads nothing of, an issue number that is not positive', async () => {
    const server = await serve(() => ({ status: 201, body: {} }));
    const github = client(server.url);
    for (const number of [0, -1, 1.5]) {
      await assert.rejects(github.createComment(REPO, number, 'hello', signal()), /issue number/);
      await assert.rejects(github.listComments(REPO, number, signal()), /issue number/);
      await assert.rejects(github.getIssue(REPO, number, signal()), /issue number/);
    }
    assert.deepEqual(server.requests, []);
  });
});

void describe('a listing that never ends', () => {
  const sameInstant = (n: number) => issue(n, 0);

  void it('ends the pass with a clear error when pages repeat under rel="next", saving no runaway cursor', async () => {
    const page = Array.from({ length: 100 }, (_, i) => sameInstant(i + 1));
    const server = await serve((url) => ({ status: 200, body: page, headers: { link: `<${url.href}&page=2>; rel="next"` } }));
    const setup = await pollerAgainst(server);

    const error = await failureOf(issuePoller(setup.deps()).work(signal(), setup.partition));

    assert.match(describeError(error), /acme\/api.*page 2 held the same issues as page 1/);
    assert.ok(server.requests.length <= 3, server.requests.join('\n'));
    assert.deepEqual(await cursorOf(setup), { since: iso(BASE_TIME), page: 1, etag: null });
  });

  void it('ends the pass with a clear error when a page announcing another one is empty', async () => {
    const server = await serve((url) => ({
      status: 200,
      body: url.searchParams.has('since') ? [] : [issue(1, 0), issue(2, 1)],
      headers: { link: `<${url.href}&page=2>; rel="next"` },
    }));
    const setup = await pollerAgainst(server);

    const error = await failureOf(issuePoller(setup.deps()).work(signal(), setup.partition));

    assert.match(describeError(error), /page 1 was empty but announced another page/);
    assert.equal(server.requests.length, 2);
  });

  void it('stops after its page bound with a clear error when every page is new and at one instant', async () => {
    let next = 1;
    const server = await serve((url) => ({
      status: 200,
      body: Array.from({ length: 100 }, () => sameInstant(next++)),
      headers: { link: `<${url.href}&page=2>; rel="next"` },
    }));
    const setup = await pollerAgainst(server);

    const error = await failureOf(issuePoller(setup.deps({ limits: { maxPages: 25 } })).work(signal(), setup.partition));

    assert.match(describeError(error), /read 25 pages in one pass without catching up/);
    assert.equal(server.requests.length, 25);
    assert.deepEqual(await cursorOf(setup), { since: iso(BASE_TIME), page: 1, etag: null }, 'inside the run: its first page');
  });
});

void describe('the comment-marker check against a misbehaving server', () => {
  const comment = (id: number) => ({
    id,
    body: `comment ${id}`,
    user: { login: 'octocat' },
    html_url: `https://github.com/acme/api/issues/5#issuecomment-${id}`,
    created_at: iso(BASE_TIME),
    updated_at: iso(BASE_TIME),
  });
  const withNext = (url: URL) => ({ link: `<${url.href}>; rel="next"` });

  void it('stops at a page identical to the previous one, with a clear error, after two requests', async () => {
    const server = await serve((url) => ({ status: 200, body: [comment(1), comment(2)], headers: withNext(url) }));
    const error = await failureOf(client(server.url).listComments(REPO, 5, signal()));
    assert.match(error.message, /page 2 with the same comments as page 1/);
    assert.equal(server.requests.length, 2);
  });

  void it('ends the list at an empty page even when it announces another', async () => {
    const server = await serve((url) => ({ status: 200, body: url.searchParams.get('page') === '1' ? [comment(1)] : [], headers: withNext(url) }));
    const comments = await client(server.url).listComments(REPO, 5, signal());
    assert.deepEqual(comments.map((c) => c.githubId), [1]);
    assert.equal(server.requests.length, 2);
  });

  void it('gives up with a clear error after 30 pages that keep announcing more', async () => {
    let id = 0;
    const server = await serve((url) => ({ status: 200, body: [comment(++id)], headers: withNext(url) }));
    const error = await failureOf(client(server.url).listComments(REPO, 5, signal()));
    assert.match(error.message, /still announced more comments after 30 pages/);
    assert.equal(failureKindOf(error), 'permanent');
    assert.equal(server.requests.length, 30);
  });
});

void describe('answers that are not what was asked for', () => {
  void it('reports a 301 that was not followed as a redirect, with its status and Location', async () => {
    const server = await serve(() => ({ status: 301, headers: { 'content-type': 'text/html' }, body: '<html>Moved</html>' }));
    const error = await failureOf(client(server.url).getRepository(REPO, signal()));
    assert.match(error.message, /HTTP 301 \(no Location header, content-type text\/html\)/);
    assert.doesNotMatch(error.message, /did not look like/);
  });

  void it('reports a body that is not JSON with its status and content type', async () => {
    const server = await serve(() => ({ status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<html>Sign in to the proxy</html>' }));
    const error = await failureOf(client(server.url).getRepository(REPO, signal()));
    assert.match(error.message, /not JSON \(HTTP 200, content-type text\/html; charset=utf-8\)/);
    assert.doesNotMatch(error.message, /did not look like/);
    assert.equal(failureKindOf(error), 'permanent');
  });

  void it('follows a renamed repository and warns with its new name, keeping the configured one', async () => {
    const server = await serve((url) => {
      if (url.pathname === '/repos/acme/api') return { status: 301, headers: { location: '/repositories/42' } };
      if (url.pathname === '/repositories/42') {
        return {
          status: 200,
          body: { id: 42, name: 'api-v2', full_name: 'acme-labs/api-v2', owner: { login: 'acme-labs' }, private: false, html_url: 'https://github.com/acme-labs/api-v2' },
        };
      }
      return { status: 404, body: { message: 'Not Found' } };
    });
    const { database, cleanup } = await freshDatabase();
    cleanups.push(cleanup);
    const warnings: string[] = [];
    const repositories = new SqlRepositoryStore(database.db);

    await repositoryValidator({ github: client(server.url), repositories, log: collectingLog(warnings) }).run(signal(), REPO);

    assert.deepEqual(server.requests, ['GET /repos/acme/api', 'GET /repositories/42']);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0] ?? '', /acme\/api is now acme-labs\/api-v2 on GitHub/);
    const row = await database.db.selectFrom('repositories').select(['owner', 'name', 'github_id']).executeTakeFirst();
    assert.deepEqual(row, { owner: 'acme', name: 'api', github_id: 42 });
  });
});
