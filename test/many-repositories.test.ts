/**
 * 200 repositories: the daemon runs setup and a polling round against the
 * simulator, and Node has nothing to warn about (each worker waiting for its
 * next pass must not add a listener to the one shutdown signal).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { App } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/infra/telemetry/logger.js';
import type { Simulator } from '../src/simulator/index.js';
import { tempDir } from './support/cli.js';
import { backlog, daemonConfig, simulator } from './support/daemon.js';

const REPOSITORIES = 200;

/** Resolves once the tasks queued now (promise callbacks, ticks, I/O callbacks) have run. */
const settled = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

describe('200 repositories', () => {
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

  it('set up and polled with no MaxListenersExceededWarning', async () => {
    const names = Array.from({ length: REPOSITORIES }, (_, i) => `repo-${i}`);
    sim = await simulator(
      names.map((name) => ({ owner: 'fleet', name, issues: backlog(1) })),
      { rateLimit: 100_000 },
    );
    const { file } = daemonConfig(dir.path, sim, names.map((name) => `fleet/${name}`), {
      github: { issues: { requiredLabel: 'nothing-is-dispatched', parseInterval: '1h' } },
      scheduler: { setupBudget: '2m' },
    });
    const { config } = loadConfig({ file, env: {} });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const stop = new AbortController();
    const polled = new Set<string>();
    let allPolled: () => void = () => {};
    const everyRepositoryPolled = new Promise<void>((resolve) => (allPolled = resolve));
    const app = await App.create(config, createLogger({ debug: false, level: 'silent' }), {
      schedulerObserver: {
        passSucceeded: (job) => {
          if (job.name.startsWith('work:issue-poller:')) polled.add(job.name);
          if (polled.size === REPOSITORIES) allPolled();
        },
      },
    });
    try {
      const running = app.run(stop.signal, { once: false });
      await Promise.race([everyRepositoryPolled, running]);
      // Every poller is now waiting for its next pass; Node warns on the tick after a listener too many.
      await settled();
      stop.abort(new Error('test: done'));
      await running;
    } finally {
      await app.close();
      process.off('warning', onWarning);
    }

    assert.equal(polled.size, REPOSITORIES);
    assert.deepEqual(
      warnings.map((w) => `${w.name}: ${w.message}`),
      [],
    );
  });
});
