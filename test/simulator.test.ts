/** The GitHub API simulator, driven by Octokit itself so it is held to what a real client sees. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { Octokit } from '@octokit/core';
import { paginateRest } from '@octokit/plugin-paginate-rest';
import { RequestError } from '@octokit/request-error';
import { COMMENT_MARKER } from '../src/domain/entities.js';
import { demoScenario, loadScenario, startSimulator } from '../src/simulator/index.js';
import type { Simulator, SimulatorOptions } from '../src/simulator/index.js';

const PagingOctokit = Octokit.plugin(paginateRest);
const T0 = Date.parse('2026-03-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const running: Simulator[] = [];
const children: ChildProcess[] = [];
const tempDirs: string[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await Promise.all(running.splice(0).map((sim) => sim.close()));
});

async function start(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator(options);
  running.push(sim);
  return sim;
}

function client(sim: Simulator, token = 'sim-token', baseUrl = sim.url) {
  return new PagingOctokit({ auth: token, baseUrl });
}

async function requestError(promise: Promise<unknown>): Promise<RequestError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RequestError, `expected a RequestError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the request to fail');
}

/** A clock tests move by hand, and a simulator with one repository acme/api seeded with `count` issues. */
async function seeded(count: number, options: SimulatorOptions = {}) {
  const clock = { now: T0 };
  const sim = await start({ now: () => clock.now, ...options });
  sim.addRepository({ owner: 'acme', name: 'api' });
  for (let i = 0; i < count; i++) {
    const stamp = iso(T0 - (count - i) * 60_000);
    sim.addIssue('acme', 'api', { title: `Issue ${i + 1}`, createdAt: stamp, updatedAt: stamp });
  }
  return { sim, clock, octokit: client(sim) };
}

const ISSUES = 'GET /repos/{owner}/{repo}/issues' as const;
const repo = { owner: 'acme', repo: 'api' };

