import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { alive, gatedAgent, killGroup } from './support/agents.js';
import { startCli, tempDir } from './support/cli.js';
import { daemonConfig, inspectDatabase, simulator } from './support/daemon.js';
import { waitFor } from './support/dispatch.js';

const LABELLED = ['autosolve'];
const ANSWERING = { issues: { requiredLabel: 'autosolve' } };

describe('autosolve run: the shutdown grace lets in-flight work finish', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator;
  const groups: number[] = [];
  beforeEach(async () => {
    dir = tempDir();
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: LABELLED }] }]);
  });
  afterEach(async () => {
    groups.splice(0).forEach(killGroup);
    await sim.close();
    dir.cleanup();
  });

  const jobOf = (database: string) =>
    inspectDatabase(database, (db) => db.prepare('SELECT state, attempts, outcome, locked_by FROM jobs').get() as { state: string; attempts: number; outcome: string | null; locked_by: string | null });

  it('posts the answer of a model run that ends within the grace after SIGTERM, and exits 0', async () => {
    const agent = gatedAgent(dir.path);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'command', command: { run: agent.run } }, scheduler: { shutdownGrace: '1m' } });
    const daemon = startCli(['run', '--config', config.file], { cwd: dir.path });
    await waitFor(() => agent.started());
    groups.push(agent.pid());
    daemon.child.kill('SIGTERM');
    // The log says what shutdown waits for, then the run ends on its own.
    await waitFor(() => /waiting for 1 queue job in flight to finish: acme\/api#1 \(running command node\)/.test(daemon.output().stdout));
    agent.open();
    const result = await daemon.finished;
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /stopped cleanly/);
    assert.equal(sim.comments('acme', 'api', 1).length, 1);
    assert.deepEqual(jobOf(config.database), { state: 'done', attempts: 1, outcome: 'answered', locked_by: null });
  });

  it('aborts a model run still going when the grace runs out: its process group killed, the job pending with no attempt spent, exit 1', async () => {
    const agent = gatedAgent(dir.path);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'command', command: { run: agent.run } }, scheduler: { shutdownGrace: '1s' } });
    const daemon = startCli(['run', '--config', config.file], { cwd: dir.path });
    await waitFor(() => agent.started());
    groups.push(agent.pid());
    daemon.child.kill('SIGTERM');
    const result = await daemon.finished;
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /shutdown grace of 1s expired; aborting the work still in flight/);
    assert.match(result.stdout, /acme\/api#1: aborted by shutdown while running command node; job returned to the queue without spending an attempt/);
    await waitFor(() => !alive(agent.pid()) && !alive(agent.childPid()), 5_000);
    assert.equal(sim.comments('acme', 'api', 1).length, 0);
    assert.deepEqual(jobOf(config.database), { state: 'pending', attempts: 0, outcome: null, locked_by: null });
  });
});
