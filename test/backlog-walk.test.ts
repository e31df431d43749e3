/**
 * The issue poller's walk over runs of identical `updated_at` values, against
 * the simulator (offset pages sliced at request time, so edits between page
 * requests shift pages as on GitHub), the real client and a real SQLite file.
 * Edits are random but seeded: a failure names its seed and replays exactly.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Partition } from '../src/domain/entities.js';
import type { Log } from '../src/domain/ports.js';
import { issuePoller, type IssuePollerDeps } from '../src/domain/tasks/repository/issue-poller.js';
import { GitHubClient } from '../src/infra/github/index.js';
import { SqlIssueSyncStore, SqlRepositoryStore, type Database } from '../src/infra/store/index.js';
import { startSimulator, type SimIssueInput, type Simulator } from '../src/simulator/index.js';
import { freshDatabase } from './support/store.js';

const TOKEN = 'walk-test-token';
const OWNER = 'acme';
const NAME = 'api';
const ISSUES_PATH = `/repos/${OWNER}/${NAME}/issues`;

/** The instant every issue of the run shares. */
const RUN_AT = Date.UTC(2025, 5, 1, 12, 0, 0);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** mulberry32: a small seeded generator, so every run of a seed edits the same issues at the same moments. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Issues before the run, the run of `runLength` at RUN_AT, and issues after it. */
function backlogWithRun(before: number, runLength: number, after: number): SimIssueInput[] {
  const at = (ms: number) => ({ createdAt: iso(ms), updatedAt: iso(ms) });
  return [
    ...Array.from({ length: before }, (_, i) => ({ title: `before ${i}`, ...at(RUN_AT - (before - i) * 60_000) })),
    ...Array.from({ length: runLength }, (_, i) => ({ title: `run ${i}`, ...at(RUN_AT) })),
    ...Array.from({ length: after }, (_, i) => ({ title: `after ${i}`, ...at(RUN_AT + (i + 1) * 60_000) })),
  ];
}

interface Setup {
  readonly sim: Simulator;
  readonly database: Database;
  readonly partition: Partition;
  readonly clock: { now: number };
  readonly warnings: string[];
  deps(overrides?: Partial<IssuePollerDeps>): IssuePollerDeps;
}

async function setUp(issues: SimIssueInput[]): Promise<Setup> {
  const clock = { now: RUN_AT + 86_400_000 };
  const sim = await startSimulator({ tokens: [TOKEN], now: () => clock.now, scenario: { repositories: [{ owner: OWNER, name: NAME, issues }] } });
  cleanups.push(() => sim.close());
  const { database, cleanup } = await freshDatabase();
  cleanups.push(cleanup);
  const github = new GitHubClient({ baseUrl: sim.url, token: TOKEN, timeoutMs: 10_000, userAgent: 'autosolve/test', throttle: { minIntervalMs: 0 } });
  const ref = { owner: OWNER, name: NAME };
  const repositoryId = await new SqlRepositoryStore(database.db).record(ref, await github.getRepository(ref, new AbortController().signal));
  const warnings: string[] = [];
  const log: Log = {
    debug: () => {},
    info: () => {},
    warn: (_fields, message) => warnings.push(message),
    error: (_fields, message) => warnings.push(message),
    child: () => log,
  };
  const store = new SqlIssueSyncStore(database.db, { maxAttempts: 3 });
  return {
    sim,
    database,
    partition: { ...ref, repositoryId },
    clock,
    warnings,
    deps: (overrides = {}) => ({ github, store, interval: 60_000, requiredLabel: 'nobody-uses-this', backlog: 'answer' as const, log, ...overrides }),
  };
}

async function storedIssues(database: Database): Promise<Map<number, { title: string; updated_at: string }>> {
  const rows = await database.db.selectFrom('issues').select(['number', 'title', 'updated_at']).execute();
  return new Map(rows.map((row) => [row.number, row]));
}

