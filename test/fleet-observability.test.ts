/**
 * What an operator of a discovered fleet sees over HTTP: /metrics keeps a
 * series per configured repository but counts discovered ones, and their
 * organisation's stream passes, under `org/*` (a fleet of 10,000 must not make
 * 10,000 series); /api/status (the dashboard's data) caps the repositories and
 * carries the detection card. The daemon runs in process against the
 * simulator over loopback.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { App } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import type { DashboardSnapshot } from '../src/infra/telemetry/dashboard.js';
import { DaemonMetrics } from '../src/infra/telemetry/metrics.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { tempDir } from './support/cli.js';
import { daemonConfig, TOKEN, waitFor } from './support/daemon.js';

/** The label sets of every sample of `name`, with the value. */
function series(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const found: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const match of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const labels = Object.fromEntries([...(match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1] ?? '', l[2] ?? '']));
    found.push({ labels, value: Number(match[2]) });
  }
  return found;
}

describe('metrics labels for a discovered fleet', () => {
  it('keeps configured repositories by name and counts any other under its owner', async () => {
    const metrics = new DaemonMetrics({ queueCounts: async () => ({ pending: 0, running: 0, done: 0, dead: 0 }), ownSeries: ['ACME/api'] });
    metrics.pollFinished('acme/api', 'changed');
    metrics.pollFinished('big/repo-1', 'not_modified');
    metrics.pollFinished('Big/repo-2', 'not_modified');
    metrics.pollFinished('big/*', 'not_modified');
    metrics.dispatchObserver().commentPosted?.({ repository: 'big/repo-1', number: 1, url: 'https://github.com/big/repo-1/issues/1#issuecomment-1' });
    const text = await metrics.metrics();
    assert.deepEqual(
      series(text, 'autosolve_polls_total').map((s) => [s.labels.repository, s.labels.outcome, s.value]),
      [['acme/api', 'changed', 1], ['big/*', 'not_modified', 3]],
    );
    assert.deepEqual(series(text, 'autosolve_comments_posted_total').map((s) => [s.labels.repository, s.value]), [['big/*', 1]]);
  });
});

describe('a discovered fleet over HTTP', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  let stop: (() => Promise<void>) | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await stop?.();
    stop = undefined;
    await sim?.close();
    sim = undefined;
    dir.cleanup();
  });

  it('counts stream passes under the organisation, caps the repositories and shows the detection card', async () => {
    sim = await startSimulator({ tokens: [TOKEN], scenario: { repositories: [{ owner: 'acme', name: 'api' }], generate: [{ owner: 'big', count: 60 }] } });
    const { file } = daemonConfig(dir.path, sim, ['acme/api'], { github: { organizations: ['big'], issues: { parseInterval: '1s' } }, http: { listen: '127.0.0.1:0' } });
    const { config } = loadConfig({ file, env: {} });
    const app = await App.create(config, pino({ level: 'silent' }));
    const controller = new AbortController();
    const run = app.run(controller.signal, { once: false });
    let failure: unknown;
    run.catch((error: unknown) => (failure = error));
    stop = async () => {
      controller.abort(new Error('test: done'));
      await run.catch(() => undefined);
      await app.close();
    };
    const url = await waitFor('the HTTP endpoint', async () => (failure ? assert.fail(String(failure)) : app.httpUrl));

    const polls = await waitFor('a stream pass and a walk counted', async () => {
      const found = series(await (await fetch(`${url}/metrics`)).text(), 'autosolve_polls_total');
      const repositories = new Set(found.map((s) => s.labels.repository));
      return repositories.has('big/*') && repositories.has('acme/api') ? found : undefined;
    });
    assert.deepEqual(polls.filter((s) => !['big/*', 'acme/api'].includes(s.labels.repository ?? '')), [], 'no series of a discovered repository');

    const snapshot = await waitFor('the projection and the stream in the dashboard data', async () => {
      const body = (await (await fetch(`${url}/api/status`)).json()) as DashboardSnapshot;
      return body.fleet?.detection && body.fleet.members.stream === 60 && body.fleet.streams[0]?.lastPolledAt ? body : undefined;
    });
    assert.equal(snapshot.repositories.length, 50, 'the table is capped');
    assert.equal(snapshot.moreRepositories, 11, '61 members, 50 listed');
    assert.ok(snapshot.repositories.some((r) => r.repository.startsWith('big/') && r.detectionPath === 'stream'), 'discovered repositories are listed with their path');
    assert.deepEqual(snapshot.fleet?.members, { walk: 1, stream: 60, sweep: 0, undecided: 0 });
    assert.deepEqual(snapshot.fleet?.detection?.paths.stream, { interval: '1 s', latency: '1 s', bound: 'set by github.issues.parseInterval: it fits every budget', stretched: false });
    assert.deepEqual(snapshot.fleet?.streams.map((s) => [s.scope, s.lastError]), [['org:big', null]]);
  });
});
