/**
 * github.issues.backlog through the CLI: what a repository's first sync queues,
 * and how changing the key later applies to what is still unanswered.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { ANSWER_JOB } from '../src/domain/eligibility.js';
import { SchemaMigrator, SqlBacklogStore, SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore } from '../src/infra/store/index.js';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir, writeFile } from './support/cli.js';
import { backlog, daemonConfig, inspectDatabase, simulator } from './support/daemon.js';
import { testEngines } from './support/engines.js';
import { issue } from './support/issues.js';

const DAY = 86_400_000;

function commented(sim: Simulator, owner = 'acme', name = 'api'): number[] {
  return sim.issues(owner, name).filter((i) => sim.comments(owner, name, i.number).length > 0).map((i) => i.number);
}

function outcomes(database: string): Array<[number, string, string | null]> {
  return inspectDatabase(database, (db) =>
    (db.prepare('SELECT i.number, j.state, j.outcome FROM jobs j JOIN issues i ON i.github_id = j.issue_github_id ORDER BY i.number, j.id').all() as Array<{
      number: number;
      state: string;
      outcome: string | null;
    }>).map((r): [number, string, string | null] => [r.number, r.state, r.outcome]),
  );
}

function isoDaysAgo(days: number): string {
  return new Date(Date.now() - days * DAY).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A command executor that fails every attempt while `fail` exists in dir, and answers otherwise. */
function switchableCommand(dir: string): string[] {
  const script = writeFile(
    dir,
    'executor.cjs',
    `const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
if (fs.existsSync(${JSON.stringify(join(dir, 'fail'))})) { process.stderr.write('model crashed\\n'); process.exit(3); }
process.stdout.write('Answer for #' + input.number);
`,
  );
  return [process.execPath, script];
}

