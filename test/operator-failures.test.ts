/**
 * Failures an operator sees: a failure that is the daemon's (a rejected token,
 * a missing permission, a model the backend does not have) pauses the
 * dispatcher and spends nothing, and shows in status, jobs show, /readyz, the
 * dashboard and /metrics until it clears; a job the backend fails alone dies
 * after a bounded number of releases; `run --once` says so with its exit code.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { failureKindOf, pauseReasonOf } from '../src/domain/failure.js';
import { GitHubClient } from '../src/infra/github/index.js';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, startCli, tempDir } from './support/cli.js';
import { daemonConfig, inspectDatabase, jobsOf, simulator, statusJson, TOKEN, waitFor } from './support/daemon.js';
import { modelServer, ollamaAnswer } from './support/model-server.js';

const LABELLED = ['autosolve'];
const ANSWERING = { issues: { requiredLabel: 'autosolve' } };
const COMMENTS = /^\/repos\/acme\/api\/issues\/\d+\/comments$/;
const API_KEY = 'sk-operator-test-5e5e5e-never-print-me';
const EXIT_JOBS_DEAD = 3;

function everything(database: string): string {
  return inspectDatabase(database, (db) =>
    ['jobs', 'state', 'sync_cursors'].map((table) => JSON.stringify(db.prepare(`SELECT * FROM ${table}`).all())).join('\n'),
  );
}


describe('failures an operator sees', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  let model: Server | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    if (model) {
      model.closeAllConnections();
      await new Promise((resolve) => model!.close(resolve));
    }
    model = undefined;
    dir.cleanup();
  });

  it('a GitHub token rejected while answering pauses the dispatcher and spends no attempt, instead of dead-lettering the queue; it shows in status and jobs show until it clears', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [1, 2, 3].map((n) => ({ title: `Bug ${n}`, labels: LABELLED })) }]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'demo', maxAttempts: 1 } });
    sim.injectFault({ kind: 'status', status: 401, body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }, match: { path: COMMENTS }, times: 1000 });

    const paused = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(paused.code, 1, 'a --once pass that paused failed for good');
    assert.match(paused.stdout, /dispatcher paused \(credential\): .*GitHub rejected the token \(401 Bad credentials\): check github\.token/);
    const jobs = jobsOf(config.database);
    assert.deepEqual(jobs.map((j) => [j.number, j.state, j.attempts]), [[1, 'pending', 0], [2, 'pending', 0], [3, 'pending', 0]], 'nothing dead, no attempt spent');
    assert.equal(sim.requests.filter((r) => COMMENTS.test(r.path)).length, 1, 'it stopped claiming after the first refusal');

    const status = await runCli(['status', '--config', config.file], { cwd: dir.path });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^dispatcher {2}PAUSED \(credential\) since \d+s ago; jobs wait, no attempt spent$/m);
    assert.match(status.stdout.replace(/\n {12}/g, ' '), /GitHub rejected the token \(401 Bad credentials\): check github\.token/);
    for (const line of status.stdout.split('\n')) assert.ok([...line].length <= 80 || line.startsWith('database'), `too wide: ${line}`);
    const json = await statusJson(config.file, dir.path);
    assert.equal(json.dispatcher.paused, true);
    assert.equal(json.dispatcher.reason, 'credential');
    assert.match(json.dispatcher.message ?? '', /check github\.token/);
    assert.ok(Date.parse(json.dispatcher.since ?? '') <= Date.now());

    const shown = await runCli(['jobs', 'show', String(jobs[0]?.id), '--config', config.file], { cwd: dir.path });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /attempts +0\/1/);
    assert.match(shown.stdout, /dispatcher {2}PAUSED \(credential\)/);
    const shownJson = JSON.parse((await runCli(['jobs', 'show', String(jobs[0]?.id), '--json', '--config', config.file], { cwd: dir.path })).stdout) as { dispatcherPause: { reason: string } | null };
    assert.equal(shownJson.dispatcherPause?.reason, 'credential');
    for (const text of [paused.stdout, paused.stderr, status.stdout, shown.stdout, everything(config.database)]) assert.ok(!text.includes(TOKEN), 'the token never shows');

    // The token works again: the next run answers everything and the pause is gone.
    sim.clearFaults();
    const resumed = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /dispatcher resumed/);
    assert.deepEqual(jobsOf(config.database).map((j) => j.outcome), ['answered', 'answered', 'answered']);
    assert.equal((await statusJson(config.file, dir.path)).dispatcher.paused, false);
    const after = await runCli(['status', '--config', config.file], { cwd: dir.path });
    assert.doesNotMatch(after.stdout, /PAUSED/);
  });

  it('a token without permission to comment pauses a running daemon: /readyz is 503 with the reason, the metric and the dashboard say paused, nothing is dead, until the permission is granted', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [1, 2].map((n) => ({ title: `Bug ${n}`, labels: LABELLED })) }]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'demo', maxAttempts: 1 }, http: { listen: '127.0.0.1:0' } });
    sim.injectFault({
      kind: 'status',
      status: 403,
      body: { message: 'Resource not accessible by personal access token', documentation_url: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment', status: '403' },
      headers: { 'x-accepted-github-permissions': 'issues=write' },
      match: { method: 'POST', path: COMMENTS },
      times: 1000,
    });
    const daemon = startCli(['run', '--config', config.file], { cwd: dir.path, env: { AUTOSOLVE_TEST_RETRY_SCALE: '0.05' } });
    try {
      const url = await waitFor('the HTTP endpoint', () => Promise.resolve(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output().stdout)?.[1]));
      const readyz = await waitFor('/readyz to say paused', async () => {
        const response = await fetch(`${url}/readyz`);
        const text = await response.text();
        return response.status === 503 && /paused/.test(text) ? text : undefined;
      });
      assert.match(readyz, /^not ready: the dispatcher is paused \(permission\) since .*: .*the token cannot access acme\/api or lacks the permission \(GitHub asks for issues=write\)/);
      assert.equal((await fetch(`${url}/healthz`)).status, 200, 'alive while paused');

      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /^autosolve_dispatcher_paused\{reason="permission"\} 1$/m);
      assert.match(metrics, /^autosolve_dispatcher_paused\{reason="credential"\} 0$/m);
      const snapshot = (await (await fetch(`${url}/api/status`)).json()) as { dispatcherPause: { reason: string; message: string } | null };
      assert.equal(snapshot.dispatcherPause?.reason, 'permission');
      const page = await (await fetch(`${url}/`)).text();
      assert.match(page, /<span id="ready" class="badge bad">paused<\/span>/);
      assert.match(page, /<h2>Dispatcher paused \(permission\)<\/h2><p class="error">[^<]*lacks the permission/);

      assert.equal((await statusJson(config.file, dir.path)).dispatcher.reason, 'permission');
      // The paused dispatcher retries (on shortened waits here) and puts each job back: between two tries both wait, no attempt spent.
      const waiting = (jobs: ReturnType<typeof jobsOf>) => jobs.every((j) => j.state === 'pending' && j.attempts === 0);
      assert.ok(jobsOf(config.database).every((j) => j.state !== 'dead' && j.attempts <= 1), 'nothing dead, at most the try in flight');
      await waitFor('both jobs waiting with no attempt spent', () => Promise.resolve(waiting(jobsOf(config.database)) ? true : undefined));

      // The permission is granted: the daemon finds out on its own, after the scheduler's backoff.
      sim.clearFaults();
      await waitFor('/readyz to be ready again', async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined), 90_000);
      assert.match(await (await fetch(`${url}/metrics`)).text(), /^autosolve_dispatcher_paused\{reason="permission"\} 0$/m);
      await waitFor('both answers', () => Promise.resolve(jobsOf(config.database).every((j) => j.outcome === 'answered') ? true : undefined));
      assert.equal((await statusJson(config.file, dir.path)).dispatcher.paused, false);
      const healed = await (await fetch(`${url}/`)).text();
      assert.doesNotMatch(healed, /<section class="card alert" id="pause"/);
      assert.match(healed, /<span id="ready" class="badge ok">ready<\/span>/);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.finished;
    }
  });

  it('a 403 that is a rate limit or about one locked issue does not pause', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug' }] }]);
    const failure = async (fault: Parameters<Simulator['injectFault']>[0]) => {
      // A client of its own each time: the rate-limited answer makes a shared throttle hold the next request for a minute.
      const client = new GitHubClient({ baseUrl: sim!.url, token: TOKEN, timeoutMs: 5_000, userAgent: 'autosolve-test', throttle: { minIntervalMs: 0 } });
      sim!.injectFault(fault);
      return client.createComment({ owner: 'acme', name: 'api' }, 1, 'hi', new AbortController().signal).then(
        () => assert.fail('the post should fail'),
        (error: unknown) => error,
      );
    };
    const secondary = await failure({ kind: 'secondary-rate-limit', retryAfterSeconds: 1 });
    assert.deepEqual([failureKindOf(secondary), pauseReasonOf(secondary)], ['service', undefined]);
    const primary = await failure({ kind: 'status', status: 403, body: { message: 'API rate limit exceeded for user ID 1.' }, headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 60) } });
    assert.deepEqual([failureKindOf(primary), pauseReasonOf(primary)], ['service', undefined]);
    const locked = await failure({ kind: 'status', status: 403, body: { message: 'Unable to create comment because issue is locked.' } });
    assert.deepEqual([failureKindOf(locked), pauseReasonOf(locked)], ['permanent', undefined]);
    const integration = await failure({ kind: 'status', status: 403, body: { message: 'Resource not accessible by integration' } });
    assert.equal(pauseReasonOf(integration), 'permission');
    const scopes = await failure({ kind: 'status', status: 403, body: { message: 'Forbidden' }, headers: { 'x-oauth-scopes': 'read:org', 'x-accepted-oauth-scopes': 'repo, public_repo' } });
    assert.equal(pauseReasonOf(scopes), 'permission');
    const sso = await failure({ kind: 'status', status: 403, body: { message: 'Resource protected by organization SAML enforcement.' }, headers: { 'x-github-sso': 'required; url=https://github.com/orgs/acme/sso' } });
    assert.equal(pauseReasonOf(sso), 'permission');
  });

  it('an Ollama model that is not there pauses instead of killing jobs, and the next run answers once it is pulled', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [1, 2].map((n) => ({ title: `Bug ${n}`, labels: LABELLED })) }]);
    let pulled = false;
    const ollama = await modelServer(() => (pulled ? ollamaAnswer('Look at the parser.') : { status: 404, body: { error: 'model "llama9" not found, try pulling it first' } }));
    model = ollama.server;
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'ollama', maxAttempts: 1 }, ollama: { endpoint: ollama.url, model: 'llama9' } });

    const paused = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(paused.code, 1, paused.stdout + paused.stderr);
    assert.equal(ollama.prompts.length, 1, 'one refusal, then it stopped claiming');
    assert.deepEqual(jobsOf(config.database).map((j) => [j.state, j.attempts]), [['pending', 0], ['pending', 0]]);
    const json = await statusJson(config.file, dir.path);
    assert.equal(json.dispatcher.reason, 'configuration');
    assert.match(json.dispatcher.message ?? '', /model "llama9" not found.*check ollama\.model \(`ollama pull llama9` on that server\)/);

    pulled = true;
    const resumed = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.deepEqual(jobsOf(config.database).map((j) => j.outcome), ['answered', 'answered']);
    assert.equal((await statusJson(config.file, dir.path)).dispatcher.paused, false);
  });

  it('with two workers, a pause stands when another worker answers an issue after it: the pass stopped for it', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [1, 2, 3].map((n) => ({ title: `Bug ${n}`, labels: LABELLED })) }]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'demo', concurrency: 2 } });
    // Issue 1's repository refuses the token; issue 2's answer is posted after that refusal.
    sim.injectFault({ kind: 'status', status: 403, body: { message: 'Resource not accessible by personal access token' }, match: { path: '/repos/acme/api/issues/1/comments' }, times: 1000 });
    sim.injectFault({ kind: 'delay', ms: 1_000, match: { method: 'POST', path: '/repos/acme/api/issues/2/comments' } });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.deepEqual(jobsOf(config.database).map((j) => [j.number, j.state, j.outcome]), [[1, 'pending', null], [2, 'done', 'answered'], [3, 'pending', null]]);
    assert.equal((await statusJson(config.file, dir.path)).dispatcher.reason, 'permission');
  });

  it('a pause clears when a pass ends with nothing left waiting for it, though no answer was posted', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug 1', labels: LABELLED }] }]);
    const ollama = await modelServer(() => ({ status: 404, body: { error: 'model "llama9" not found, try pulling it first' } }));
    model = ollama.server;
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'ollama' }, ollama: { endpoint: ollama.url, model: 'llama9' } });
    assert.equal((await runCli(['run', '--once', '--config', config.file], { cwd: dir.path })).code, 1);
    assert.equal((await statusJson(config.file, dir.path)).dispatcher.paused, true);

    // The only waiting issue is closed meanwhile: the next pass settles it without the model.
    sim.updateIssue('acme', 'api', 1, { state: 'closed' });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(jobsOf(config.database).map((j) => j.outcome), ['not-eligible']);
    assert.equal((await statusJson(config.file, dir.path)).dispatcher.paused, false);
    assert.match(result.stdout, /dispatcher resumed/);
  });

  for (const [what, status, body, reason, advice] of [
    ['an OpenAI key that is refused (401)', 401, { error: { message: `Incorrect API key provided: ${API_KEY}.`, type: 'invalid_request_error', code: 'invalid_api_key' } }, 'credential', /check ai\.openai\.apiKey/],
    ['an OpenAI project without access to the model (403)', 403, { error: { message: 'You have insufficient permissions for this operation.', type: 'invalid_request_error', code: null } }, 'credential', /check ai\.openai\.apiKey/],
    ['an OpenAI model that does not exist (404)', 404, { error: { message: 'The model `gpt-nope` does not exist or you do not have access to it.', type: 'invalid_request_error', code: 'model_not_found' } }, 'configuration', /check ai\.openai\.model/],
  ] as const) {
    it(`${what} pauses the dispatcher, spends no attempt and never shows the key`, async () => {
      sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug 1', labels: LABELLED }] }]);
      const openai = await modelServer(() => ({ status, body }));
      model = openai.server;
      const config = daemonConfig(dir.path, sim, ['acme/api'], {
        github: ANSWERING,
        ai: { provider: 'openai', maxAttempts: 1, openai: { baseUrl: `${openai.url}/v1`, model: 'gpt-nope', apiKey: API_KEY } },
      });
      const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.deepEqual(jobsOf(config.database).map((j) => [j.state, j.attempts]), [['pending', 0]]);
      const json = await statusJson(config.file, dir.path);
      assert.equal(json.dispatcher.reason, reason);
      assert.match(json.dispatcher.message ?? '', advice);
      for (const text of [result.stdout, result.stderr, JSON.stringify(json), everything(config.database)]) assert.ok(!text.includes(API_KEY), 'the key never shows');
    });
  }

  it('an issue the backend fails alone while it answers others is dead after 10 releases, and run --once exits 3', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [1, 2, 3].map((n) => ({ title: `Bug ${n}`, labels: LABELLED })) }]);
    const ollama = await modelServer((prompt) => (prompt.includes('Bug 2') ? { status: 500, body: { error: 'runner crashed on this input' } } : ollamaAnswer('Look at the parser.')));
    model = ollama.server;
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'ollama', maxAttempts: 5 }, ollama: { endpoint: ollama.url, model: 'llama3.1' } });

    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, EXIT_JOBS_DEAD, result.stdout + result.stderr);
    assert.match(result.stdout, /1 queue jobs went dead in this pass/);
    const jobs = jobsOf(config.database);
    assert.deepEqual(jobs.map((j) => [j.number, j.state, j.outcome]), [[1, 'done', 'answered'], [2, 'dead', null], [3, 'done', 'answered']]);
    assert.equal(jobs[1]?.releases, 10);
    assert.equal(jobs[1]?.attempts, 0, 'releases spend no attempt');
    assert.match(jobs[1]?.last_error ?? '', /the backend failed on this issue while it answered others.*HTTP 500: runner crashed on this input/);
    assert.equal(ollama.prompts.filter((p) => p.includes('Bug 2')).length, 10);
    assert.equal(sim.comments('acme', 'api', 2).length, 0);

    const shown = await runCli(['jobs', 'show', String(jobs[1]?.id), '--config', config.file], { cwd: dir.path });
    assert.match(shown.stdout, /state +dead/);
    assert.match(shown.stdout, /releases +10\/10/);
    const retried = await runCli(['jobs', 'retry', String(jobs[1]?.id), '--config', config.file], { cwd: dir.path });
    assert.equal(retried.code, 0, retried.stderr);
    assert.deepEqual(jobsOf(config.database).map((j) => [j.state, j.releases]).at(1), ['pending', 0], 'a retried job gets its releases back too');
  });

  it('a backend failing every issue kills none: releases are not counted while no other issue gets through', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [1, 2, 3].map((n) => ({ title: `Bug ${n}`, labels: LABELLED })) }]);
    // One answer, then 500 for everyone: the backend broke, not one issue.
    const ollama = await modelServer((_prompt) => (ollama.prompts.length === 1 ? ollamaAnswer('Look at the parser.') : { status: 500, body: { error: 'out of memory' } }));
    model = ollama.server;
    const config = daemonConfig(dir.path, sim, ['acme/api'], {
      github: ANSWERING,
      ai: { provider: 'ollama', maxAttempts: 1 },
      ollama: { endpoint: ollama.url, model: 'llama3.1' },
      scheduler: { setupBudget: '12s' },
    });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 1, 'the pass failed: the backend is down');
    assert.ok(ollama.prompts.length >= 3, `the dispatcher retried (${ollama.prompts.length} requests)`);
    const jobs = jobsOf(config.database);
    assert.deepEqual(jobs.map((j) => j.state), ['done', 'pending', 'pending']);
    assert.ok(jobs.every((j) => j.attempts === 0 || j.state === 'done'));
    assert.ok(jobs.reduce((sum, j) => sum + j.releases, 0) <= 1, `at most the first failure after an answer counts: ${JSON.stringify(jobs)}`);
  });
});
