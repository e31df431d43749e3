/**
 * Shutdown through the real CLI with SIGINT (Ctrl-C): the first signal drains,
 * the end of scheduler.shutdownGrace aborts what is still running and hands
 * its job back, a second signal exits at once. test/shutdown-grace.test.ts
 * covers the same two grace outcomes after SIGTERM.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { alive, killGroup } from './support/agents.js';
import { startCli, tempDir, writeFile, type CliResult } from './support/cli.js';
import { daemonConfig, inspectDatabase, simulator } from './support/daemon.js';
import { waitFor } from './support/dispatch.js';

const LABELLED = ['autosolve'];
const ANSWERING = { issues: { requiredLabel: 'autosolve' } };
/**
 * A bound on waits that a fault turns into forever (a grace timer that does
 * nothing, a second signal ignored, a process group left running): it is not
 * a speed assertion, only a way to fail with the daemon's output instead of
 * the runner's timeout. The durations the daemon is given are 1 s or 10 min.
 */
const BOUND_MS = 60_000;
/** Long enough that only the behaviour under test can end a model run. */
const FOREVER = '10m';

interface StubbornAgent {
  readonly run: string[];
  /** Issue numbers of the runs started, in order. */
  starts(): number[];
  /** Whether a run is waiting (its pid and its child's pid are written). */
  waiting(): boolean;
  pid(): number;
  childPid(): number;
  /** Lets the waiting run and later ones answer. */
  open(): void;
}

/**
 * A command that records each start, starts a child in its process group,
 * and waits for a gate file; both it and its child ignore SIGTERM, so only
 * SIGKILL of the whole group ends them before the gate opens.
 */
function stubbornAgent(dir: string): StubbornAgent {
  const gate = join(dir, 'gate-open');
  const starts = join(dir, 'starts.txt');
  const pidFile = join(dir, 'agent.pid');
  const childFile = join(dir, 'agent-child.pid');
  const script = writeFile(
    dir,
    'stubborn-agent.cjs',
    `const fs = require('fs');
const { spawn } = require('child_process');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.appendFileSync(${JSON.stringify(starts)}, input.number + '\\n');
const answer = () => { process.stdout.write('Answer for #' + input.number + '.'); process.exit(0); };
if (fs.existsSync(${JSON.stringify(gate)})) answer();
process.on('SIGTERM', () => {});
const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
fs.writeFileSync(${JSON.stringify(childFile)}, String(child.pid));
// Written last and renamed into place: once it exists, both pids can be read.
fs.writeFileSync(${JSON.stringify(pidFile + '.tmp')}, String(process.pid));
fs.renameSync(${JSON.stringify(pidFile + '.tmp')}, ${JSON.stringify(pidFile)});
setInterval(() => { if (fs.existsSync(${JSON.stringify(gate)})) { child.kill('SIGKILL'); answer(); } }, 20);
`,
  );
  const readPid = (file: string) => Number(readFileSync(file, 'utf8'));
  return {
    run: [process.execPath, script],
    starts: () => (existsSync(starts) ? readFileSync(starts, 'utf8').split('\n').filter(Boolean).map(Number) : []),
    waiting: () => existsSync(pidFile),
    pid: () => readPid(pidFile),
    childPid: () => readPid(childFile),
    open: () => {
      writeFile(dir, 'gate-open.tmp', '');
      renameSync(join(dir, 'gate-open.tmp'), gate);
    },
  };
}

/** Resolves with the daemon's result, or fails with its output once the bound passes. */
async function finishedWithin(daemon: ReturnType<typeof startCli>, what: string): Promise<CliResult> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const { stdout, stderr } = daemon.output();
      reject(new Error(`the daemon did not exit within ${BOUND_MS / 1000} s ${what}:\n${stdout}${stderr}`));
    }, BOUND_MS);
  });
  return Promise.race([daemon.finished, bound]).finally(() => clearTimeout(timer));
}

/** Waits for a log line; fails as soon as the daemon has exited without writing it. */
async function logShows(daemon: ReturnType<typeof startCli>, pattern: RegExp): Promise<void> {
  const exited = () => daemon.child.exitCode !== null || daemon.child.signalCode !== null;
  await waitFor(() => pattern.test(daemon.output().stdout) || exited(), BOUND_MS).catch(() => undefined);
  const { stdout, stderr } = daemon.output();
  const how = exited() ? `the daemon exited (${daemon.child.exitCode ?? daemon.child.signalCode}) first` : `not within ${BOUND_MS / 1000} s`;
  assert.match(stdout, pattern, `the log never showed ${String(pattern)}: ${how}:\n${stdout}${stderr}`);
}

