/**
 * Skips are loud: a suite whose requirement is missing reports itself skipped
 * with the reason, and fails where the environment says it must have it (CI).
 * Run through Node's own test runner in a child process, as `npm test` runs it
 * (the fixtures are .mts: the temporary folder has no package.json saying ESM).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ROOT, tempDir, writeFile } from './support/cli.js';

const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/esm/index.mjs')).href;
const SKIPS = pathToFileURL(join(ROOT, 'test/support/skips.ts')).href;

function fixture(missing: string | false): string {
  return `
import { describe, it } from 'node:test';
import { skipUnlessAvailable } from ${JSON.stringify(SKIPS)};
const skip = skipUnlessAvailable({ what: 'the frobnicator', missing: ${JSON.stringify(missing)}, requiredBy: 'AUTOSOLVE_REQUIRE_FROB' });
void describe('needs the frobnicator', { skip }, () => {
  void it('frobnicates', () => {});
});
`;
}

function runSuite(file: string, extraEnv: Record<string, string>): { code: number | null; output: string } {
  const env: NodeJS.ProcessEnv = {};
  // The child is a runner of its own, not a subtest reporting to this one.
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('NODE_TEST') && key !== 'AUTOSOLVE_REQUIRE_FROB') env[key] = value;
  const result = spawnSync(process.execPath, ['--import', TSX, '--test', '--test-reporter=tap', file], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

void describe('skipUnlessAvailable', () => {
  let dir: { path: string; cleanup: () => void };
  before(() => (dir = tempDir()));
  after(() => dir.cleanup());

  void it('skips with the reason where the requirement is missing and not required', () => {
    const file = writeFile(dir.path, 'optional.test.mts', fixture('no frobnicator at /usr/bin/frob'));
    const { code, output } = runSuite(file, {});
    assert.equal(code, 0, output);
    assert.match(output, /# SKIP no frobnicator at \/usr\/bin\/frob/);
    assert.match(output, /^# fail 0$/m);
  });

  void it('fails naming what is missing where the environment requires it', () => {
    const file = writeFile(dir.path, 'required.test.mts', fixture('no frobnicator at /usr/bin/frob'));
    const { code, output } = runSuite(file, { AUTOSOLVE_REQUIRE_FROB: '1' });
    assert.equal(code, 1, output);
    assert.match(output, /not ok \d+ - the frobnicator is available \(required: AUTOSOLVE_REQUIRE_FROB=1\)/);
    assert.match(output, /no frobnicator at \/usr\/bin\/frob; AUTOSOLVE_REQUIRE_FROB=1 says this environment must have it/);
    assert.match(output, /^# fail 1$/m);
  });

  void it('runs the tests, required or not, where the requirement is present', () => {
    const file = writeFile(dir.path, 'present.test.mts', fixture(false));
    for (const env of [{}, { AUTOSOLVE_REQUIRE_FROB: '1' }]) {
      const { code, output } = runSuite(file, env);
      assert.equal(code, 0, output);
      assert.match(output, /^\s*ok \d+ - frobnicates$/m);
      assert.match(output, /^# skipped 0$/m);
    }
  });
});
