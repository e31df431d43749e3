/**
 * Setup failures are remembered, so `autosolve status` shows why a repository
 * never started (it has no GitHub id yet) until setup passes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir } from './support/cli.js';
import { daemonConfig, simulator } from './support/daemon.js';

interface StatusJson {
  repositories: Array<{ repository: string; validated: boolean; setupError: { error: string; at: string } | null }>;
}

describe('setup failures in autosolve status', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator;
  let configFile: string;
  before(async () => {
    dir = tempDir();
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'first' }] }]);
    configFile = daemonConfig(dir.path, sim, ['acme/api', 'acme/ghost'], { github: { issues: { requiredLabel: 'nobody' } } }).file;
  });
  after(async () => {
    await sim.close();
    dir.cleanup();
  });

  async function status(): Promise<StatusJson['repositories']> {
    const result = await runCli(['status', '--json', '--config', configFile], { cwd: dir.path });
    assert.equal(result.code, 0, result.stderr);
    return (JSON.parse(result.stdout) as StatusJson).repositories;
  }

  it('shows why setup failed for a repository that has no GitHub id, and when', async () => {
    const run = await runCli(['run', '--once', '--config', configFile], { cwd: dir.path });
    assert.equal(run.code, 1, run.stdout + run.stderr);

    const ghost = (await status()).find((r) => r.repository === 'acme/ghost');
    assert.equal(ghost?.validated, false);
    assert.match(ghost?.setupError?.error ?? '', /acme\/ghost.*404/);
    assert.ok(Math.abs(Date.parse(ghost?.setupError?.at ?? '') - Date.now()) < 60_000, `failed at ${ghost?.setupError?.at}`);
    assert.equal((await status()).find((r) => r.repository === 'acme/api')?.setupError, null);

    const text = await runCli(['status', '--config', configFile], { cwd: dir.path });
    assert.match(text.stdout, /acme\/ghost[^\n]*\n(?:[^\n]*\n)*?\s+setup\s+failed \d+s ago: [^\n]*404/);
  });

  it('clears the setup failure once setup passes', async () => {
    sim.addRepository({ owner: 'acme', name: 'ghost' });
    const run = await runCli(['run', '--once', '--config', configFile], { cwd: dir.path });
    assert.equal(run.code, 0, run.stdout + run.stderr);

    const ghost = (await status()).find((r) => r.repository === 'acme/ghost');
    assert.equal(ghost?.validated, true);
    assert.equal(ghost?.setupError, null);
    const text = await runCli(['status', '--config', configFile], { cwd: dir.path });
    assert.doesNotMatch(text.stdout, /setup\s+failed/);
  });
});