describe('autosolve run: SIGINT (Ctrl-C) through the CLI', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  let daemon: ReturnType<typeof startCli> | undefined;
  const groups: number[] = [];
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    // A planted fault can leave the daemon or the agent running: never let them outlive the test.
    if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
      daemon.child.kill('SIGKILL');
      await daemon.finished;
    }
    daemon = undefined;
    groups.splice(0).forEach(killGroup);
    await sim?.close();
    sim = undefined;
    dir.cleanup();
  });

  const jobs = (database: string) =>
    inspectDatabase(database, (db) =>
      db
        .prepare('SELECT i.number, j.state, j.attempts, j.outcome, j.locked_by FROM jobs j JOIN issues i ON i.github_id = j.issue_github_id ORDER BY i.number')
        .all() as Array<{ number: number; state: string; attempts: number; outcome: string | null; locked_by: string | null }>,
    );

  /** The daemon answering acme/api with the agent, started and caught mid-run. */
  async function daemonMidRun(issues: number, grace: string): Promise<{ agent: StubbornAgent; database: string; running: number }> {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: Array.from({ length: issues }, (_, i) => ({ title: `Bug ${i + 1}`, labels: LABELLED })) }]);
    const agent = stubbornAgent(dir.path);
    const config = daemonConfig(dir.path, sim, ['acme/api'], {
      github: ANSWERING,
      ai: { provider: 'command', command: { run: agent.run }, timeout: FOREVER, concurrency: 1 },
      scheduler: { shutdownGrace: grace },
    });
    daemon = startCli(['run', '--config', config.file], { cwd: dir.path });
    const started = daemon;
    await waitFor(() => agent.waiting() || started.child.exitCode !== null, BOUND_MS);
    assert.ok(agent.waiting(), `the model run started:\n${started.output().stdout}${started.output().stderr}`);
    groups.push(agent.pid());
    // Every issue queued before the signal, so "no new work" is something the daemon could have done.
    await waitFor(() => jobs(config.database).length === issues, BOUND_MS);
    assert.ok(alive(agent.pid()) && alive(agent.childPid()), 'the command and its child are running');
    const [running] = agent.starts();
    assert.ok(running !== undefined);
    return { agent, database: config.database, running };
  }

  it('drains on SIGINT: the model run in flight finishes and is posted, no other job is started, exit 0', async () => {
    const { agent, database, running } = await daemonMidRun(2, FOREVER);
    const waiting = running === 1 ? 2 : 1;
    daemon!.child.kill('SIGINT');
    await logShows(daemon!, /SIGINT: stopping; taking no new work/);
    await logShows(daemon!, new RegExp(`waiting for 1 queue job in flight to finish: acme/api#${running}\\b`));
    agent.open();
    const result = await finishedWithin(daemon!, 'after the model run it waited for ended');
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /stopped cleanly/);
    assert.deepEqual(agent.starts(), [running], 'no model run started after SIGINT');
    assert.equal(sim!.comments('acme', 'api', running).length, 1);
    assert.equal(sim!.comments('acme', 'api', waiting).length, 0);
    assert.deepEqual(
      jobs(database).map(({ number, state, attempts, outcome, locked_by }) => [number, state, attempts, outcome, locked_by]),
      [1, 2].map((number) => (number === running ? [number, 'done', 1, 'answered', null] : [number, 'pending', 0, null, null])),
    );
  });

  it('when the grace runs out after SIGINT, kills the command\'s whole process group, hands the job back unspent, and exits 1', async () => {
    const { agent, database } = await daemonMidRun(1, '1s');
    const [pid, childPid] = [agent.pid(), agent.childPid()];
    daemon!.child.kill('SIGINT');
    await logShows(daemon!, /SIGINT: stopping/);
    await logShows(daemon!, /shutdown grace of 1s expired; aborting the work still in flight/);
    const result = await finishedWithin(daemon!, 'after the grace expired');
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /acme\/api#1: aborted by shutdown while running command node; job returned to the queue without spending an attempt/);
    assert.match(result.stdout, /stopped after the shutdown grace expired/);
    // Both ignore SIGTERM: only the group's SIGKILL ends them.
    await waitFor(() => !alive(pid) && !alive(childPid), BOUND_MS).catch(() => assert.fail(`still running: ${[pid, childPid].filter(alive).join(', ')}`));
    assert.equal(sim!.comments('acme', 'api', 1).length, 0);
    assert.deepEqual(jobs(database), [{ number: 1, state: 'pending', attempts: 0, outcome: null, locked_by: null }]);
  });

  it('exits at once with 130 on a second SIGINT, and leaves no process of the command behind', async () => {
    const { agent } = await daemonMidRun(1, FOREVER);
    const [pid, childPid] = [agent.pid(), agent.childPid()];
    daemon!.child.kill('SIGINT');
    await logShows(daemon!, /SIGINT: stopping/);
    daemon!.child.kill('SIGINT');
    // The grace and the model's timeout are ten minutes: only the second signal can end the daemon within the bound.
    const result = await finishedWithin(daemon!, 'after the second SIGINT');
    assert.equal(result.code, 130, result.stdout + result.stderr);
    assert.match(result.stdout, /second SIGINT: exiting now/);
    await waitFor(() => !alive(pid) && !alive(childPid), BOUND_MS).catch(() => assert.fail(`still running: ${[pid, childPid].filter(alive).join(', ')}`));
    assert.equal(sim!.comments('acme', 'api', 1).length, 0);
  });
});
