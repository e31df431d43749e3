/**
 * Issues saved per second through the issue-sync store's save() (10,000 issues
 * in batches of 100, each batch with its cursor and jobs), next to a raw
 * better-sqlite3 insert of the same rows measured in the same run.
 * Target: save() at least 0.5 of raw.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import type { Issue } from '../src/domain/entities.js';
import { openDatabase, SchemaMigrator, SqlIssueSyncStore, SqlRepositoryStore } from '../src/infra/store/index.js';

const TOTAL = 10_000;
const BATCH = 100;

function makeIssues(offset: number): Issue[] {
  return Array.from({ length: TOTAL }, (_, i) => ({
    githubId: offset + i + 1,
    number: i + 1,
    title: `Issue number ${i + 1}: something is broken in module ${i % 37}`,
    body: `Steps to reproduce:\n1. do this\n2. do that\n\nExpected: it works. Actual: it does not (${i}).`,
    state: i % 5 === 0 ? 'closed' : 'open',
    isPullRequest: i % 11 === 0,
    labels: i % 2 === 0 ? ['bug', 'autosolve'] : ['question'],
    author: `user${i % 50}`,
    htmlUrl: `https://github.com/acme/api/issues/${i + 1}`,
    commentsCount: i % 4,
    createdAt: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(),
    updatedAt: new Date(Date.UTC(2025, 6, 1) + i * 1000).toISOString(),
  }));
}

async function viaSave(dir: string): Promise<number> {
  const database = await openDatabase(join(dir, 'save.db'));
  await new SchemaMigrator(database.db, database.path).up();
  const repo = await new SqlRepositoryStore(database.db).record(
    { owner: 'acme', name: 'api' },
    { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' },
  );
  const store = new SqlIssueSyncStore(database.db, { maxAttempts: 5 });
  const issues = makeIssues(0);
  const start = performance.now();
  for (let i = 0; i < TOTAL; i += BATCH) {
    const batch = issues.slice(i, i + BATCH);
    const jobs = batch.filter((x) => x.state === 'open' && !x.isPullRequest).map((x) => ({ type: 'dispatch', issueGithubId: x.githubId }));
    const last = batch[batch.length - 1];
    await store.save(repo, batch, { since: last?.updatedAt ?? null, page: 1, etag: null }, jobs);
  }
  const seconds = (performance.now() - start) / 1000;
  await database.close();
  return TOTAL / seconds;
}

async function viaRaw(dir: string): Promise<number> {
  // Same schema (real migrations), hand-written prepared statements.
  const database = await openDatabase(join(dir, 'raw.db'));
  await new SchemaMigrator(database.db, database.path).up();
  await database.close();
  const sqlite = new BetterSqlite3(join(dir, 'raw.db'));
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.prepare(`INSERT INTO repositories (owner, name, github_id, created_at) VALUES ('acme', 'api', 1, 'now')`).run();
  const insertIssue = sqlite.prepare(
    `INSERT INTO issues (github_id, repository_id, number, title, body, state, is_pull_request, labels, author, html_url, comments_count, created_at, updated_at, synced_at)
     VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertJob = sqlite.prepare(
    `INSERT INTO jobs (type, repository_id, issue_github_id, state, attempts, max_attempts, run_after, payload, created_at, updated_at)
     VALUES ('dispatch', 1, ?, 'pending', 0, 5, ?, '{}', ?, ?)`,
  );
  const upsertCursor = sqlite.prepare(
    `INSERT INTO sync_cursors (repository_id, topic, since, page, etag, updated_at) VALUES (1, 'issues', ?, 1, NULL, ?)
     ON CONFLICT (repository_id, topic) DO UPDATE SET since = excluded.since, updated_at = excluded.updated_at`,
  );
  const saveBatch = sqlite.transaction((batch: Issue[], now: string) => {
    for (const x of batch) {
      insertIssue.run(x.githubId, x.number, x.title, x.body, x.state, x.isPullRequest ? 1 : 0, JSON.stringify(x.labels), x.author, x.htmlUrl, x.commentsCount, x.createdAt, x.updatedAt, now);
      if (x.state === 'open' && !x.isPullRequest) insertJob.run(x.githubId, now, now, now);
    }
    upsertCursor.run(batch[batch.length - 1]?.updatedAt ?? null, now);
  });
  const issues = makeIssues(0);
  const start = performance.now();
  for (let i = 0; i < TOTAL; i += BATCH) saveBatch(issues.slice(i, i + BATCH), new Date().toISOString());
  const seconds = (performance.now() - start) / 1000;
  sqlite.close();
  return TOTAL / seconds;
}

const ROUNDS = 3;
const dir = mkdtempSync(join(tmpdir(), 'autosolve-bench-store-'));
try {
  // Alternate the two, several rounds, and keep each one's best: the machine
  // is shared, and a noisy neighbour should not decide the ratio.
  let raw = 0;
  let save = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const roundDir = join(dir, String(round));
    mkdirSync(roundDir);
    raw = Math.max(raw, await viaRaw(roundDir));
    save = Math.max(save, await viaSave(roundDir));
  }
  const ratio = save / raw;
  console.log(`issues: ${TOTAL} in batches of ${BATCH}, each batch with its cursor and jobs; best of ${ROUNDS} rounds`);
  console.log(`raw better-sqlite3 : ${raw.toFixed(0).padStart(8)} issues/s`);
  console.log(`store save()       : ${save.toFixed(0).padStart(8)} issues/s`);
  console.log(`ratio              : ${ratio.toFixed(2)} (target >= 0.50) ${ratio >= 0.5 ? 'OK' : 'BELOW TARGET'}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
