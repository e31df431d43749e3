/**
 * LOG_LEVEL takes every level pino knows, as Node deployments set it: trace,
 * fatal and silent start the daemon instead of refusing with exit 2.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir } from './support/cli.js';
import { daemonConfig, simulator } from './support/daemon.js';

function levelsOf(stdout: string): Set<string> {
  const levels = new Set<string>();
  for (const line of stdout.split('\n')) {
    if (line.startsWith('{')) levels.add((JSON.parse(line) as { level: string }).level);
  }
  return levels;
}

describe('LOG_LEVEL with pino\'s other levels', () => {
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

  it('LOG_LEVEL=trace, fatal and silent start the daemon: trace writes debug lines, fatal and silent write none below fatal', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: ['autosolve'] }] }]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { requiredLabel: 'autosolve' } }, ai: { dryRun: true } });
    const run = (level: string) => runCli(['run', '--once', '--config', config.file], { cwd: dir.path, env: { LOG_LEVEL: level } });

    const fatal = await run('FATAL');
    assert.equal(fatal.code, 0, fatal.stdout + fatal.stderr);
    assert.deepEqual([...levelsOf(fatal.stdout)].filter((level) => level !== 'fatal'), []);

    const silent = await run('silent');
    assert.equal(silent.code, 0, silent.stdout + silent.stderr);
    assert.deepEqual([...levelsOf(silent.stdout)], [], 'no log line at all');

    // Run last: the poll's only debug line is its 304, which needs an earlier run's ETag.
    const trace = await run('trace');
    assert.equal(trace.code, 0, trace.stdout + trace.stderr);
    assert.ok(levelsOf(trace.stdout).has('debug'), `levels written: ${[...levelsOf(trace.stdout)].join(', ')}`);

    const check = await runCli(['config', 'check', '--config', config.file], { cwd: dir.path, env: { LOG_LEVEL: 'trace' } });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /level: trace/);
  });
});
