/**
 * GitHubClient against the simulator: what it asks GitHub, what it makes of
 * the answers, and how it classifies every kind of failure without ever
 * letting the token out.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, describe, it } from 'node:test';
import { describeError, failureKindOf, waitHintOf } from '../src/domain/failure.js';
import { GitHubClient, type GitHubClientOptions } from '../src/infra/github/index.js';
import { type SimFault, type SimIssueInput, type Simulator, startSimulator } from '../src/simulator/index.js';
import { assertCutShort } from './support/timing.js';

const TOKEN = 'ghp_clientTestTOKEN_d1st1nct1ve_4242424242';
const REPO = { owner: 'acme', name: 'api' };

let simulator: Simulator | undefined;

afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

async function start(issues: SimIssueInput[] = [{ title: 'first' }], now?: () => number): Promise<Simulator> {
  simulator = await startSimulator({
    tokens: [TOKEN],
    ...(now === undefined ? {} : { now }),
    scenario: { repositories: [{ owner: 'acme', name: 'api', issues }] },
  });
  return simulator;
}

function clientFor(baseUrl: string, extra: Partial<GitHubClientOptions> = {}): GitHubClient {
  return new GitHubClient({
    baseUrl,
    token: TOKEN,
    timeoutMs: 5_000,
    userAgent: 'autosolve/1.2.3',
    throttle: { minIntervalMs: 0 },
    ...extra,
  });
}

const signal = (): AbortSignal => new AbortController().signal;

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(outcome instanceof Error, 'the call should have failed');
  return outcome;
}

function manyIssues(count: number): SimIssueInput[] {
  const base = Date.UTC(2026, 0, 1);
  return Array.from({ length: count }, (_, i) => ({
    title: `issue ${i + 1}`,
    pullRequest: i % 10 === 0,
    createdAt: new Date(base + i * 1000).toISOString(),
  }));
}

void describe('GitHubClient: reading and writing', () => {
  void it('gets a repository, identified as autosolve, with the token', async () => {
    const sim = await start();
    const repo = await clientFor(sim.url).getRepository(REPO, signal());

    assert.equal(repo.owner, 'acme');
    assert.equal(repo.name, 'api');
    assert.equal(typeof repo.githubId, 'number');
    assert.equal(repo.private, false);
    const [request] = sim.requests;
    assert.equal(request?.path, '/repos/acme/api');
    assert.match(request?.userAgent ?? '', /^autosolve\/1\.2\.3( |$)/);
    assert.equal(request?.token, TOKEN);
  });

  void it('works against a GitHub Enterprise Server base URL ending in /api/v3', async () => {
    const sim = await start();
    const repo = await clientFor(`${sim.url}/api/v3/`).getRepository(REPO, signal());
    assert.equal(repo.name, 'api');
    assert.equal(sim.requests[0]?.path, '/repos/acme/api');
  });

  void it('walks 250 issues in 3 requests of 100, pull requests flagged', async () => {
    const sim = await start(manyIssues(250));
    const client = clientFor(sim.url);
    const seen = [];
    let page = 1;
    for (;;) {
      const result = await client.listIssues(REPO, { since: null, page, etag: null }, signal());
      assert.equal(result.notModified, false);
      if (result.notModified) break;
      assert.ok(result.etag, 'every page has an ETag');
      seen.push(...result.issues);
      if (!result.hasNextPage) break;
      page++;
    }

    assert.equal(sim.requests.length, 3);
    for (const request of sim.requests) {
      assert.deepEqual(
        { state: request.query.state, sort: request.query.sort, direction: request.query.direction, per_page: request.query.per_page },
        { state: 'all', sort: 'updated', direction: 'asc', per_page: '100' },
      );
      assert.equal(request.query.since, undefined);
    }
    assert.deepEqual(
      sim.requests.map((r) => r.query.page),
      ['1', '2', '3'],
    );
    assert.equal(seen.length, 250);
    assert.equal(new Set(seen.map((issue) => issue.githubId)).size, 250);
    assert.equal(seen.filter((issue) => issue.isPullRequest).length, 25);
    assert.equal(seen[0]?.title, 'issue 1');
    assert.equal(seen[0]?.isPullRequest, true);
    assert.equal(seen[1]?.isPullRequest, false);
  });

  void it('sends since, and a repeated request with the stored ETag gets 304 for free', async () => {
    const sim = await start(manyIssues(3));
    const client = clientFor(sim.url);
    const cursor = { since: '2026-01-01T00:00:01Z', page: 1 };

    const first = await client.listIssues(REPO, { ...cursor, etag: null }, signal());
    assert.equal(first.notModified, false);
    assert.equal(first.notModified ? 0 : first.issues.length, 2, 'since is inclusive');
    const etag = first.notModified ? null : first.etag;
    const before = sim.rateLimitOf(TOKEN).remaining;

    const second = await client.listIssues(REPO, { ...cursor, etag }, signal());

    assert.deepEqual(second, { notModified: true });
    assert.equal(sim.rateLimitOf(TOKEN).remaining, before, 'a 304 costs no rate-limit unit');
    const [firstRequest, secondRequest] = sim.requests;
    assert.equal(firstRequest?.query.since, cursor.since);
    assert.equal(secondRequest?.ifNoneMatch, etag);
    assert.equal(secondRequest?.status, 304);
    assert.equal(secondRequest?.rateLimitCost, 0);
    assert.equal(client.stats().notModified, 1);

    sim.updateIssue('acme', 'api', 3, { title: 'changed' });
    const third = await client.listIssues(REPO, { ...cursor, etag }, signal());
    assert.equal(third.notModified, false, 'a change invalidates the ETag');
  });

  void it('gets one issue and maps it to our entity', async () => {
    const sim = await start([{ title: 'Crash on start', body: null, labels: ['bug', 'autosolve'], user: 'octocat' }]);
    const issue = await clientFor(sim.url).getIssue(REPO, 1, signal());
    assert.equal(issue.number, 1);
    assert.equal(issue.title, 'Crash on start');
    assert.equal(issue.body, null);
    assert.deepEqual(issue.labels, ['bug', 'autosolve']);
    assert.equal(issue.author, 'octocat');
    assert.equal(issue.state, 'open');
    assert.equal(issue.isPullRequest, false);
    assert.match(issue.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  void it('lists every comment across pages', async () => {
    const comments = Array.from({ length: 150 }, (_, i) => ({ body: `comment ${i + 1}`, user: 'someone' }));
    const sim = await start([{ title: 'busy', comments }]);
    const listed = await clientFor(sim.url).listComments(REPO, 1, signal());
    assert.equal(listed.length, 150);
    assert.equal(listed[149]?.body, 'comment 150');
    assert.equal(listed[0]?.author, 'someone');
    assert.deepEqual(
      sim.requests.map((r) => [r.query.page, r.query.per_page]),
      [
        ['1', '100'],
        ['2', '100'],
      ],
    );
  });

  void it('creates and edits a comment', async () => {
    const sim = await start();
    const client = clientFor(sim.url, { throttle: { minIntervalMs: 0, writeMinIntervalMs: 0 } });
    const created = await client.createComment(REPO, 1, 'hello <!-- autosolve -->', signal());
    assert.equal(created.body, 'hello <!-- autosolve -->');
    const edited = await client.updateComment(REPO, created.githubId, 'edited <!-- autosolve -->', signal());
    assert.equal(edited.githubId, created.githubId);
    assert.deepEqual(
      sim.comments('acme', 'api', 1).map((c) => c.body),
      ['edited <!-- autosolve -->'],
    );
    assert.deepEqual(
      sim.requests.map((r) => `${r.method} ${r.path}`),
      ['POST /repos/acme/api/issues/1/comments', `PATCH /repos/acme/api/issues/comments/${created.githubId}`],
    );
  });
});

/** A port on 127.0.0.1 nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

interface FailureCase {
  name: string;
  kind: 'node' | 'service' | 'permanent';
  waitMs?: number;
  message?: RegExp;
  provoke: (sim: Simulator) => Promise<Error>;
}

const NOW = Date.UTC(2026, 0, 5, 12, 0, 0);
const fault = (sim: Simulator, injected: SimFault): void => sim.injectFault(injected);

const failureCases: FailureCase[] = [
  {
    name: 'bad credentials (401)',
    kind: 'permanent',
    message: /^GitHub rejected the token \(401 Bad credentials\): check github\.token/,
    provoke: (sim) => failureOf(clientFor(sim.url, { token: `${TOKEN}_wrong` }).getRepository(REPO, signal())),
  },
  {
    name: 'unknown repository (404)',
    kind: 'permanent',
    message: /the token cannot see acme\/missing, or it does not exist/,
    provoke: (sim) => failureOf(clientFor(sim.url).getRepository({ owner: 'acme', name: 'missing' }, signal())),
  },
  {
    name: 'unknown issue (404)',
    kind: 'permanent',
    message: /the token cannot see acme\/api, or issue #99 does not exist/,
    provoke: (sim) => failureOf(clientFor(sim.url).getIssue(REPO, 99, signal())),
  },
  {
    name: 'no access (403 without rate-limit signs)',
    kind: 'permanent',
    message: /403: Resource not accessible by personal access token\): the token cannot access acme\/api/,
    provoke: (sim) => {
      fault(sim, { kind: 'status', status: 403, body: { message: 'Resource not accessible by personal access token' } });
      return failureOf(clientFor(sim.url).createComment(REPO, 1, 'hi', signal()));
    },
  },
  {
    name: 'validation failed (422)',
    kind: 'permanent',
    message: /HTTP 422: Validation Failed/,
    provoke: (sim) => {
      fault(sim, { kind: 'status', status: 422, body: { message: 'Validation Failed', errors: [{ code: 'missing_field' }] } });
      return failureOf(clientFor(sim.url).createComment(REPO, 1, '', signal()));
    },
  },
  {
    name: 'server error (500)',
    kind: 'service',
    provoke: (sim) => {
      fault(sim, { kind: 'server-error' });
      return failureOf(clientFor(sim.url).getRepository(REPO, signal()));
    },
  },
  {
    name: 'unavailable with retry-after (503)',
    kind: 'service',
    waitMs: 7_000,
    provoke: (sim) => {
      fault(sim, { kind: 'status', status: 503, headers: { 'retry-after': '7' } });
      return failureOf(clientFor(sim.url).getRepository(REPO, signal()));
    },
  },
  {
    name: 'primary rate limit spent (403, remaining 0)',
    kind: 'service',
    waitMs: 90_000,
    message: /rate limit for the token is spent until 2026-01-05T12:01:30\.000Z/,
    provoke: (sim) => {
      sim.setRateLimit(TOKEN, { remaining: 0, resetAt: NOW / 1000 + 90 });
      return failureOf(clientFor(sim.url, { throttle: { minIntervalMs: 0, now: () => NOW } }).getRepository(REPO, signal()));
    },
  },
  {
    name: 'secondary rate limit with retry-after (403)',
    kind: 'service',
    waitMs: 45_000,
    provoke: (sim) => {
      fault(sim, { kind: 'secondary-rate-limit', retryAfterSeconds: 45 });
      return failureOf(clientFor(sim.url).listIssues(REPO, { since: null, page: 1, etag: null }, signal()));
    },
  },
  {
    name: 'secondary rate limit without retry-after (403)',
    kind: 'service',
    waitMs: 60_000,
    message: /secondary rate limit/,
    provoke: (sim) => {
      fault(sim, { kind: 'secondary-rate-limit' });
      return failureOf(clientFor(sim.url).getRepository(REPO, signal()));
    },
  },
  {
    name: 'dropped connection',
    kind: 'node',
    message: /could not reach GitHub/,
    provoke: (sim) => {
      fault(sim, { kind: 'drop' });
      return failureOf(clientFor(sim.url).getRepository(REPO, signal()));
    },
  },
  {
    name: 'malformed body',
    kind: 'node',
    message: /malformed or truncated/,
    provoke: (sim) => {
      fault(sim, { kind: 'malformed' });
      return failureOf(clientFor(sim.url).listIssues(REPO, { since: null, page: 1, etag: null }, signal()));
    },
  },
  {
    name: 'timeout',
    kind: 'node',
    message: /no answer from GitHub within 100 ms/,
    provoke: (sim) => {
      fault(sim, { kind: 'delay', ms: 5_000 });
      return failureOf(clientFor(sim.url, { timeoutMs: 100 }).getRepository(REPO, signal()));
    },
  },
  {
    name: 'connection refused',
    kind: 'node',
    message: /ECONNREFUSED/,
    provoke: async () => failureOf(clientFor(`http://127.0.0.1:${await closedPort()}`).getRepository(REPO, signal())),
  },
];

void describe('GitHubClient: failures', () => {
  for (const failure of failureCases) {
    void it(`classifies ${failure.name} as ${failure.kind}`, async () => {
      const sim = await start(undefined, () => NOW);
      const error = await failure.provoke(sim);

      assert.equal(failureKindOf(error), failure.kind, describeError(error));
      assert.equal(waitHintOf(error), failure.waitMs);
      if (failure.message) assert.match(error.message, failure.message);
      assert.notEqual(error.name, 'AbortError');
    });
  }

  void it('never lets the token into any error, whatever failed', async () => {
    for (const failure of failureCases) {
      const sim = await start(undefined, () => NOW);
      const error = await failure.provoke(sim);
      await sim.close();
      const forms = {
        inspect: inspect(error, { depth: 10, showHidden: true }),
        message: error.message,
        json: JSON.stringify(error),
        string: String(error),
        described: describeError(error),
        stack: error.stack ?? '',
      };
      for (const [form, text] of Object.entries(forms)) {
        assert.ok(!text.includes(TOKEN), `${failure.name}: the token leaked through ${form}`);
        assert.ok(!text.includes(TOKEN.slice(4)), `${failure.name}: part of the token leaked through ${form}`);
      }
    }
  });

  void it('surfaces the caller abort of a request in flight as an AbortError, at once', async () => {
    const sim = await start();
    const delayMs = 10_000;
    sim.injectFault({ kind: 'delay', ms: delayMs });
    const controller = new AbortController();
    const abortOnSend: typeof fetch = (input, init) => {
      setImmediate(() => controller.abort());
      return fetch(input, init);
    };
    const client = clientFor(sim.url, { fetch: abortOnSend, timeoutMs: 30_000 });

    const startedAt = Date.now();
    const error = await failureOf(client.getRepository(REPO, controller.signal));

    assert.equal(error.name, 'AbortError');
    assert.equal(failureKindOf(error), 'unknown', 'an abort is not a node failure');
    assertCutShort(Date.now() - startedAt, delayMs, 'the abort ends the request the server is delaying');
  });

  void it('does not send anything when the caller has already aborted', async () => {
    const sim = await start();
    const error = await failureOf(clientFor(sim.url).getRepository(REPO, AbortSignal.abort()));
    assert.equal(error.name, 'AbortError');
    assert.equal(sim.requests.length, 0);
  });
});
