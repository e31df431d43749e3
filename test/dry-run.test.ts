/** ai.dryRun is reversible: what a dry run saw is answered once it is turned off, without any issue changing. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir, writeFile } from './support/cli.js';
import { daemonConfig, inspectDatabase, simulator } from './support/daemon.js';

const LABELLED = ['autosolve'];

/** A command executor that records each issue number it answers. */
function recordingCommand(dir: string) {
  const calls = join(dir, 'calls.txt');
  const script = writeFile(
    dir,
    'executor.cjs',
    `const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.appendFileSync(${JSON.stringify(calls)}, input.number + '\\n');
process.stdout.write('Answer for #' + input.number);
`,
  );
  return { run: [process.execPath, script], calls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').map(Number) : []) };
}

describe('ai.dryRun is reversible (CLI)', () => {
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

  it('turning ai.dryRun off answers what the dry run saw, without any issue changing, once', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: LABELLED }, { title: 'Question', labels: LABELLED }, { title: 'Not asked' }] }]);
    const command = recordingCommand(dir.path);
    const configWith = (dryRun: boolean) =>
      daemonConfig(dir.path, sim!, ['acme/api'], { github: { issues: { requiredLabel: 'autosolve' } }, ai: { provider: 'command', command: { run: command.run }, dryRun } });
    const run = async (dryRun: boolean) => {
      const config = configWith(dryRun);
      const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
      assert.equal(result.code, 0, result.stdout + result.stderr);
      return config;
    };
    // Which issue the model ran for first is the queue's business, not a promise: compare sorted.
    const ran = () => [...command.calls()].sort((a, b) => a - b);
    const commented = () => sim!.issues('acme', 'api').filter((i) => sim!.comments('acme', 'api', i.number).length > 0).map((i) => i.number);

    await run(true);
    assert.deepEqual(commented(), []);
    assert.deepEqual(ran(), [1, 2]);
    await run(true);
    assert.deepEqual(ran(), [1, 2], 'a dry run does not run the model again for what it already saw');

    // Nothing on the simulated GitHub changes between the runs: only the key.
    const config = await run(false);
    assert.deepEqual(commented(), [1, 2], 'answered without any issue changing');
    assert.deepEqual(
      inspectDatabase(config.database, (db) => db.prepare(`SELECT outcome FROM jobs ORDER BY id`).all().map((r) => (r as { outcome: string }).outcome)),
      ['dry-run', 'dry-run', 'answered', 'answered'],
    );

    await run(false);
    assert.deepEqual(commented().map((n) => sim!.comments('acme', 'api', n).length), [1, 1], 'answered once each');
    assert.deepEqual(ran(), [1, 1, 2, 2]);
  });
});