void describe('listing issues', () => {
  void it('paginates 250 issues through the Link header in 3 requests of 100', async () => {
    const { sim, octokit } = await seeded(250);
    const issues = await octokit.paginate(ISSUES, { ...repo, per_page: 100, state: 'all' });
    assert.equal(issues.length, 250);
    assert.equal(new Set(issues.map((issue) => issue.number)).size, 250);
    assert.deepEqual(
      sim.requests.map((request) => request.query['page'] ?? '1'),
      ['1', '2', '3'],
    );
    assert.ok(sim.requests.every((request) => request.query['state'] === 'all' && request.query['per_page'] === '100'));
  });

  void it('answers a conditional request with the current ETag by 304, free of charge', async () => {
    const { sim, octokit } = await seeded(3);
    const first = await octokit.request(ISSUES, repo);
    const etag = first.headers.etag;
    assert.match(etag ?? '', /^W\/"[0-9a-f]+"$/);
    const before = sim.rateLimitOf('sim-token').remaining;
    const notModified = await requestError(octokit.request(ISSUES, { ...repo, headers: { 'if-none-match': etag } }));
    assert.equal(notModified.status, 304);
    assert.equal(sim.rateLimitOf('sim-token').remaining, before);
    assert.equal(sim.requests.at(-1)?.rateLimitCost, 0);
    assert.equal(sim.requests.at(-1)?.ifNoneMatch, etag);

    sim.updateIssue('acme', 'api', 1, { title: 'Changed' });
    const changed = await octokit.request(ISSUES, { ...repo, headers: { 'if-none-match': etag } });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.etag, etag);
    assert.equal(sim.rateLimitOf('sim-token').remaining, before - 1);
  });

  void it('treats since as inclusive (updated_at >= since)', async () => {
    const { sim, octokit } = await seeded(0);
    sim.addIssue('acme', 'api', { title: 'before', updatedAt: '2026-02-01T09:59:59Z', createdAt: '2026-01-01T00:00:00Z' });
    sim.addIssue('acme', 'api', { title: 'at', updatedAt: '2026-02-01T10:00:00Z', createdAt: '2026-01-01T00:00:00Z' });
    sim.addIssue('acme', 'api', { title: 'after', updatedAt: '2026-02-01T10:00:01Z', createdAt: '2026-01-01T00:00:00Z' });
    const { data } = await octokit.request(ISSUES, { ...repo, since: '2026-02-01T10:00:00Z', sort: 'updated', direction: 'asc' });
    assert.deepEqual(data.map((issue) => issue.title), ['at', 'after']);
  });

  void it('computes pages live, so an update between page requests shifts later pages', async () => {
    const { sim, clock, octokit } = await seeded(5);
    const query = { ...repo, sort: 'updated', direction: 'asc', per_page: 2 } as const;
    const page1 = await octokit.request(ISSUES, { ...query, page: 1 });
    assert.deepEqual(page1.data.map((issue) => issue.number), [1, 2]);
    clock.now += 1000;
    sim.updateIssue('acme', 'api', 1, { labels: ['autosolve'] });
    const page2 = await octokit.request(ISSUES, { ...query, page: 2 });
    const page3 = await octokit.request(ISSUES, { ...query, page: 3 });
    // Issue 3 slid onto page 1 after it was read: a naive page=2 reader never sees it.
    assert.deepEqual(page2.data.map((issue) => issue.number), [4, 5]);
    assert.deepEqual(page3.data.map((issue) => issue.number), [1]);
  });

  void it('filters by state and labels, sorts newest first by default, and marks pull requests', async () => {
    const { sim, octokit } = await seeded(0);
    sim.addIssue('acme', 'api', { title: 'old bug', labels: ['bug', 'autosolve'], createdAt: '2026-01-01T00:00:00Z' });
    sim.addIssue('acme', 'api', { title: 'closed', labels: ['autosolve'], state: 'closed', createdAt: '2026-01-02T00:00:00Z' });
    sim.addIssue('acme', 'api', { title: 'pr', labels: ['Autosolve'], pullRequest: true, createdAt: '2026-01-03T00:00:00Z' });
    sim.addIssue('acme', 'api', { title: 'unlabelled', createdAt: '2026-01-04T00:00:00Z' });
    const open = await octokit.request(ISSUES, repo);
    assert.deepEqual(open.data.map((issue) => issue.title), ['unlabelled', 'pr', 'old bug']);
    const labelled = await octokit.request(ISSUES, { ...repo, state: 'all', labels: 'autosolve' });
    assert.deepEqual(labelled.data.map((issue) => issue.title), ['pr', 'closed', 'old bug']);
    assert.ok(labelled.data[0]?.pull_request?.url);
    assert.equal(labelled.data[1]?.pull_request, undefined);
    const both = await octokit.request(ISSUES, { ...repo, labels: 'bug,autosolve' });
    assert.deepEqual(both.data.map((issue) => issue.title), ['old bug']);
    const invalid = await requestError(octokit.request(ISSUES, { ...repo, state: 'bogus' as 'all' }));
    assert.equal(invalid.status, 422);
  });

  void it('accepts the /api/v3 prefix and keeps it in Link URLs', async () => {
    const { sim } = await seeded(3);
    const octokit = client(sim, 'sim-token', `${sim.url}/api/v3`);
    const { data, headers } = await octokit.request(ISSUES, { ...repo, per_page: 2 });
    assert.equal(data.length, 2);
    assert.match(headers.link ?? '', new RegExp(`<${sim.url}/api/v3/repos/acme/api/issues\\?per_page=2&page=2>; rel="next"`));
    assert.equal(sim.requests[0]?.path, '/repos/acme/api/issues');
  });
});

