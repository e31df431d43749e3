/**
 * The comment budget survives restarts: consecutive `run --once` invocations
 * (cron) share it through the database. Each run is what `autosolve run
 * --once` does in its process (App.create, run once, close) with a budget
 * shrunk to two comments an hour, against the simulator and one SQLite file.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { App } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import type { WaitReason } from '../src/infra/github/index.js';
import { createLogger } from '../src/infra/telemetry/logger.js';
import type { Simulator } from '../src/simulator/index.js';
import { tempDir } from './support/cli.js';
import { backlog, daemonConfig, simulator } from './support/daemon.js';

const LABEL = 'autosolve';
const WRITE_BUDGET = { perMinute: 2, perHour: 2 };

describe('write budget across runs', () => {
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

  it('two run --once in a row do not post more comments together than the budget allows', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: backlog(2, { labels: [LABEL] }) }]);
    const { file } = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { requiredLabel: LABEL } } });
    const { config } = loadConfig({ file, env: {} });
    const log = createLogger({ debug: false, level: 'silent' });
    const hooks = { writeMinIntervalMs: 0, writeBudget: WRITE_BUDGET };

    const first = await App.create(config, log, hooks);
    try {
      const summary = await first.run(new AbortController().signal, { once: true });
      assert.deepEqual(summary.failed, []);
    } finally {
      await first.close();
    }
    assert.equal(sim.requests.filter((r) => r.method === 'POST').length, 2, 'the first run spent the budget');

    sim.addIssue('acme', 'api', { title: 'A third question', body: 'How?', labels: [LABEL] });
    const stop = new AbortController();
    const holds: Array<{ reason: WaitReason; waitMs: number }> = [];
    const second = await App.create(config, log, {
      ...hooks,
      githubTelemetry: {
        onWait: (info) => {
          holds.push(info);
          // Held for the budget the first run spent: that is all we wanted to see.
          if (info.reason === 'write-pacing') stop.abort(new Error('test: seen the hold'));
        },
      },
    });
    try {
      await second.run(stop.signal, { once: true });
    } finally {
      await second.close();
    }

    assert.equal(sim.requests.filter((r) => r.method === 'POST').length, 2, 'the second run posted nothing beyond the budget');
    const hold = holds.find((h) => h.reason === 'write-pacing');
    assert.ok(hold, `the third comment was held for the write budget (holds: ${JSON.stringify(holds)})`);
    assert.ok(hold.waitMs > 3_000_000, `held until the first run's comments leave the hour, not ${hold.waitMs} ms`);
    assert.equal(sim.comments('acme', 'api', 3).length, 0);
  });
});