// The CLI on an SQLite file, as a first installation runs it; the store's part runs on each engine below.
describe('github.issues.backlog (CLI)', () => {
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

  const run = async (config: { file: string }) => {
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    return result;
  };

  it('without a required label, the first sync records the history, answers none of it, says so, and answers what is new', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: backlog(3) }]);
    const config = daemonConfig(dir.path, sim, ['acme/api']);
    const first = await run(config);
    assert.deepEqual(commented(sim), [], 'no old issue answered');
    assert.equal(inspectDatabase(config.database, (db) => (db.prepare('SELECT count(*) AS n FROM issues').get() as { n: number }).n), 3, 'recorded');
    assert.match(
      first.stdout,
      /3 issues older than \S+ skipped as backlog \(github\.issues\.backlog: skip\); set github\.issues\.backlog: answer or 7d to answer them/,
    );

    sim.addIssue('acme', 'api', { title: 'Asked after the first sync' });
    const second = await run(config);
    assert.deepEqual(commented(sim), [4]);
    assert.doesNotMatch(second.stdout, /skipped as backlog/, 'the notice is for the first sync only');

    const status = await runCli(['status', '--config', config.file], { cwd: dir.path });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^ {2}backlog 3 skipped: last updated before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    assert.match(status.stdout, /^backlog {5}3 issues skipped as backlog \(github\.issues\.backlog: skip\)\n {12}set github\.issues\.backlog: answer or 7d to answer them$/m);
    const json = JSON.parse((await runCli(['status', '--json', '--config', config.file], { cwd: dir.path })).stdout);
    assert.deepEqual(json.backlog, { key: 'github.issues.backlog', policy: 'skip', skipped: 3 });
    assert.equal(json.repositories[0].backlog.skipped, 3);
    assert.equal(json.repositories[0].backlog.cutoff, json.repositories[0].backlog.firstSyncAt);
  });

  it('an old issue that changes after the first sync is answered', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: backlog(2) }]);
    const config = daemonConfig(dir.path, sim, ['acme/api']);
    await run(config);
    sim.addComment('acme', 'api', 2, { body: 'still broken on 2.0' });
    await run(config);
    assert.deepEqual(commented(sim).map((n) => [n, sim!.comments('acme', 'api', n).length]), [[2, 2]]);
  });

  it('with a required label the default is answer: every labelled issue was asked for', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [...backlog(2, { labels: ['autosolve'] }), { title: 'unlabelled', createdAt: isoDaysAgo(400) }] }]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { requiredLabel: 'autosolve' } } });
    const first = await run(config);
    assert.deepEqual(commented(sim), [1, 2]);
    assert.doesNotMatch(first.stdout, /skipped as backlog/);
  });

  it('a duration answers the issues updated within it before the first sync, and no older ones', async () => {
    sim = await simulator([
      {
        owner: 'acme',
        name: 'api',
        issues: [
          { title: 'ten days old', createdAt: isoDaysAgo(10) },
          { title: 'two days old', createdAt: isoDaysAgo(2) },
          { title: 'eight days old', createdAt: isoDaysAgo(8) },
        ],
      },
    ]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { backlog: '7d' } } });
    const first = await run(config);
    assert.deepEqual(commented(sim), [2]);
    assert.match(first.stdout, /2 issues older than \S+ skipped as backlog \(github\.issues\.backlog: 7d\); set github\.issues\.backlog: answer or a longer duration/);
  });

  it('widening the key later answers what is still unanswered, without any issue changing', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'old', createdAt: isoDaysAgo(30) }, { title: 'older', createdAt: isoDaysAgo(3) }] }]);
    const skip = daemonConfig(dir.path, sim, ['acme/api']);
    await run(skip);
    assert.deepEqual(commented(sim), []);

    const week = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { backlog: '7d' } } });
    await run(week);
    assert.deepEqual(commented(sim), [2], 'only the issue inside the wider window');

    const all = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { backlog: 'answer' } } });
    await run(all);
    assert.deepEqual(commented(sim), [1, 2]);
    await run(all);
    assert.deepEqual(commented(sim).map((n) => sim!.comments('acme', 'api', n).length), [1, 1], 'answered once each');
    const status = JSON.parse((await runCli(['status', '--json', '--config', all.file], { cwd: dir.path })).stdout);
    assert.equal(status.backlog.skipped, 0);
  });

  it('narrowing the key later settles the pending jobs of issues now outside it, unanswered, and widening brings them back', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: backlog(2) }]);
    const command = switchableCommand(dir.path);
    // A long retry delay keeps the failed jobs pending across runs.
    const ai = { provider: 'command', command: { run: command }, retryDelay: '1h' };
    writeFile(dir.path, 'fail', '');
    const answer = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { backlog: 'answer' } }, ai });
    await run(answer);
    assert.deepEqual(
      outcomes(answer.database).map(([n, state]) => [n, state]),
      [[1, 'pending'], [2, 'pending']],
      'the failing executor left both jobs waiting for a retry',
    );

    rmSync(join(dir.path, 'fail'));
    const skip = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { backlog: 'skip' } }, ai });
    await run(skip);
    assert.deepEqual(commented(sim), [], 'nothing answered once the issues are outside the window');
    assert.deepEqual(outcomes(skip.database), [[1, 'done', 'backlog'], [2, 'done', 'backlog']]);
    const status = JSON.parse((await runCli(['status', '--json', '--config', skip.file], { cwd: dir.path })).stdout);
    assert.equal(status.backlog.skipped, 2, 'status counts them as backlog');

    await run(daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { backlog: 'answer' } }, ai }));
    assert.deepEqual(commented(sim), [1, 2], 'a backlog outcome does not count as handled');
  });
});

describe('the demo summary and github.issues.backlog', () => {
  it('says how many issues were left out as backlog and which key changes it', async () => {
    const { renderSummary } = await import('../src/cli/demo-report.js');
    const row = { repository: 'demo/api', synced: 5, eligible: 2, answered: 2, alreadyAnswered: 0, backlog: 3, comments: 2 };
    const text = renderSummary(
      { rows: [row], examples: [], skipped: [], problems: [], backlogPolicy: 'skip' },
      { database: 'a.db', config: 'c.yml', log: 'd.log', requiredLabel: 'autosolve', elapsedMs: 1000 },
    );
    assert.match(text, /^ {2}backlog: {2}3 left out as older than the first sync \(github\.issues\.backlog: skip\)\n {12}set github\.issues\.backlog: answer or 7d to answer them$/m);
  });
});