void describe('issues and comments', () => {
  void it('creating a comment bumps the issue updated_at and comments count', async () => {
    const { sim, clock, octokit } = await seeded(1);
    clock.now += 90_000;
    const created = await octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      ...repo,
      issue_number: 1,
      body: `${COMMENT_MARKER}\nFixed.`,
    });
    assert.equal(created.status, 201);
    assert.equal(created.data.created_at, iso(clock.now));
    const { data: issue } = await octokit.request('GET /repos/{owner}/{repo}/issues/{issue_number}', { ...repo, issue_number: 1 });
    assert.equal(issue.updated_at, created.data.created_at);
    assert.equal(issue.comments, 1);
    const { data: comments } = await octokit.request('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      ...repo,
      issue_number: 1,
    });
    assert.deepEqual(comments.map((comment) => comment.id), [created.data.id]);

    clock.now += 5000;
    const edited = await octokit.request('PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}', {
      ...repo,
      comment_id: created.data.id,
      body: 'edited',
    });
    assert.equal(edited.data.body, 'edited');
    assert.equal(sim.comments('acme', 'api', 1)[0]?.body, 'edited');
    const empty = await requestError(
      octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', { ...repo, issue_number: 1, body: '' }),
    );
    assert.equal(empty.status, 422);
  });

  void it('moves a transferred issue: same id, new number, and its old URL redirects', async () => {
    const { sim, octokit } = await seeded(2);
    sim.addRepository({ owner: 'acme', name: 'web' });
    const before = sim.issues('acme', 'api')[1];
    const moved = sim.transferIssue('acme', 'api', 2, 'acme', 'web');
    assert.equal(moved.id, before?.id);
    assert.deepEqual(sim.issues('acme', 'api').map((issue) => issue.number), [1]);
    const { data } = await octokit.request('GET /repos/{owner}/{repo}/issues/{issue_number}', { ...repo, issue_number: 2 });
    assert.equal(data.id, moved.id);
    assert.match(data.repository_url, /\/repos\/acme\/web$/);
    assert.deepEqual(sim.requests.map((request) => request.status), [301, 200]);
  });

  void it('pages through comments oldest first, and lists the labels in use', async () => {
    const { sim, octokit } = await seeded(0);
    const comments = Array.from({ length: 35 }, (_, i) => ({ body: `c${i}`, createdAt: iso(T0 - (35 - i) * 1000) }));
    sim.addIssue('acme', 'api', { title: 'busy', labels: ['bug', 'autosolve'], comments, createdAt: iso(T0 - 3_600_000) });
    const listed = await octokit.paginate('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', { ...repo, issue_number: 1 });
    assert.deepEqual(listed.map((comment) => comment.body), comments.map((comment) => comment.body));
    assert.equal(sim.requests.length, 2); // default per_page 30
    const { data: labels } = await octokit.request('GET /repos/{owner}/{repo}/labels', repo);
    assert.deepEqual(labels.map((label) => label.name), ['autosolve', 'bug']);
  });

  void it('serves the repository and 404s an unknown one', async () => {
    const { octokit } = await seeded(0);
    const { data } = await octokit.request('GET /repos/{owner}/{repo}', repo);
    assert.equal(data.full_name, 'acme/api');
    assert.equal(data.owner.login, 'acme');
    const missing = await requestError(octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'nope' }));
    assert.equal(missing.status, 404);
    assert.equal((missing.response?.data as { message?: string }).message, 'Not Found');
  });
});

void describe('authentication and rate limits', () => {
  void it('rejects a bad or missing token with 401 Bad credentials', async () => {
    const { sim } = await seeded(0);
    for (const octokit of [client(sim, 'wrong-token'), new Octokit({ baseUrl: sim.url })]) {
      const error = await requestError(octokit.request('GET /repos/{owner}/{repo}', repo));
      assert.equal(error.status, 401);
      assert.equal((error.response?.data as { message?: string }).message, 'Bad credentials');
      assert.ok(!error.message.includes('wrong-token'));
    }
    const bearer = await fetch(`${sim.url}/repos/acme/api`, { headers: { authorization: 'Bearer sim-token' } });
    assert.equal(bearer.status, 200);
  });

  void it('sends rate-limit headers on every response and refuses with 403 once the budget is spent', async () => {
    const { sim, clock, octokit } = await seeded(1, { rateLimit: 3, rateLimitWindowMs: 60_000 });
    const first = await octokit.request('GET /repos/{owner}/{repo}', repo);
    assert.equal(first.headers['x-ratelimit-limit'], '3');
    assert.equal(first.headers['x-ratelimit-remaining'], '2');
    assert.equal(first.headers['x-ratelimit-used'], '1');
    assert.equal(first.headers['x-ratelimit-resource'], 'core');
    assert.equal(first.headers['x-ratelimit-reset'], String(Math.ceil((T0 + 60_000) / 1000)));
    assert.ok(first.headers['x-github-request-id']);
    const notFound = await requestError(octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'nope' }));
    assert.equal(notFound.response?.headers['x-ratelimit-remaining'], '1');
    await octokit.request('GET /rate_limit'); // free
    await octokit.request(ISSUES, repo);

    const limited = await requestError(octokit.request(ISSUES, repo));
    assert.equal(limited.status, 403);
    assert.match(limited.message, /^API rate limit exceeded/);
    assert.equal(limited.response?.headers['x-ratelimit-remaining'], '0');
    assert.equal(sim.requests.at(-1)?.rateLimitCost, 0);
    assert.equal(sim.rateLimitOf('other').remaining, 3, 'budgets are per token');

    clock.now += 60_000;
    const refilled = await octokit.request(ISSUES, repo);
    assert.equal(refilled.headers['x-ratelimit-remaining'], '2');
  });

  void it('lets a test set a token budget directly', async () => {
    const { sim, octokit } = await seeded(0);
    sim.setRateLimit('sim-token', { remaining: 0, resetAt: Math.ceil(T0 / 1000) + 30 });
    const limited = await requestError(octokit.request('GET /repos/{owner}/{repo}', repo));
    assert.equal(limited.status, 403);
    assert.equal(limited.response?.headers['x-ratelimit-reset'], String(Math.ceil(T0 / 1000) + 30));
    const { data } = await octokit.request('GET /rate_limit');
    assert.equal(data.resources.core.remaining, 0);
  });
});

