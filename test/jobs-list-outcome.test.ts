/** `jobs list` shows each job's outcome, so a dry run does not look like an answer. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir } from './support/cli.js';
import { daemonConfig, simulator } from './support/daemon.js';

describe('jobs list (CLI)', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    dir.cleanup();
  });

  it('shows an OUTCOME column: a dry-run job reads dry-run, an answered one answered, in the table and in --json', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: ['autosolve'] }] }]);
    const configWith = (dryRun: boolean) => daemonConfig(dir.path, sim!, ['acme/api'], { github: { issues: { requiredLabel: 'autosolve' } }, ai: { dryRun } });
    const config = configWith(true);
    assert.equal((await runCli(['run', '--once', '--config', config.file], { cwd: dir.path })).code, 0);
    configWith(false);
    assert.equal((await runCli(['run', '--once', '--config', config.file], { cwd: dir.path })).code, 0);

    const listed = await runCli(['jobs', 'list', '--config', config.file], { cwd: dir.path });
    assert.equal(listed.code, 0, listed.stderr);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    assert.match(header ?? '', /^\s*ID\s+STATE\s+OUTCOME\s+TRIES\s+WHEN\s/);
    assert.equal(rows.length, 2, listed.stdout);
    // Newest first: the answer, then the dry run that saw the same issue.
    assert.match(rows[0] ?? '', /^\s*\d+\s+done\s+answered\s+1\/\d+\s.*acme\/api#1\s+Bug$/);
    assert.match(rows[1] ?? '', /^\s*\d+\s+done\s+dry-run\s+1\/\d+\s.*acme\/api#1\s+Bug$/);
    for (const line of listed.stdout.split('\n')) assert.ok([...line].length <= 80, `too wide: ${line}`);

    const json = JSON.parse((await runCli(['jobs', 'list', '--json', '--config', config.file], { cwd: dir.path })).stdout) as Array<{ outcome: string }>;
    assert.deepEqual(json.map((j) => j.outcome), ['answered', 'dry-run']);
  });
});