async function assertEveryIssueStoredAtItsLatest(setup: Setup, context: string): Promise<void> {
  const stored = await storedIssues(setup.database);
  const truth = setup.sim.issues(OWNER, NAME);
  const missing = truth.filter((issue) => stored.get(issue.number) === undefined).map((issue) => issue.number);
  assert.deepEqual(missing, [], `${context}: issues never stored`);
  const stale = truth
    .filter((issue) => stored.get(issue.number)?.updated_at !== issue.updatedAt || stored.get(issue.number)?.title !== issue.title)
    .map((issue) => issue.number);
  assert.deepEqual(stale, [], `${context}: issues stored with an older version`);
}

void describe('walking runs of identical updated_at values', () => {
  // 12 seeds, runs of 150-500 issues at one instant; during the first page
  // requests, issues (mostly of the run, read or not yet read) are edited, so
  // pages shift under the walk exactly as they do on GitHub.
  for (let seed = 1; seed <= 12; seed++) {
    void it(`stores every issue with its latest version when issues change during the walk (seed ${seed})`, async () => {
      const rand = random(seed);
      const runLength = 150 + Math.floor(rand() * 351);
      const before = Math.floor(rand() * 150);
      const after = Math.floor(rand() * 60);
      const setup = await setUp(backlogWithRun(before, runLength, after));
      const total = before + runLength + after;
      const editedRequests = 4 + Math.floor(rand() * 10);
      let listed = 0;
      setup.sim.onRequest((request) => {
        if (request.path !== ISSUES_PATH || request.status !== 200) return;
        listed++;
        if (listed > editedRequests) return;
        const edits = 1 + Math.floor(rand() * 4);
        for (let e = 0; e < edits; e++) {
          // Mostly issues of the run; sometimes any issue. Numbers are 1-based in seed order.
          const number = rand() < 0.8 ? before + 1 + Math.floor(rand() * runLength) : 1 + Math.floor(rand() * total);
          // Some edits share a second with the one before, so small new runs form too.
          if (rand() < 0.7) setup.clock.now += 1000;
          setup.sim.updateIssue(OWNER, NAME, number, { title: `edited by seed ${seed}, edit ${listed}.${e}` });
        }
      });

      await issuePoller(setup.deps()).work(new AbortController().signal, setup.partition);

      await assertEveryIssueStoredAtItsLatest(setup, `seed ${seed}, run of ${runLength}`);
    });
  }

  void it('walks a run of identical updated_at values twice when nothing changes, then catches up for free', async () => {
    const setup = await setUp(backlogWithRun(20, 250, 10));
    await issuePoller(setup.deps()).work(new AbortController().signal, setup.partition);
    await assertEveryIssueStoredAtItsLatest(setup, 'quiet run');
    const lists = setup.sim.requests.filter((r) => r.path === ISSUES_PATH);
    // Page 1 (all 280, since none), then since=RUN_AT: pages 1-3 walked twice.
    assert.equal(lists.length, 7, lists.map((r) => `${r.query.since ?? '-'} p${r.query.page}`).join(', '));

    setup.sim.clearRequests();
    await issuePoller(setup.deps()).work(new AbortController().signal, setup.partition);
    assert.deepEqual(setup.sim.requests.map((r) => r.status), [304]);
  });

  void it('restarts an interrupted run of identical updated_at values from its first page', async () => {
    const setup = await setUp(backlogWithRun(0, 450, 0));
    const abort = new AbortController();
    setup.sim.onRequest((request) => {
      // Stop the pass once the walk is deep inside the run.
      if (request.path === ISSUES_PATH && request.query.page === '3') abort.abort();
    });
    await assert.rejects(issuePoller(setup.deps()).work(abort.signal, setup.partition));
    const cursor = await new SqlIssueSyncStore(setup.database.db, { maxAttempts: 3 }).cursor(setup.partition.repositoryId);
    assert.deepEqual(cursor, { since: iso(RUN_AT), page: 1, etag: null });
  });
});