void describe('faults', () => {
  void it('answers any status, with body and headers, only for matching requests and only `times` times', async () => {
    const { sim, octokit } = await seeded(1);
    sim.injectFault({ kind: 'status', status: 418, body: { message: 'teapot' }, headers: { 'x-fault': 'yes' }, times: 2, match: { path: /\/issues$/ } });
    await octokit.request('GET /repos/{owner}/{repo}', repo); // does not match
    for (let i = 0; i < 2; i++) {
      const error = await requestError(octokit.request(ISSUES, repo));
      assert.equal(error.status, 418);
      assert.equal(error.response?.headers['x-fault'], 'yes');
      assert.match(error.message, /teapot/);
    }
    assert.equal((await octokit.request(ISSUES, repo)).status, 200);
  });

  void it('injects a secondary rate limit with retry-after, as 403 or 429', async () => {
    const { sim, octokit } = await seeded(0);
    sim.injectFault({ kind: 'secondary-rate-limit', retryAfterSeconds: 60 });
    sim.injectFault({ kind: 'secondary-rate-limit', status: 429 });
    const first = await requestError(octokit.request('GET /repos/{owner}/{repo}', repo));
    assert.equal(first.status, 403);
    assert.match(first.message, /secondary rate limit/);
    assert.equal(first.response?.headers['retry-after'], '60');
    assert.notEqual(first.response?.headers['x-ratelimit-remaining'], '0');
    const second = await requestError(octokit.request('GET /repos/{owner}/{repo}', repo));
    assert.equal(second.status, 429);
    assert.equal(second.response?.headers['retry-after'], undefined);
  });

  void it('injects server errors, malformed bodies, dropped connections and delays', async () => {
    const { sim, octokit } = await seeded(1);
    sim.injectFault({ kind: 'server-error', status: 502, match: { method: 'get' } });
    assert.equal((await requestError(octokit.request(ISSUES, repo))).status, 502);

    sim.injectFault({ kind: 'malformed' });
    const malformed = await octokit.request(ISSUES, repo);
    assert.equal(typeof malformed.data, 'string'); // Octokit hands back text it could not parse
    assert.throws(() => JSON.parse(malformed.data as unknown as string), SyntaxError);

    sim.injectFault({ kind: 'drop' });
    const dropped = await requestError(octokit.request(ISSUES, repo));
    assert.equal(dropped.status, 500); // Octokit's status for a transport failure
    assert.ok(dropped.cause);
    assert.equal(sim.requests.at(-1)?.status, 0);

    sim.injectFault({ kind: 'delay', ms: 150 });
    const started = performance.now();
    assert.equal((await octokit.request(ISSUES, repo)).status, 200);
    assert.ok(performance.now() - started >= 140, 'the delayed request took at least the delay');

    sim.injectFault({ kind: 'server-error' });
    sim.clearFaults();
    assert.equal((await octokit.request(ISSUES, repo)).status, 200);
  });

  void it('reports each request to listeners after the response, and stops after unsubscribe', async () => {
    const { sim, octokit } = await seeded(0);
    const seen: number[] = [];
    const unsubscribe = sim.onRequest((request) => seen.push(request.status));
    await octokit.request('GET /repos/{owner}/{repo}', repo);
    unsubscribe();
    await octokit.request('GET /repos/{owner}/{repo}', repo);
    assert.deepEqual(seen, [200]);
    assert.equal(sim.requests.length, 2);
    assert.match(sim.requests[0]?.userAgent ?? '', /octokit/);
    assert.equal(sim.requests[0]?.token, 'sim-token');
    sim.clearRequests();
    assert.equal(sim.requests.length, 0);
  });

  void it('keeps only the latest requestLogLimit requests', async () => {
    const { sim, octokit } = await seeded(0, { requestLogLimit: 2 });
    for (const name of ['a', 'b', 'c']) await requestError(octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: name }));
    assert.deepEqual(sim.requests.map((request) => request.path), ['/repos/acme/b', '/repos/acme/c']);
  });
});

