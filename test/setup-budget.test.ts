/**
 * Setup fails in a bounded, visible way: `scheduler.setupBudget` bounds the
 * whole setup (time held by the GitHub throttle included) and names every
 * repository not done; an unreachable GitHub fails in seconds with progress
 * lines, the address and the cause; every retry line says why, in words an
 * operator knows.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ClassifiedError } from '../src/domain/failure.js';
import type { Log } from '../src/domain/ports.js';
import type { WorkJob } from '../src/schedule/planner.js';
import { Scheduler } from '../src/schedule/scheduler.js';
import type { Simulator } from '../src/simulator/index.js';
import type { ChildProcess } from 'node:child_process';
import { type CliResult, startCli, tempDir } from './support/cli.js';
import { backlog, daemonConfig, simulator, TOKEN } from './support/daemon.js';

const NO_ANSWERS = { issues: { requiredLabel: 'label-nobody-uses' } };

/** The messages of the JSON log lines a CLI run printed. */
function messages(stdout: string): Array<{ level: string; msg: string; job?: string }> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: string; msg: string; job?: string });
}

/**
 * Far below the hour of rate-limit hold and the ten-minute budget these runs
 * would take without the bound under test, far above the seconds they need.
 */
const GIVE_UP_MS = 90_000;
let child: ChildProcess | undefined;

/** Runs the CLI; a run still going after GIVE_UP_MS is killed and fails the test. */
async function runBounded(args: string[], cwd: string): Promise<CliResult> {
  const run = startCli(args, { cwd });
  child = run.child;
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'gave up'>((resolve) => (timer = setTimeout(() => resolve('gave up'), GIVE_UP_MS)));
  const result = await Promise.race([run.finished, gaveUp]);
  clearTimeout(timer);
  if (result === 'gave up') assert.fail(`still running after ${GIVE_UP_MS / 1000}s:\n${run.output().stdout}`);
  return result;
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('setup within its budget', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
    await sim?.close();
    sim = undefined;
    dir.cleanup();
  });

  it('ends when scheduler.setupBudget runs out while the throttle holds requests, naming every unfinished repository', async () => {
    sim = await simulator([
      { owner: 'acme', name: 'api', issues: backlog(1) },
      { owner: 'acme', name: 'web', issues: backlog(1) },
      { owner: 'acme', name: 'docs', issues: backlog(1) },
    ]);
    // The first preflight spends the last unit; GitHub's reset is an hour away.
    sim.setRateLimit(TOKEN, { remaining: 1, resetAt: Math.floor(Date.now() / 1000) + 3600 });
    const config = daemonConfig(dir.path, sim, ['acme/api', 'acme/web', 'acme/docs'], {
      github: { ...NO_ANSWERS, rateLimit: { minInterval: '0s', maxConcurrent: 1 } },
      scheduler: { setupBudget: '3s' },
    });

    const result = await runBounded(['run', '--once', '--config', config.file], dir.path);

    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /setup failed for 2 of 3 repositories \(scheduler\.setupBudget of 3s ran out\); no worker was started/);
    assert.match(result.stderr, /acme\/web: not done when scheduler\.setupBudget \(3s\) ran out; its first attempt was still waiting/);
    assert.match(result.stderr, /acme\/docs: not done when scheduler\.setupBudget \(3s\) ran out/);
    assert.doesNotMatch(result.stderr, /acme\/api:/);
    assert.deepEqual(
      sim.requests.map((r) => `${r.path} ${r.status}`),
      ['/repos/acme/api 200'],
      'the held preflights were never sent into the spent window',
    );
  });

  it('fails in seconds when github.baseUrl is unreachable, with progress lines, the address and the cause', async () => {
    const port = await closedPort();
    const config = daemonConfig(dir.path, { url: `http://127.0.0.1:${port}` } as Simulator, ['acme/api'], {
      github: NO_ANSWERS,
      scheduler: { setupBudget: '10m' },
    });

    const result = await runBounded(['run', '--once', '--config', config.file], dir.path);

    assert.equal(result.code, 1, result.stdout + result.stderr);
    const address = `127.0.0.1:${port}`;
    const progress = messages(result.stdout).filter((line) => line.job === 'setup:repository-validator:acme/api');
    assert.deepEqual(
      progress.map((line) => `${line.level} ${line.msg.replace(/: .*/, '')}`),
      [
        'warn attempt 1 of 3 failed (network); retrying in 2s',
        'warn attempt 2 of 3 failed (network); retrying in 4s',
        'error attempt 3 of 3 failed (network); not retrying in setup',
      ],
    );
    for (const line of progress) assert.match(line.msg, new RegExp(`cannot validate acme/api: .*ECONNREFUSED ${address}`));
    assert.match(result.stderr, new RegExp(`acme/api: .*could not reach GitHub \\(ECONNREFUSED.*${address}`));
    assert.match(result.stderr, new RegExp(`GitHub did not answer at http://${address}: check github.baseUrl and the network`));
    assert.match(result.stderr, /setup failed for 1 of 1 repositories; no worker was started/, 'one repository configured: counted as one, not as its preflights');
  });
});

describe('retry log lines', () => {
  function recordingLog(): Log & { lines: Array<{ level: string; message: string; fields: object }> } {
    const lines: Array<{ level: string; message: string; fields: object }> = [];
    const record = (level: string) => (fields: object, message: string) => void lines.push({ level, message, fields });
    const log = { lines, debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error'), child: () => log };
    return log;
  }

  it('give the cause of every retry, in words an operator knows, and keep the classification in the fields', async () => {
    const log = recordingLog();
    const fast = { node: { initialMs: 5, maxMs: 5 }, service: { initialMs: 5, maxMs: 5 }, unknown: { initialMs: 5, maxMs: 5 } };
    const scheduler = new Scheduler({ log, retryBudgetMs: 5_000, baseline: fast });
    const failures = [
      new ClassifiedError('node', 'ollama llama3.1: cannot reach http://127.0.0.1:11434', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:11434'), { code: 'ECONNREFUSED' }),
      }),
      new ClassifiedError('service', 'GitHub failed (HTTP 502)'),
      new ClassifiedError('service', "GitHub's secondary rate limit, wait 1 s", { waitMs: 7 }),
    ];
    let passes = 0;
    const job: WorkJob = {
      name: 'work:dispatcher',
      resource: 'dispatcher',
      scope: 'global',
      interval: 1,
      run: async () => {
        const failure = failures[passes++];
        if (failure) throw failure;
      },
    };

    const summary = await scheduler.work([job], new AbortController().signal, { once: true });

    assert.deepEqual(summary.failed, []);
    assert.deepEqual(
      log.lines.map((line) => `${line.level} ${line.message}`),
      [
        'warn failed (network); retrying in 5ms: ollama llama3.1: cannot reach http://127.0.0.1:11434: connect ECONNREFUSED 127.0.0.1:11434',
        'warn failed (server busy); retrying in 5ms: GitHub failed (HTTP 502)',
        "warn failed (server busy); retrying in 7ms as the server asked: GitHub's secondary rate limit, wait 1 s",
      ],
    );
    assert.deepEqual(
      log.lines.map((line) => (line.fields as { classification?: string }).classification),
      ['node', 'service', 'service'],
    );
  });
});
