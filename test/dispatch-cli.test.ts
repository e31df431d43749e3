import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { COMMENT_MARKER } from '../src/domain/entities.js';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, startCli, tempDir, writeFile } from './support/cli.js';
import { daemonConfig, inspectDatabase, simulator } from './support/daemon.js';

const LABELLED = ['autosolve'];
const ANSWERING = { issues: { requiredLabel: 'AutoSolve' } }; // case-insensitive match

/** A command executor that records each call and answers with the issue number. */
function recordingCommand(dir: string, options: { exitCode?: number; hang?: boolean } = {}) {
  const calls = join(dir, 'calls.jsonl');
  const script = writeFile(
    dir,
    `executor-${options.exitCode ?? 0}-${options.hang ? 'hang' : 'ok'}.cjs`,
    `const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify({ number: input.number, title: input.title, envTitle: process.env.AUTOSOLVE_ISSUE_TITLE, agentKey: process.env.AGENT_API_KEY ?? null, otherSecret: process.env.OTHER_SECRET ?? null }) + '\\n');
${options.hang ? 'setInterval(() => {}, 1000);' : ''}
${options.exitCode ? `process.stderr.write('model crashed: out of memory\\n'); process.exit(${options.exitCode});` : `process.stdout.write('Likely cause for #' + input.number + ': @maintainer should look at the parser.');`}
`,
  );
  return {
    run: [process.execPath, script],
    calls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { number: number; title: string; envTitle: string; agentKey: string | null; otherSecret: string | null }) : []),
  };
}

function jobsOf(database: string) {
  return inspectDatabase(database, (db) =>
    db.prepare(`SELECT j.id, j.state, j.attempts, j.outcome, j.last_error, i.number, r.name AS repo FROM jobs j JOIN issues i ON i.github_id = j.issue_github_id JOIN repositories r ON r.id = j.repository_id ORDER BY r.owner, r.name, i.number, j.id`).all() as Array<{
      id: number; state: string; attempts: number; outcome: string | null; last_error: string | null; number: number; repo: string;
    }>,
  );
}