void describe('scenarios', () => {
  function tempFile(name: string, text: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'autosolve-sim-'));
    tempDirs.push(dir);
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  void it('loads the example scenario and seeds it', async () => {
    const scenario = loadScenario('examples/scenario.yml');
    const sim = await start({ scenario });
    assert.deepEqual(sim.tokens, ['sim-token', 'second-token']);
    assert.ok(sim.issues('acme', 'api').length >= 3);
    const { status } = await client(sim, 'second-token').request('GET /repos/{owner}/{repo}', repo);
    assert.equal(status, 200);
  });

  void it('rejects a bad file with an error naming the file and the field', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['typo.yml', 'repositories:\n  - owner: a\n    name: b\n    issues:\n      - title: x\n        lables: [bug]\n', /repositories\[0\]\.issues\[0\]\.lables: unknown field/],
      ['missing.json', '{"repositories":[{"owner":"a","name":"b","issues":[{"body":"no title"}]}]}', /repositories\[0\]\.issues\[0\]\.title: is required/],
      ['date.yml', 'repositories:\n  - owner: a\n    name: b\n    issues:\n      - title: x\n        createdAt: yesterday\n', /repositories\[0\]\.issues\[0\]\.createdAt: expected an ISO 8601/],
      ['state.yml', 'repositories:\n  - owner: a\n    name: b\n    issues:\n      - title: x\n        state: done\n', /issues\[0\]\.state/],
    ];
    for (const [name, text, expected] of cases) {
      const file = tempFile(name, text);
      assert.throws(() => loadScenario(file), (error: Error) => {
        assert.ok(error.message.startsWith(`${file}: `), error.message);
        assert.match(error.message, expected);
        return true;
      });
    }
    assert.throws(() => loadScenario('/nonexistent/scenario.yml'), /\/nonexistent\/scenario\.yml: cannot read/);
  });

  void it('ships a demo scenario with the cases autosolve meets', () => {
    const scenario = demoScenario();
    const issues = scenario.repositories.flatMap((repository) => repository.issues ?? []);
    assert.equal(scenario.repositories.length, 3);
    assert.ok(issues.length >= 18 && issues.length <= 24);
    assert.equal(issues.filter((issue) => issue.pullRequest).length, 1);
    assert.equal(issues.filter((issue) => issue.state === 'closed').length, 1);
    assert.ok(issues.some((issue) => (issue.body ?? '').length > 4000));
    assert.ok(issues.some((issue) => !issue.labels?.includes('autosolve')));
    const answered = issues.filter((issue) =>
      issue.comments?.some((comment) => comment.body.includes(COMMENT_MARKER) && comment.user === 'autosolve-go[bot]'),
    );
    assert.equal(answered.length, 1);
    assert.ok(answered[0]?.labels?.includes('autosolve'));
    const stamps = issues.map((issue) => issue.updatedAt);
    assert.equal(new Set(stamps).size, issues.length);
    assert.ok(stamps.every((stamp) => Date.parse(stamp ?? '') < Date.now()));
  });
});

void describe('autosolve simulator command', () => {
  function runCommand(args: string[]) {
    const script =
      "import('./src/cli/simulator.ts').then((m) => m.simulatorCommand().parseAsync(process.argv.slice(1), { from: 'user' }))";
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script, '--', ...args], {
      cwd: join(import.meta.dirname, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const output = () => ({ stdout, stderr });
    const waitForUrl = () =>
      new Promise<string>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`no URL within 30 s: ${stdout} ${stderr}`)), 30_000);
        const check = () => {
          const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
          if (!match?.[1]) return;
          clearTimeout(deadline);
          resolve(match[1]);
        };
        child.stdout.on('data', check);
        child.once('exit', () => {
          clearTimeout(deadline);
          reject(new Error(`exited before printing its URL: ${stderr}`));
        });
        check();
      });
    return { child, exited, output, waitForUrl };
  }

  void it('starts, prints its URL and tokens, serves the demo data, and exits 0 on SIGTERM', async () => {
    const run = runCommand(['--port', '0', '--token', 'cli-token', '--log-requests']);
    const url = await run.waitForUrl();
    assert.match(run.output().stdout, /tokens: cli-token/);
    const response = await fetch(`${url}/repos/demo/webapp/issues?labels=autosolve`, {
      headers: { authorization: 'token cli-token' },
    });
    assert.equal(response.status, 200);
    assert.ok(((await response.json()) as unknown[]).length > 0);
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0);
    assert.match(run.output().stdout, /GET \/repos\/demo\/webapp\/issues\?labels=autosolve 200/);
  });

  void it('exits 2 with a one-line error naming the file and field for a bad scenario', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autosolve-sim-'));
    tempDirs.push(dir);
    const file = join(dir, 'bad.yml');
    writeFileSync(file, 'repositories:\n  - owner: acme\n    nme: api\n');
    const run = runCommand(['--port', '0', '--scenario', file]);
    assert.equal(await run.exited, 2);
    const stderr = run.output().stderr.trim();
    assert.equal(stderr.split('\n').length, 1, stderr);
    assert.ok(stderr.includes(file) && stderr.includes('repositories[0]'), stderr);
  });
});
