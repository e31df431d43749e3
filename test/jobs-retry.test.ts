/** `autosolve jobs retry` with --all, --state dead|done and --outcome dry-run; `jobs retry ID` keeps working. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { COMMENT_MARKER } from '../src/domain/entities.js';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir, writeFile } from './support/cli.js';
import { daemonConfig, inspectDatabase, simulator, type DaemonConfig } from './support/daemon.js';

const LABELLED = ['autosolve'];

type Row = { id: number; number: number; state: string; outcome: string | null; attempts: number };

describe('jobs retry in bulk (CLI)', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator;
  let config: DaemonConfig;
  let failFlag: string;
  const jobs = () => inspectDatabase(config.database, (db) => db.prepare('SELECT j.id, i.number, j.state, j.outcome, j.attempts FROM jobs j JOIN issues i ON i.github_id = j.issue_github_id ORDER BY j.id').all() as Row[]);
  const answers = (n: number) => sim.comments('acme', 'api', n).filter((c) => c.body.includes(COMMENT_MARKER)).length;
  const cli = (...args: string[]) => runCli([...args, '--config', config.file], { cwd: dir.path });
  const configure = (ai: Record<string, unknown>) => {
    const script = writeFile(
      dir.path,
      'executor.cjs',
      `const fs = require('fs'); const input = JSON.parse(fs.readFileSync(0, 'utf8'));
if (fs.existsSync(${JSON.stringify(failFlag)}) && input.number >= 3) { process.stderr.write('model crashed'); process.exit(3); }
process.stdout.write('Answer for #' + input.number);`,
    );
    config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { requiredLabel: 'autosolve' } }, ai: { provider: 'command', command: { run: [process.execPath, script] }, maxAttempts: 1, ...ai } });
  };
  /** `run --once`; exit 3 when jobs went dead in the pass (cron alerts on it). */
  const run = async (expectedCode = 0) => {
    const result = await cli('run', '--once');
    assert.equal(result.code, expectedCode, result.stdout + result.stderr);
  };

  before(async () => {
    dir = tempDir();
    failFlag = join(dir.path, 'fail');
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [1, 2, 3, 4].map((n) => ({ title: `Issue ${n}`, labels: LABELLED })) }]);
    // Issues 1 and 2 seen by a dry run; 3 and 4 dead (their executor fails, one attempt allowed).
    writeFile(dir.path, 'fail', '');
    configure({ dryRun: true });
    await run(3);
    // Issue 1 changes and the dry run sees it again: two dry-run jobs for one issue.
    sim.addComment('acme', 'api', 1, { body: 'more details' });
    await run();
    assert.deepEqual(
      jobs().map((j) => [j.number, j.state, j.outcome]),
      [[1, 'done', 'dry-run'], [2, 'done', 'dry-run'], [3, 'dead', null], [4, 'dead', null], [1, 'done', 'dry-run']],
    );
  });
  after(async () => {
    await sim.close();
    dir.cleanup();
  });

  it('rejects a missing target, an id with filters, and filters it does not take, with exit 2 and the fix', async () => {
    const none = await cli('jobs', 'retry');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give a job id, or --all, --state dead\|done, --outcome dry-run/);
    const both = await cli('jobs', 'retry', '1', '--all');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /not both/);
    const pending = await cli('jobs', 'retry', '--state', 'pending');
    assert.equal(pending.code, 2);
    assert.match(pending.stderr, /--state must be dead or done/);
    const answered = await cli('jobs', 'retry', '--outcome', 'answered');
    assert.equal(answered.code, 2);
    assert.match(answered.stderr, /never answered twice/);
    const backlog = await cli('jobs', 'retry', '--outcome', 'backlog');
    assert.equal(backlog.code, 2);
    assert.match(backlog.stderr, /github\.issues\.backlog/);
  });

  it('filters combine: --state dead --outcome dry-run matches nothing, and says so', async () => {
    const result = await cli('jobs', 'retry', '--state', 'dead', '--outcome', 'dry-run');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'retried 0 queue jobs (state dead, outcome dry-run)\n');
    assert.deepEqual(jobs().map((j) => j.state), ['done', 'done', 'dead', 'dead', 'done']);
  });

  it("--outcome dry-run retries what the dry run saw (an issue's latest job only), --state dead the dead, and prints how many", async () => {
    const dry = await cli('jobs', 'retry', '--outcome', 'dry-run', '--json');
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(JSON.parse(dry.stdout), { retried: 2, ids: [2, 5] });
    const dead = await cli('jobs', 'retry', '--state', 'dead');
    assert.equal(dead.code, 0, dead.stderr);
    assert.equal(dead.stdout, 'retried 2 queue jobs (state dead): pending with fresh attempts, visible now\n');
    assert.deepEqual(jobs().map((j) => [j.state, j.attempts]), [['done', 1], ['pending', 0], ['pending', 0], ['pending', 0], ['pending', 0]]);

    // Answer for real; 3 and 4 still fail and die again.
    configure({ dryRun: false });
    await run(3);
    assert.deepEqual(
      jobs().map((j) => [j.number, j.state, j.outcome]),
      [[1, 'done', 'dry-run'], [2, 'done', 'answered'], [3, 'dead', null], [4, 'dead', null], [1, 'done', 'answered']],
    );
    assert.deepEqual([1, 2, 3, 4].map((n) => answers(n)), [1, 1, 0, 0]);
  });

  it('--all never takes a job of an answered issue; `jobs retry ID` still retries one job', async () => {
    const one = await cli('jobs', 'retry', '3');
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^queue job 3 \(acme\/api#3\): dead → pending, attempts 1\/1 → 0\/1, visible now\n$/);
    const all = await cli('jobs', 'retry', '--all');
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout, 'retried 1 queue job (dead or done): pending with fresh attempts, visible now\n');
    const done = await cli('jobs', 'retry', '--state', 'done');
    assert.equal(done.stdout, 'retried 0 queue jobs (state done)\n');
    const answered = await cli('jobs', 'retry', '5');
    assert.equal(answered.code, 1);
    assert.match(answered.stderr, /queue job 5 is done \(outcome answered\)/);
    const earlier = await cli('jobs', 'retry', '1');
    assert.equal(earlier.code, 1, 'the dry run of an issue answered since is not retried');
    assert.match(earlier.stderr, /was answered since/);

    rmSync(failFlag);
    await run();
    assert.deepEqual([1, 2, 3, 4].map((n) => answers(n)), [1, 1, 1, 1], 'each issue answered exactly once');
  });
});
