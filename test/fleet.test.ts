/**
 * The fleet end to end: the daemon (in process, real SQLite) against the
 * simulator over loopback. Discovery adds and drops repositories while
 * running; an update in any of 2,000 repositories is found with requests
 * whose count does not grow with the fleet; a stream that missed an update is
 * caught by reconciliation; and under sustained load the governor keeps the
 * simulator from ever refusing a request for a rate limit.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { App } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { startSimulator, type Scenario, type Simulator, type SimulatorOptions } from '../src/simulator/index.js';
import { tempDir } from './support/cli.js';
import { daemonConfig, inspectDatabase, TOKEN, waitFor } from './support/daemon.js';

interface Running {
  readonly app: App;
  readonly database: string;
  readonly lines: string[];
  stop(): Promise<void>;
}

describe('a fleet on one credential', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  let running: Running | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await sim?.close();
    sim = undefined;
    dir.cleanup();
  });

  async function simulate(scenario: Scenario, options: SimulatorOptions = {}): Promise<Simulator> {
    sim = await startSimulator({ tokens: [TOKEN], scenario, ...options });
    return sim;
  }

  /** Starts the daemon on `github` settings (merged into the test config); it runs until stop(). */
  async function start(github: Record<string, unknown>, extra: Record<string, Record<string, unknown>> = {}): Promise<Running> {
    const { file, database } = daemonConfig(dir.path, sim!, [], { github, ...extra });
    const { config } = loadConfig({ file, env: {} });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter((line) => line.length > 0));
        done();
      },
    });
    const app = await App.create(config, pino({ level: 'info' }, sink));
    const stop = new AbortController();
    const run = app.run(stop.signal, { once: false });
    running = {
      app,
      database,
      lines,
      async stop() {
        stop.abort(new Error('test: done'));
        await run.catch(() => undefined);
        await app.close();
      },
    };
    // A setup failure ends the run: surface it instead of waiting out a deadline.
    void run.catch((error: unknown) => lines.push(`run failed: ${String(error)}`));
    return running;
  }

  function members(database: string): Array<{ owner: string; name: string; source: string; dropped: number; path: string | null }> {
    return inspectDatabase(database, (db) =>
      db.prepare('SELECT owner, name, source, dropped_at IS NOT NULL AS dropped, detection_path AS path FROM repositories ORDER BY name').all() as Array<{
        owner: string; name: string; source: string; dropped: number; path: string | null;
      }>,
    );
  }

  const storedIssues = (database: string): number => inspectDatabase(database, (db) => (db.prepare('SELECT COUNT(*) AS n FROM issues').get() as { n: number }).n);

  function jobFor(database: string, githubId: number): { state: string } | undefined {
    return inspectDatabase(database, (db) => db.prepare('SELECT state FROM jobs WHERE issue_github_id = ?').get(githubId) as { state: string } | undefined);
  }

  it('discovers an organisation, then adds and drops repositories while running', async () => {
    await simulate({
      repositories: [
        { owner: 'acme', name: 'api', issues: [{ title: 'Crash' }] },
        { owner: 'acme', name: 'web' },
        { owner: 'acme', name: 'old', archived: true },
        { owner: 'acme', name: 'tmp-scratch' },
      ],
    });
    const daemon = await start({ organizations: [{ name: 'acme', exclude: ['tmp-*'] }], discoveryInterval: '1s', issues: { parseInterval: '1s' } });
    const active = () => members(daemon.database).filter((m) => m.dropped === 0).map((m) => m.name);
    await waitFor('api and web discovered', async () => (active().join() === 'api,web' ? true : undefined));
    assert.ok(members(daemon.database).every((m) => m.source === 'discovered'));
    await waitFor('api on the stream path', async () => (members(daemon.database).find((m) => m.name === 'api')?.path === 'stream' ? true : undefined));

    sim!.addRepository({ owner: 'acme', name: 'new' });
    await waitFor('new discovered while running', async () => (active().includes('new') ? true : undefined));
    sim!.removeRepository('acme', 'web');
    await waitFor('web dropped', async () => (active().includes('web') ? undefined : true));
    assert.ok(daemon.lines.some((line) => /acme\/web left the fleet/.test(line)), 'the drop is logged, naming the repository');
    assert.ok(!daemon.lines.some((line) => line.startsWith('run failed')), daemon.lines.join('\n'));
  });

  it('finds an update in any of 2,000 repositories with requests that do not grow with the fleet', async () => {
    await simulate({ repositories: [], generate: [{ owner: 'big', count: 2000, issuesPerRepository: 1 }] }, { rateLimit: 100_000 });
    const daemon = await start({
      organizations: ['big'],
      issues: { parseInterval: '1s', requiredLabel: 'autosolve' },
      rateLimit: { minInterval: '0s', pointsPerMinute: 6000 },
    }, { ai: { provider: 'demo', dryRun: true } });
    await waitFor('the history of 2,000 repositories stored', async () => (storedIssues(daemon.database) === 2000 ? true : undefined), 120_000);
    // Discovery (20 pages) and the history (20 stream pages): nothing like one request per repository.
    const setupRequests = sim!.requests.length;
    assert.ok(setupRequests < 200, `setup and the first sync took ${setupRequests} requests for 2,000 repositories`);

    const mark = sim!.requests.length;
    const updated = sim!.updateIssue('big', 'repo-1234', 1, { labels: ['autosolve'] });
    await waitFor('the update queued', async () => (jobFor(daemon.database, updated.id) ? true : undefined), 60_000);
    const since = sim!.requests.slice(mark);
    const walks = since.filter((r) => r.method === 'GET' && /^\/repos\/big\/[^/]+\/issues$/.test(r.path));
    assert.deepEqual(walks.map((r) => r.path), [], 'no repository was walked: the stream carried the change');
    const streamed = since.filter((r) => r.path === '/orgs/big/issues');
    assert.ok(streamed.length >= 1 && streamed.length <= 20, `${streamed.length} stream requests`);
    const others = since.filter((r) => r.path !== '/orgs/big/issues' && r.path !== '/graphql' && !r.path.startsWith('/repos/big/repo-1234/'));
    assert.ok(others.length <= 5, `requests beyond the stream, the sweeps and the issue's own: ${others.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  });

  it('catches an update the stream missed at reconciliation, walking only that repository', async () => {
    await simulate({ repositories: [], generate: [{ owner: 'acme', count: 30, issuesPerRepository: 1 }] });
    const daemon = await start({
      organizations: ['acme'],
      issues: { parseInterval: '1s', requiredLabel: 'autosolve' },
      fleet: { reconcileInterval: '2s' },
    }, { ai: { provider: 'demo', dryRun: true } });
    await waitFor('the history stored', async () => (storedIssues(daemon.database) === 30 ? true : undefined));
    const mark = sim!.requests.length;
    sim!.hideFromScopeListings('acme', 'repo-07', 1);
    const updated = sim!.updateIssue('acme', 'repo-07', 1, { labels: ['autosolve'] });
    await waitFor('the missed update queued', async () => (jobFor(daemon.database, updated.id) ? true : undefined), 60_000);
    const since = sim!.requests.slice(mark);
    const walked = new Set(since.filter((r) => r.method === 'GET' && /^\/repos\/acme\/[^/]+\/issues$/.test(r.path)).map((r) => r.path));
    assert.deepEqual([...walked], ['/repos/acme/repo-07/issues'], 'only the repository the sweep found newer was walked');
    assert.ok(since.some((r) => r.method === 'POST' && r.path === '/graphql'), 'a GraphQL sweep found it');
  });

  it('sweeps the repositories of an organisation whose issue stream the token cannot read', async () => {
    await simulate({ repositories: [], generate: [{ owner: 'acme', count: 12, issuesPerRepository: 1 }] });
    // As GitHub answers an installation token on GET /orgs/{org}/issues.
    sim!.injectFault({ kind: 'status', status: 403, body: { message: 'Resource not accessible by integration' }, match: { path: '/orgs/acme/issues' }, times: Number.POSITIVE_INFINITY });
    const daemon = await start({ organizations: ['acme'], issues: { parseInterval: '1s', requiredLabel: 'autosolve' } }, { ai: { provider: 'demo', dryRun: true } });
    await waitFor('every member moved to the sweep path', async () => {
      const all = members(daemon.database);
      return all.length === 12 && all.every((m) => m.path === 'sweep') ? true : undefined;
    });
    assert.ok(daemon.lines.some((line) => /issue stream of acme is not available to this token/.test(line)), 'the move is logged with its reason');
    await waitFor('the history walked after the sweeps', async () => (storedIssues(daemon.database) === 12 ? true : undefined));
    const updated = sim!.updateIssue('acme', 'repo-05', 1, { labels: ['autosolve'] });
    await waitFor('the update queued', async () => (jobFor(daemon.database, updated.id) ? true : undefined), 60_000);
  });

  it('paces REST points evenly under sustained demand: the walks stretch, no secondary limit is hit', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `repo-${i}`);
    await simulate(
      { repositories: names.map((name) => ({ owner: 'load', name, issues: [{ title: `Issue of ${name}` }] })) },
      { rateLimit: 100_000, secondaryLimits: { restPointsPerMinute: 60, maxConcurrent: 4 } },
    );
    // 40 repositories wanting a walk every second, against 40 points a minute: 1.5 s between two requests.
    await start({
      repositories: names.map((name) => `load/${name}`),
      issues: { parseInterval: '1s' },
      fleet: { detection: 'walk' },
      rateLimit: { minInterval: '0s', pointsPerMinute: 40, maxConcurrent: 3 },
    }, { ai: { provider: 'demo', dryRun: true } });
    await waitFor('eight requests', async () => (sim!.requests.length >= 8 ? true : undefined), 60_000);
    const starts = sim!.requests.slice(0, 8).map((r) => r.startedAt);
    const span = Math.max(...starts) - Math.min(...starts);
    assert.ok(span >= 7 * 1500 * 0.9, `eight requests within ${span} ms: not paced at 40 points a minute`);
    assert.deepEqual(sim!.breaches(), [], 'the simulator refused nothing for a rate limit');
  });

  it('spreads the primary budget once half is spent instead of running it to zero', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `repo-${i}`);
    // 30 requests of primary budget an hour: the 40 first walks alone would spend it.
    await simulate({ repositories: names.map((name) => ({ owner: 'load', name, issues: [{ title: `Issue of ${name}` }] })) }, { rateLimit: 30 });
    const daemon = await start({
      repositories: names.map((name) => `load/${name}`),
      issues: { parseInterval: '1s' },
      fleet: { detection: 'walk' },
      rateLimit: { minInterval: '0s', maxConcurrent: 3 },
    }, { scheduler: { setupBudget: '2m' }, ai: { provider: 'demo', dryRun: true } });
    await waitFor('the primary budget spread over the hour', async () =>
      daemon.lines.some((line) => /held for/.test(line) && /hourly budget is below half/.test(line)) ? true : undefined, 120_000);
    assert.deepEqual(sim!.breaches(), [], 'the simulator refused nothing for a rate limit');
    const limit = sim!.rateLimitOf(TOKEN);
    assert.ok(limit.remaining > 0, `the primary budget was spread, not spent (${limit.remaining} left)`);
  });
});