describe('autosolve run (dispatch and reporting)', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  let model: Server | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    await new Promise<void>((resolve) => (model ? model.close(() => resolve()) : resolve()));
    model = undefined;
    dir.cleanup();
  });

  it('posts exactly one comment on each labelled open issue, none elsewhere, and nothing on a second run', async () => {
    sim = await simulator([
      {
        owner: 'acme',
        name: 'api',
        issues: [
          { title: 'Crash on $(touch /tmp/autosolve-pwned) `id`; rm -rf / "quoted" \'single\'', labels: LABELLED },
          { title: 'Unlabelled question' },
          { title: 'Labelled pull request', labels: LABELLED, pullRequest: true },
          { title: 'Closed but labelled', labels: LABELLED, state: 'closed' },
        ],
      },
      { owner: 'acme', name: 'web', issues: [{ title: 'Web bug', labels: ['bug', 'AUTOSOLVE'] }, { title: 'Other', labels: ['bug'] }] },
    ]);
    const command = recordingCommand(dir.path);
    const config = daemonConfig(dir.path, sim, ['acme/api', 'acme/web'], { github: ANSWERING, ai: { provider: 'command', command: { run: command.run, passEnv: ['AGENT_API_KEY'] } } });
    const secrets = { AGENT_API_KEY: 'agent-key-1', OTHER_SECRET: 'other-secret-2' };
    const first = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path, env: secrets });
    assert.equal(first.code, 0, first.stdout + first.stderr);

    const commented = (owner: string, name: string) => sim!.issues(owner, name).filter((i) => sim!.comments(owner, name, i.number).length > 0).map((i) => i.number);
    assert.deepEqual(commented('acme', 'api'), [1]);
    assert.deepEqual(commented('acme', 'web'), [1]);
    const [comment] = sim.comments('acme', 'api', 1);
    assert.ok(comment?.body.startsWith(COMMENT_MARKER));
    assert.match(comment?.body ?? '', /Likely cause for #1/);
    assert.doesNotMatch(comment?.body ?? '', /@maintainer/, 'mentions neutralised');
    assert.match(comment?.body ?? '', /autosolve/);

    // The title reached the command intact, and nothing was executed from it.
    // The two repositories are polled concurrently: which issue ran first is not promised.
    const apiTitle = sim.issues('acme', 'api')[0]?.title;
    const call = command.calls().find((c) => c.title === apiTitle);
    assert.ok(call, `acme/api#1 reached the command with its title intact: ${JSON.stringify(command.calls())}`);
    assert.equal(call?.envTitle, call?.title);
    // Secret-looking variables are withheld unless listed in ai.command.passEnv.
    assert.equal(call?.agentKey, 'agent-key-1');
    assert.equal(call?.otherSecret, null);
    assert.equal(existsSync('/tmp/autosolve-pwned'), false);

    // Our own comments bumped updated_at; the second run must not answer again.
    const second = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.equal(command.calls().length, 2, 'no executor call on the second run');
    assert.equal(sim.comments('acme', 'api', 1).length, 1);
    assert.equal(sim.comments('acme', 'web', 1).length, 1);
  });

  it('does not answer an issue already answered by another account, even when the marker is on a later comment page', async () => {
    sim = await simulator([
      {
        owner: 'acme',
        name: 'api',
        issues: [
          { title: 'Answered by the Go autosolve', labels: LABELLED, comments: [{ body: `${COMMENT_MARKER}\nOld answer`, user: 'autosolve-go[bot]' }] },
          {
            title: 'Long thread',
            labels: LABELLED,
            comments: [...Array.from({ length: 130 }, (_, i) => ({ body: `me too ${i}`, user: `user${i}` })), { body: `${COMMENT_MARKER} answered with a previous token`, user: 'old-bot' }],
          },
          { title: 'Fresh', labels: LABELLED },
        ],
      },
    ]);
    const command = recordingCommand(dir.path);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'command', command: { run: command.run } } });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(command.calls().map((c) => c.number), [3]);
    assert.equal(sim.comments('acme', 'api', 1).length, 1);
    assert.equal(sim.comments('acme', 'api', 2).length, 131);
    assert.deepEqual(
      jobsOf(config.database).map((j) => [j.number, j.outcome]),
      [[1, 'already-answered'], [2, 'already-answered'], [3, 'answered']],
    );
  });

  it('posts nothing in dry run', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: LABELLED }] }]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'demo', dryRun: true } });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(sim.comments('acme', 'api', 1).length, 0);
    assert.equal(sim.requests.filter((r) => r.method === 'POST').length, 0);
    assert.match(result.stdout, /dry run: would post this comment on acme\/api#1/);
  });

  it('posts no second comment after being killed between posting and completing the job', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: LABELLED }] }]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'demo', timeout: '500ms', visibilityTimeout: '1s' } });
    const daemon = startCli(['run', '--config', config.file], { cwd: dir.path });
    sim.onRequest((request) => {
      if (request.method === 'POST') daemon.child.kill('SIGKILL');
    });
    const killed = await daemon.finished;
    assert.equal(killed.signal, 'SIGKILL');
    assert.equal(sim.comments('acme', 'api', 1).length, 1);
    const [orphan] = jobsOf(config.database);
    assert.equal(orphan?.state, 'running', 'killed after posting, before completing');

    // Wait for the claim to expire (the visibility timeout is what is under test), then run again.
    const lockedUntil = inspectDatabase(config.database, (db) => (db.prepare('SELECT locked_until FROM jobs').get() as { locked_until: string }).locked_until);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(lockedUntil) - Date.now() + 50)));
    const again = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(sim.comments('acme', 'api', 1).length, 1, 'no second comment');
    assert.equal(jobsOf(config.database)[0]?.outcome, 'already-answered');
  });

  it('spends no attempt while the model server is down or failing, backs off, and answers everything once it is back', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'One', labels: LABELLED }, { title: 'Two', labels: LABELLED }] }]);
    // A port nobody listens on yet.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const config = daemonConfig(dir.path, sim, ['acme/api'], {
      github: ANSWERING,
      ai: { provider: 'ollama', maxAttempts: 1 },
      ollama: { endpoint: `http://127.0.0.1:${port}`, model: 'test-model' },
      scheduler: { setupBudget: '1m' },
    });
    // The baseline a hundred times shorter (test-only; README, Development).
    const daemon = startCli(['run', '--once', '--config', config.file], { cwd: dir.path, env: { AUTOSOLVE_TEST_RETRY_SCALE: '0.01' } });
    // First the backend is unreachable (node: retry in 2s, here 20ms); then it answers 500 once (service: 5s, here 50ms); then it works.
    await waitFor(() => new RegExp(`failed \\(network\\); retrying in 20ms: .*ECONNREFUSED 127\\.0\\.0\\.1:${port}`).test(daemon.output().stdout));
    let calls = 0;
    model = createServer((req, res) => {
      calls++;
      req.resume();
      if (calls === 1) {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"model is loading"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ model: 'test-model', message: { role: 'assistant', content: 'It is the parser.' }, done: true }));
    });
    await new Promise<void>((resolve) => model!.listen(port, '127.0.0.1', resolve));
    const result = await daemon.finished;
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /failed \(server busy\); retrying in 50ms: /);
    const jobs = jobsOf(config.database);
    assert.deepEqual(jobs.map((j) => [j.outcome, j.attempts]), [['answered', 1], ['answered', 1]], 'maxAttempts is 1, yet nothing died');
    assert.equal(sim.comments('acme', 'api', 1).length, 1);
    assert.equal(sim.comments('acme', 'api', 2).length, 1);
  });

  it('retries a failing command with backoff until it is dead, lists it, and brings it back with jobs retry', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: LABELLED }] }]);
    const failing = recordingCommand(dir.path, { exitCode: 1 });
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'command', command: { run: failing.run }, maxAttempts: 3, retryDelay: '0s' } });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 3, `a job went dead: exit 3 (${result.stdout + result.stderr})`);
    assert.equal(failing.calls().length, 3);
    const [dead] = jobsOf(config.database);
    assert.equal(dead?.state, 'dead');
    assert.equal(dead?.attempts, 3);
    assert.match(dead?.last_error ?? '', /model crashed: out of memory/);
    assert.equal(sim.comments('acme', 'api', 1).length, 0);

    const listed = await runCli(['jobs', 'list', '--state', 'dead', '--json', '--config', config.file], { cwd: dir.path });
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as Array<{ id: number }>).map((j) => j.id), [dead?.id]);
    const retried = await runCli(['jobs', 'retry', String(dead?.id), '--config', config.file], { cwd: dir.path });
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(jobsOf(config.database)[0]?.state, 'pending');
  });

  it('kills a command that hangs past the timeout and counts it as a failed attempt', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: LABELLED }] }]);
    const hanging = recordingCommand(dir.path, { hang: true });
    const config = daemonConfig(dir.path, sim, ['acme/api'], {
      github: ANSWERING,
      ai: { provider: 'command', command: { run: hanging.run }, timeout: '500ms', maxAttempts: 2, retryDelay: '0s' },
    });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 3, `a job went dead: exit 3 (${result.stdout + result.stderr})`);
    assert.equal(hanging.calls().length, 2);
    const [job] = jobsOf(config.database);
    assert.equal(job?.state, 'dead');
    assert.match(job?.last_error ?? '', /500ms|timed out|did not finish|within/i);
  });

  it('exits at once on a second signal and leaves no executor process behind', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: LABELLED }] }]);
    const pidFile = join(dir.path, 'agent.pid');
    // An agent that ignores SIGTERM: only SIGKILL ends it.
    const agent = writeFile(dir.path, 'stubborn.cjs', `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
process.on('SIGTERM', () => {});
setInterval(() => {}, 1000);`);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'command', command: { run: [process.execPath, agent] }, timeout: '5m' } });
    const daemon = startCli(['run', '--config', config.file], { cwd: dir.path });
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').length > 0);
    const agentPid = Number(readFileSync(pidFile, 'utf8'));
    daemon.child.kill('SIGTERM');
    await waitFor(() => /SIGTERM: stopping/.test(daemon.output().stdout));
    daemon.child.kill('SIGTERM');
    const result = await daemon.finished;
    assert.equal(result.code, 130, result.stdout + result.stderr);
    assert.match(result.stdout, /second SIGTERM: exiting now/);
    await waitFor(() => !alive(agentPid), 5_000);
    assert.equal(sim.comments('acme', 'api', 1).length, 0);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
