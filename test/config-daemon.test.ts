import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir } from './support/cli.js';
import { daemonConfig, simulator } from './support/daemon.js';

const ANSWERING = { issues: { requiredLabel: 'autosolve' } };
const LABELLED = ['autosolve'];

/** The pino JSON lines the daemon wrote, by level. */
function levelsOf(stdout: string): Set<string> {
  const levels = new Set<string>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    levels.add((JSON.parse(line) as { level: string }).level);
  }
  return levels;
}

describe('the daemon under the configuration it is given', () => {
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

  it('starts and answers although Kubernetes injected AUTOSOLVE_PORT and AUTOSOLVE_SERVICE_HOST, warning instead of failing', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: LABELLED }] }]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING });
    const result = await runCli(['run', '--once', '--config', config.file], {
      cwd: dir.path,
      env: {
        AUTOSOLVE_PORT: 'tcp://10.0.0.1:80',
        AUTOSOLVE_PORT_80_TCP: 'tcp://10.0.0.1:80',
        AUTOSOLVE_PORT_80_TCP_ADDR: '10.0.0.1',
        AUTOSOLVE_SERVICE_HOST: '10.0.0.1',
        AUTOSOLVE_SERVICE_PORT: '80',
        AUTOSOLVE_AI_CONCURENCY: '2',
      },
    });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(sim.comments('acme', 'api', 1).length, 1, 'the daemon ran and answered');
    assert.match(result.stderr, /warning: AUTOSOLVE_PORT, AUTOSOLVE_PORT_80_TCP, AUTOSOLVE_PORT_80_TCP_ADDR, AUTOSOLVE_SERVICE_HOST, AUTOSOLVE_SERVICE_PORT: ignored; these look like Kubernetes service links/);
    assert.match(result.stderr, /warning: AUTOSOLVE_AI_CONCURENCY: unknown environment variable, ignored \(did you mean AUTOSOLVE_AI_CONCURRENCY\?\)/);
  });

  it('run --dry-run posts nothing and logs the comment it would have posted', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: LABELLED }] }]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING });
    const result = await runCli(['run', '--once', '--dry-run', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(sim.comments('acme', 'api', 1).length, 0);
    assert.equal(sim.requests.filter((r) => r.method === 'POST').length, 0);
    assert.match(result.stdout, /dry run: would post this comment on acme\/api#1/);
  });

  it('logs at LOG_LEVEL: warn drops info lines, debug adds debug lines', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: LABELLED }] }]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { dryRun: true } });
    const quiet = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path, env: { LOG_LEVEL: 'warn' } });
    assert.equal(quiet.code, 0, quiet.stdout + quiet.stderr);
    const quietLevels = levelsOf(quiet.stdout);
    assert.ok(!quietLevels.has('info') && !quietLevels.has('debug'), `levels written: ${[...quietLevels].join(', ')}`);

    const chatty = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path, env: { LOG_LEVEL: 'debug' } });
    assert.equal(chatty.code, 0, chatty.stdout + chatty.stderr);
    const chattyLevels = levelsOf(chatty.stdout);
    assert.ok(chattyLevels.has('debug') && chattyLevels.has('info'), `levels written: ${[...chattyLevels].join(', ')}`);
  });
});
