import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir, writeFile } from './support/cli.js';
import { daemonConfig, simulator, TOKEN } from './support/daemon.js';

describe('autosolve status on a database left by a run', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator;
  let configFile: string;
  before(async () => {
    dir = tempDir();
    sim = await simulator([
      { owner: 'acme', name: 'api', issues: [{ title: 'Crash on start', labels: ['autosolve'] }, { title: 'Question' }] },
      { owner: 'acme', name: 'web', issues: [{ title: 'Layout bug', labels: ['autosolve'] }] },
    ]);
    // acme/web's issue list keeps failing; the executor always fails: one dead job.
    sim.injectFault({ match: { method: 'GET', path: '/repos/acme/web/issues' }, kind: 'server-error', status: 503, times: 1000 });
    const failing = writeFile(dir.path, 'fail.cjs', "process.stderr.write('model crashed'); process.exit(3);");
    configFile = daemonConfig(dir.path, sim, ['acme/api', 'acme/web'], {
      github: { issues: { requiredLabel: 'autosolve' } },
      ai: { provider: 'command', command: { run: [process.execPath, failing] }, maxAttempts: 1 },
      scheduler: { setupBudget: '2s' },
    }).file;
    const run = await runCli(['run', '--once', '--config', configFile], { cwd: dir.path });
    assert.equal(run.code, 1, 'the failing poll makes the pass fail');
    assert.match(run.stdout, /work:issue-poller:acme\/web/);
  });
  after(async () => {
    await sim.close();
    dir.cleanup();
  });

  it('reports the failed poll, the dead job and the rate-limit budget in --json', async () => {
    const result = await runCli(['status', '--json', '--config', configFile], { cwd: dir.path });
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout) as {
      repositories: Array<{ repository: string; validated: boolean; lastPolledAt: string | null; lastError: string | null; jobs: Record<string, number>; issues: { stored: number } }>;
      rateLimit: { remaining: number; limit: number } | null;
      queue: Record<string, number>;
    };
    const api = status.repositories.find((r) => r.repository === 'acme/api');
    const web = status.repositories.find((r) => r.repository === 'acme/web');
    assert.ok(api && web);
    assert.equal(api.validated, true);
    assert.ok(api.lastPolledAt);
    assert.equal(api.lastError, null);
    assert.equal(api.issues.stored, 2);
    assert.equal(api.jobs.dead, 1);
    assert.equal(web.validated, true);
    assert.equal(web.lastPolledAt, null);
    assert.match(web.lastError ?? '', /acme\/web/);
    assert.match(web.lastError ?? '', /503/);
    assert.deepEqual(status.queue, { pending: 0, running: 0, done: 0, dead: 1 });
    assert.equal(status.rateLimit?.limit, 5000);
    assert.equal(status.rateLimit?.remaining, sim.rateLimitOf(TOKEN).remaining);
    assert.ok(!result.stdout.includes(TOKEN));
  });

  it('shows the same in 80 columns for a person', async () => {
    const result = await runCli(['status', '--config', configFile], { cwd: dir.path });
    assert.equal(result.code, 0, result.stderr);
    for (const line of result.stdout.split('\n')) assert.ok([...line].length <= 80, `too wide: ${line}`);
    assert.match(result.stdout, /acme\/web/);
    assert.match(result.stdout, /error .*acme\/web: GitHub failed \(HTTP 503/);
    assert.match(result.stdout, /1 dead/);
  });
});
