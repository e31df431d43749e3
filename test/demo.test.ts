/**
 * `autosolve demo` run as a child process, the way a newcomer runs it: its exit
 * code, what it prints, and what it left in its database, checked against the
 * seed the simulator was started with.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { COMMENT_MARKER } from '../src/domain/entities.js';
import { demoScenario } from '../src/simulator/index.js';
import { type CliResult, runCli, startCli, tempDir } from './support/cli.js';
import { inspectDatabase } from './support/daemon.js';

const LABEL = 'autosolve';

/** What the seed asks for, per `owner/name#number`: the outcome its queue job must end with, if it gets one. */
function expectedOutcomes(): { outcomes: Map<string, 'answered' | 'already-answered'>; issues: number; unlabelled: number; labelledPullRequests: number } {
  const outcomes = new Map<string, 'answered' | 'already-answered'>();
  let issues = 0;
  let unlabelled = 0;
  let labelledPullRequests = 0;
  for (const repo of demoScenario().repositories) {
    (repo.issues ?? []).forEach((issue, index) => {
      issues += 1;
      const labelled = (issue.labels ?? []).includes(LABEL);
      if (!labelled) unlabelled += 1;
      if (labelled && issue.pullRequest === true) labelledPullRequests += 1;
      if (!labelled || issue.pullRequest === true || issue.state === 'closed') return;
      const answeredBefore = (issue.comments ?? []).some((c) => c.body.includes(COMMENT_MARKER));
      // The simulator numbers a repository's issues 1, 2, ... in seed order.
      outcomes.set(`${repo.owner}/${repo.name}#${index + 1}`, answeredBefore ? 'already-answered' : 'answered');
    });
  }
  return { outcomes, issues, unlabelled, labelledPullRequests };
}

interface JobRow {
  key: string;
  state: string;
  outcome: string | null;
  comment_url: string | null;
}

function jobsIn(database: string): JobRow[] {
  return inspectDatabase(database, (db) =>
    db
      .prepare(
        `SELECT r.owner || '/' || r.name || '#' || i.number AS key, j.state, j.outcome, j.comment_url
           FROM jobs j JOIN repositories r ON r.id = j.repository_id JOIN issues i ON i.github_id = j.issue_github_id`,
      )
      .all() as JobRow[],
  );
}

/** Resolves once the child's stdout contains `text`; rejects at the deadline or when the child exits first. */
function waitForOutput(child: ChildProcess, output: () => { stdout: string }, text: string, deadlineMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!output().stdout.includes(text)) return;
      done();
      resolve();
    };
    const onExit = () => {
      done();
      reject(new Error(`the demo exited before printing "${text}":\n${output().stdout}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no "${text}" within ${deadlineMs} ms:\n${output().stdout}`));
    }, deadlineMs);
    const done = () => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

