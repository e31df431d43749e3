/**
 * A fleet through the CLI, as an operator runs it from cron: `run --once`
 * with an organisation discovers it, streams its history in and answers what
 * is asked; `status` says how each repository is watched; a wider
 * github.issues.backlog later applies to discovered repositories too.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir } from './support/cli.js';
import { backlog, daemonConfig, simulator } from './support/daemon.js';

function commented(sim: Simulator, owner: string, name: string): number[] {
  return sim.issues(owner, name).filter((i) => sim.comments(owner, name, i.number).length > 0).map((i) => i.number);
}

describe('a fleet from the command line', () => {
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

  it('run --once discovers, streams and answers; status shows the paths; a wider backlog reaches discovered repositories', async () => {
    sim = await simulator([
      { owner: 'acme', name: 'api', issues: backlog(2) },
      { owner: 'acme', name: 'web', issues: backlog(1) },
      { owner: 'acme', name: 'docs' },
    ]);
    const github = { organizations: ['acme'], issues: { parseInterval: '1m' } };
    const first = daemonConfig(dir.path, sim, [], { github });
    const run = async (file: string) => {
      const result = await runCli(['run', '--once', '--config', file], { cwd: dir.path });
      assert.equal(result.code, 0, result.stdout + result.stderr);
      return result;
    };
    const once = await run(first.file);
    for (const name of ['api', 'web', 'docs']) assert.match(once.stdout, new RegExp(`acme/${name} joined the fleet`));
    assert.match(once.stdout, /streamed: 3/);
    // No label and no backlog key: the history is recorded, not answered (github.issues.backlog: skip).
    assert.deepEqual([...commented(sim, 'acme', 'api'), ...commented(sim, 'acme', 'web')], []);
    // Walked by nobody: the organisation's stream brought the history.
    assert.equal(sim.requests.filter((r) => /^\/repos\/acme\/[^/]+\/issues$/.test(r.path)).length, 0);

    const status = await runCli(['status', '--json', '--config', first.file], { cwd: dir.path });
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout) as { repositories: Array<{ repository: string; detectionPath: string | null }>; detection: { paths: Array<{ path: string }> } | null };
    assert.deepEqual(report.repositories.map((r) => [r.repository, r.detectionPath]).sort(), [['acme/api', 'stream'], ['acme/docs', 'stream'], ['acme/web', 'stream']]);
    assert.ok(report.detection, 'the projection is shown');
    const human = await runCli(['status', '--config', first.file], { cwd: dir.path });
    assert.match(human.stdout, /stream/);

    const wider = daemonConfig(dir.path, sim, [], { github: { ...github, issues: { parseInterval: '1m', backlog: 'answer' } } });
    await run(wider.file);
    assert.deepEqual(commented(sim, 'acme', 'api'), [1, 2], 'the wider backlog answered the discovered history');
    assert.deepEqual(commented(sim, 'acme', 'web'), [1]);

    // The organisation leaves the configuration: its repositories leave the fleet, with the reason.
    const narrower = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { parseInterval: '1m' } } });
    await run(narrower.file);
    const after = JSON.parse((await runCli(['status', '--json', '--config', narrower.file], { cwd: dir.path })).stdout) as {
      fleet: { members: { total: number }; dropped: { count: number; latest: Array<{ repository: string; reason: string | null }> } };
    };
    assert.equal(after.fleet.dropped.count, 2);
    assert.match(after.fleet.dropped.latest[0]?.reason ?? '', /no longer in github\.organizations/);
  });
});