for (const engine of await testEngines()) {
  describe(`upgrading a database to the first sync time on ${engine.name}`, { skip: engine.skip }, () => {
    it('a repository polled before the upgrade keeps the time it was first recorded; one never polled gets its own first sync later', async () => {
      const { database, cleanup } = await engine.fresh();
      try {
        const migrator = new SchemaMigrator(database.db, database.path);
        // Back to the schema before 003 (and any later migration), as an older build left it.
        while ((await migrator.status()).some((m) => m.name === '003-backlog' && m.executedAt !== null)) await migrator.down();
        await sql`INSERT INTO repositories (owner, name, github_id, validated_at, created_at) VALUES
          ('acme', 'polled', 1, '2026-01-02T00:00:00.000Z', '2026-01-01T00:00:00.000Z'),
          ('acme', 'fresh', 2, '2026-01-02T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`.execute(database.db);
        await sql`INSERT INTO sync_cursors (repository_id, topic, page, updated_at) SELECT id, 'issues', 1, '2026-01-01T00:05:00.000Z' FROM repositories WHERE name = 'polled'`.execute(database.db);
        await migrator.up();
        const rows = await database.db.selectFrom('repositories').select(['name', 'first_synced_at']).orderBy('name').execute();
        assert.deepEqual(rows, [
          { name: 'fresh', first_synced_at: null },
          { name: 'polled', first_synced_at: '2026-01-01T00:00:00.000Z' },
        ]);
      } finally {
        await cleanup();
      }
    });
  });
}

for (const engine of await testEngines()) {
  describe(`the backlog reconciler's store on ${engine.name}`, { skip: engine.skip }, () => {
    it('lists what is still unanswered with its latest job, settles pending jobs as backlog and enqueues again', async () => {
      const { database, cleanup } = await engine.fresh();
      try {
        const repo = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
        const other = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'web' }, { githubId: 2, owner: 'acme', name: 'web', private: false, htmlUrl: '' });
        const sync = new SqlIssueSyncStore(database.db, { maxAttempts: 3 });
        const cursor = { since: null, page: 1, etag: null };
        const issues = [issue(1), issue(2, { isPullRequest: true }), issue(3, { state: 'closed' }), issue(4), issue(5), issue(6), issue(7)];
        await sync.save(repo, issues, cursor, [1, 4, 5, 7].map((id) => ({ type: ANSWER_JOB, issueGithubId: id })));
        await sync.save(other, [issue(8)], cursor, []);
        const queue = new SqlJobQueue(database.db);
        const outcomes = new Map<number, 'answered' | 'not-eligible'>([[1, 'answered'], [4, 'not-eligible']]);
        for (const job of await queue.claim(ANSWER_JOB, 10, 60_000)) {
          const outcome = outcomes.get(job.issueGithubId);
          if (outcome) await queue.complete(job, { outcome });
          else if (job.issueGithubId === 7) await queue.fail({ ...job, attempts: job.maxAttempts }, 'exit 1');
          else await queue.release(job, 0);
        }
        const store = new SqlBacklogStore(database.db);
        const unanswered = async () => (await store.unanswered(repo)).map((u) => [u.issue.number, u.latestJob?.state ?? null, u.latestJob?.outcome ?? null]);
        assert.deepEqual(await unanswered(), [[4, 'done', 'not-eligible'], [6, null, null], [7, 'dead', null]], 'open issues with no live job and not answered, in number order');

        const pending = await store.pending(repo);
        assert.deepEqual(pending.map((p) => p.issue.number), [5]);
        const done = (await database.db.selectFrom('jobs').select('id').where('issue_github_id', '=', 4).executeTakeFirstOrThrow()).id;
        assert.equal(await store.settleAsBacklog([pending[0]!.jobId, done]), 1, 'only a pending job is settled');
        assert.deepEqual(await unanswered(), [[4, 'done', 'not-eligible'], [5, 'done', 'backlog'], [6, null, null], [7, 'dead', null]]);

        assert.equal(await store.enqueue(repo, [4, 5, 6]), 3);
        assert.equal(await store.enqueue(repo, [4, 7]), 1, 'a live job absorbs a second');
        assert.deepEqual(await unanswered(), []);
        assert.deepEqual((await store.pending(repo)).map((p) => p.issue.number), [4, 5, 6, 7]);
      } finally {
        await cleanup();
      }
    });
  });
}