void describe('autosolve demo', () => {
  const expected = expectedOutcomes();
  const folder = tempDir('autosolve-demo-test-');
  let result: CliResult;

  before(async () => {
    result = await runCli(['demo', '--dir', folder.path], { cwd: folder.path });
  });
  after(() => folder.cleanup());

  void it('seeds what the checks below rely on', () => {
    const outcomes = [...expected.outcomes.values()];
    assert.ok(outcomes.filter((o) => o === 'answered').length >= 5, 'several issues to answer');
    assert.equal(outcomes.filter((o) => o === 'already-answered').length, 1, 'one issue answered before');
    assert.ok(expected.unlabelled >= 3, 'unlabelled issues');
    assert.ok(expected.labelledPullRequests >= 1, 'a labelled pull request');
  });

  // How long the demo takes is this machine's speed, not its behaviour: no wall-clock bound here.
  void it('exits 0 and prints the summary, example comments and where the database is', () => {
    assert.equal(result.code, 0, `stderr:\n${result.stderr}\nstdout:\n${result.stdout}`);
    const answered = [...expected.outcomes.values()].filter((o) => o === 'answered').length;
    const skipped = expected.outcomes.size - answered;
    const total = new RegExp(`^\\s+total\\s+${expected.issues}\\s+${expected.outcomes.size}\\s+${answered}\\s+${skipped}\\s+${answered}$`, 'm');
    assert.match(result.stdout, total);
    assert.match(result.stdout, /repositories validated 3\/3/);
    const counted = [...result.stdout.matchAll(/repositories validated (\d+)\/(\d+)/g)].map((m) => `${m[1]}/${m[2]}`);
    assert.deepEqual([...new Set(counted)].filter((c) => !['0/3', '1/3', '2/3', '3/3'].includes(c)), [], 'validated repositories, not setup jobs, are counted');
    assert.match(result.stdout, new RegExp(`jobs done ${expected.outcomes.size}/${expected.outcomes.size}`));
    assert.equal(result.stdout.match(/^Example comment \d of 2: /gm)?.length, 2);
    assert.equal(result.stdout.match(/^ {2}│ <!-- autosolve -->$/gm)?.length, 2, 'the comments as posted, marker included');
    assert.match(result.stdout, /^Skipped demo\/webapp#4 /m);
    const config = join(folder.path, 'config.yml');
    assert.ok(result.stdout.includes(`autosolve status --config ${config}`));
    assert.ok(result.stdout.includes(`autosolve jobs list --config ${config}`));
    assert.ok(result.stdout.includes(join(folder.path, 'autosolve.db')));
  });

  void it('keeps the daemon logs out of the terminal, in demo.log', () => {
    assert.doesNotMatch(result.stdout, /"level":/);
    assert.equal(result.stderr, '');
    const log = readFileSync(join(folder.path, 'demo.log'), 'utf8');
    assert.match(log, /"msg":"answered demo\/api#1: /);
    assert.doesNotMatch(log, /sim-token/, 'the token never reaches a log line');
  });

  void it('answered exactly the open, labelled, non-PR issues, and skipped the one answered before', () => {
    const jobs = jobsIn(join(folder.path, 'autosolve.db'));
    const actual = new Map(jobs.map((job) => [job.key, job.outcome]));
    assert.deepEqual(actual, expected.outcomes);
    for (const job of jobs) {
      assert.equal(job.state, 'done', job.key);
      if (job.outcome === 'answered') assert.match(job.comment_url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/demo\/[a-z]+\/issues\/\d+#issuecomment-\d+$/, job.key);
      else assert.equal(job.comment_url, null, `${job.key} got no comment`);
    }
  });

  void it('leaves a folder that `status --json` can read', async () => {
    const status = await runCli(['status', '--config', join(folder.path, 'config.yml'), '--json'], { cwd: folder.path });
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout) as { repositories: Array<{ repository: string; validated: boolean; issues: { stored: number }; jobs: { done: number } }> };
    assert.deepEqual(
      parsed.repositories.map((r) => r.repository),
      demoScenario().repositories.map((r) => `${r.owner}/${r.name}`),
    );
    assert.ok(parsed.repositories.every((r) => r.validated));
    assert.equal(parsed.repositories.reduce((n, r) => n + r.issues.stored, 0), expected.issues);
    assert.equal(parsed.repositories.reduce((n, r) => n + r.jobs.done, 0), expected.outcomes.size);
  });

  void it('runs again in the same --dir from a clean slate', async () => {
    const again = await runCli(['demo', '--dir', folder.path], { cwd: folder.path });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(new Map(jobsIn(join(folder.path, 'autosolve.db')).map((j) => [j.key, j.outcome])), expected.outcomes);
  });
});

void describe('autosolve demo, refusals', () => {
  const folder = tempDir('autosolve-demo-refusal-');
  after(() => folder.cleanup());

  void it('does not clear a --dir whose config.yml it did not write (exit 2)', async () => {
    const config = join(folder.path, 'config.yml');
    writeFileSync(config, 'github:\n  token: mine\n');
    const result = await runCli(['demo', '--dir', folder.path], { cwd: folder.path });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /not written by autosolve demo; choose another --dir/);
    assert.equal(readFileSync(config, 'utf8'), 'github:\n  token: mine\n');
    assert.ok(!existsSync(join(folder.path, 'autosolve.db')));
  });

  void it('rejects --model without --ollama or --openai (exit 2)', async () => {
    const result = await runCli(['demo', '--model', 'llama3.1', '--dir', join(folder.path, 'unused')], { cwd: folder.path });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--model needs --ollama URL or --openai URL/);
  });
});

void describe('autosolve demo --keep-running', () => {
  const folder = tempDir('autosolve-demo-keep-');
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  after(() => folder.cleanup());

  void it('serves the dashboard after the summary, then stops cleanly with exit 0 on SIGTERM', async () => {
    const started = startCli(['demo', '--dir', folder.path, '--keep-running'], { cwd: folder.path });
    child = started.child;
    await waitForOutput(started.child, started.output, 'Press Ctrl-C to stop.', 30_000);
    const dashboard = /^ {2}dashboard: +(http:\/\/127\.0\.0\.1:\d+)\/$/m.exec(started.output().stdout)?.[1];
    assert.ok(dashboard, started.output().stdout);
    const page = await fetch(`${dashboard}/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    for (const repo of ['demo/webapp', 'demo/api', 'demo/docs']) assert.ok(html.includes(repo), repo);
    assert.match(html, /issuecomment-\d+/, 'the latest comments, with links');
    const metrics = await (await fetch(`${dashboard}/metrics`)).text();
    const apiAnswers = [...expectedOutcomes().outcomes].filter(([key, outcome]) => key.startsWith('demo/api#') && outcome === 'answered').length;
    assert.match(metrics, new RegExp(`^autosolve_comments_posted_total\\{repository="demo/api"\\} ${apiAnswers}$`, 'm'));

    started.child.kill('SIGTERM');
    const result = await started.finished;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /stopped cleanly\n$/);
  });
});
