/**
 * A backlog where every issue shares one `updated_at` (an import, a bulk label
 * change: GitHub's timestamps have one-second resolution) is longer than a
 * page, so `since` cannot advance past it: the poller must step through its
 * pages and still end (docs/decisions/003-walking-an-offset-paged-backlog.md).
 * The real poller, client and database (each engine) against the simulator.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Log } from '../src/domain/ports.js';
import { issuePoller } from '../src/domain/tasks/repository/issue-poller.js';
import { GitHubClient } from '../src/infra/github/index.js';
import { SqlIssueSyncStore, SqlRepositoryStore } from '../src/infra/store/index.js';
import { startSimulator } from '../src/simulator/index.js';
import { testEngines } from './support/engines.js';

const TOKEN = 'same-instant-token';
const REPO = { owner: 'acme', name: 'api' };
const ISSUES_PATH = '/repos/acme/api/issues';
const AT = '2025-06-01T12:00:00Z';
const COUNT = 250;

const quiet: Log = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

for (const engine of await testEngines()) {
  void describe(`a backlog of more than a page sharing one updated_at on ${engine.name}`, { skip: engine.skip }, () => {
    void it(`stores all ${COUNT} issues and queues each in one pass that ends, then costs one 304`, async () => {
      const issues = Array.from({ length: COUNT }, (_, i) => ({ title: `imported ${i + 1}`, labels: ['autosolve'], createdAt: AT, updatedAt: AT }));
      const sim = await startSimulator({ tokens: [TOKEN], now: () => Date.parse(AT) + 86_400_000, scenario: { repositories: [{ ...REPO, issues }] } });
      cleanups.push(() => sim.close());
      const { database, cleanup } = await engine.fresh();
      cleanups.push(cleanup);
      const github = new GitHubClient({ baseUrl: sim.url, token: TOKEN, timeoutMs: 10_000, userAgent: 'autosolve/test', throttle: { minIntervalMs: 0 } });
      const repositoryId = await new SqlRepositoryStore(database.db).record(REPO, await github.getRepository(REPO, new AbortController().signal));
      const poller = issuePoller({
        github,
        store: new SqlIssueSyncStore(database.db, { maxAttempts: 3 }),
        interval: 60_000,
        requiredLabel: 'autosolve',
        backlog: 'answer',
        log: quiet,
        // Tight bounds: a walk that loops instead of ending fails here rather than after 2,000 pages.
        limits: { maxPages: 20, maxRunWalks: 3 },
      });
      const partition = { ...REPO, repositoryId };
      sim.clearRequests();

      await poller.work(new AbortController().signal, partition);

      const stored = await database.db.selectFrom('issues').select(['number', 'updated_at']).orderBy('number').execute();
      assert.deepEqual(
        stored.map((row) => row.number),
        Array.from({ length: COUNT }, (_, i) => i + 1),
        'every issue of the instant is stored',
      );
      assert.ok(stored.every((row) => row.updated_at === AT));
      const jobs = await database.db.selectFrom('jobs').select('issue_github_id').execute();
      assert.equal(jobs.length, COUNT, 'every one is queued for an answer');
      const lists = sim.requests.filter((request) => request.path === ISSUES_PATH);
      // Page 1 of everything, then the instant's three pages walked twice (the second walk proves nothing slid by).
      assert.deepEqual(
        lists.map((request) => `${request.query.since ?? '-'} p${request.query.page ?? '1'} ${request.status}`),
        ['- p1 200', ...[1, 2, 3, 1, 2, 3].map((page) => `${AT} p${page} 200`)],
      );

      sim.clearRequests();
      await poller.work(new AbortController().signal, partition);
      assert.deepEqual(
        sim.requests.map((request) => request.status),
        [304],
        'caught up: the next pass repeats the last page with its ETag',
      );
    });
  });
}
