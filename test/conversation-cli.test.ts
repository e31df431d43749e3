/**
 * `jobs list`, `jobs show`, `jobs retry` and `status` once the queue holds more
 * than answers: revise jobs and follow-ups (issue 12), each shown with its type,
 * a follow-up with the comment it is about, and the new outcomes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ANSWER_JOB, FOLLOW_UP_JOB, REVISE_JOB } from '../src/domain/eligibility.js';
import { openDatabase, SchemaMigrator, SqlCommentSyncStore, SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore } from '../src/infra/store/index.js';
import { runCli, tempDir, writeFile } from './support/cli.js';
import { issue } from './support/issues.js';

const MENTION = 2_345_678_901;

interface Built {
  readonly reviseId: number;
  readonly followUpId: number;
  readonly deadReviseId: number;
}

/** acme/api#1 answered, then edited twice (one revision done, one dead); a mention on it waiting for its follow-up. */
async function buildDatabase(path: string): Promise<Built> {
  const database = await openDatabase(path);
  try {
    await new SchemaMigrator(database.db, database.path).up();
    const api = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
    const sync = new SqlIssueSyncStore(database.db, { maxAttempts: 2, reanalyze: true });
    const queue = new SqlJobQueue(database.db, { retryDelayMs: 0 });
    const cursor = { since: null, page: 1, etag: null };
    const base = issue(1, { title: 'Proxy settings ignored' });
    await sync.save(api, [base], cursor, [{ type: ANSWER_JOB, issueGithubId: 1 }]);
    for (const job of await queue.claim(ANSWER_JOB, 1, 60_000)) await queue.complete(job, { outcome: 'answered', commentUrl: 'https://github.com/acme/api/issues/1#issuecomment-7' });
    await sync.save(api, [{ ...base, body: 'edited once', updatedAt: '2026-02-01T00:00:00Z' }], cursor, []);
    const [revise] = await queue.claim(REVISE_JOB, 1, 60_000);
    await queue.complete(revise!, { outcome: 'revised', commentUrl: 'https://github.com/acme/api/issues/1#issuecomment-7' });
    await sync.save(api, [{ ...base, body: 'edited twice', updatedAt: '2026-02-02T00:00:00Z' }], cursor, []);
    const [dead] = await queue.claim(REVISE_JOB, 1, 60_000);
    await queue.fail({ ...dead!, attempts: dead!.maxAttempts }, 'command exited 1');
    await new SqlCommentSyncStore(database.db, { maxAttempts: 2 }).save(api, cursor, [{ type: FOLLOW_UP_JOB, issueGithubId: 1, subjectId: MENTION }]);
    const followUp = (await queue.list({ state: 'pending' }))[0];
    return { reviseId: revise!.id, followUpId: followUp!.id, deadReviseId: dead!.id };
  } finally {
    await database.close();
  }
}

describe('jobs and status with revisions and follow-ups (CLI)', () => {
  let dir: { path: string; cleanup: () => void };
  let built: Built;
  let config: string;
  const cli = (...args: string[]) => runCli([...args, '--config', config], { cwd: dir.path });

  before(async () => {
    dir = tempDir();
    built = await buildDatabase(join(dir.path, 'data/autosolve.db'));
    config = writeFile(dir.path, 'config.yml', ['database:', '  sqlitePath: data/autosolve.db', 'github:', '  repositories:', '    - { owner: acme, name: api }', ''].join('\n'));
  });
  after(() => dir.cleanup());

  it('jobs list says what each job does unless it answers, and the comment a follow-up is about', async () => {
    const listed = await cli('jobs', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    assert.match(header ?? '', /^\s*ID\s+STATE\s+OUTCOME\s+TRIES\s+WHEN\s+ISSUE\s+TITLE \/ LAST ERROR$/);
    assert.match(rows[0] ?? '', new RegExp(`^\\s*${built.followUpId}\\s+pending\\s+-\\s+0/2\\s+now\\s+acme/api#1\\s+comment ${MENTION}: Proxy`), 'the comment first, the title as far as it fits');
    assert.match(rows[1] ?? '', new RegExp(`^\\s*${built.deadReviseId}\\s+dead\\s+-\\s+1/2\\s.*\\sacme/api#1\\s+revise: command exited 1$`));
    assert.match(rows[2] ?? '', new RegExp(`^\\s*${built.reviseId}\\s+done\\s+revised\\s+1/2\\s.*\\sacme/api#1\\s+revise: Proxy settings`));
    assert.match(rows[3] ?? '', /^\s*\d+\s+done\s+answered\s+1\/2\s.*\sacme\/api#1\s+Proxy settings ignored$/);
    for (const line of listed.stdout.split('\n')) assert.ok([...line].length <= 80, `too wide: ${line}`);
    const json = JSON.parse((await cli('jobs', 'list', '--json')).stdout) as Array<{ type: string; subjectId: number }>;
    assert.deepEqual(json.map((j) => [j.type, j.subjectId]), [[FOLLOW_UP_JOB, MENTION], [REVISE_JOB, 0], [REVISE_JOB, 0], [ANSWER_JOB, 0]]);
  });

  it('jobs show names the comment a follow-up is about; an issue’s own job has no subject line', async () => {
    const shown = await cli('jobs', 'show', String(built.followUpId));
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^ {2}type {8}follow-up$/m);
    assert.match(shown.stdout, new RegExp(`^ {2}subject {5}comment ${MENTION}$`, 'm'));
    const revise = await cli('jobs', 'show', String(built.reviseId));
    assert.match(revise.stdout, /^ {2}type {8}revise$/m);
    assert.match(revise.stdout, /^ {2}outcome {5}revised$/m);
    assert.doesNotMatch(revise.stdout, /subject/);
    assert.equal(JSON.parse((await cli('jobs', 'show', String(built.followUpId), '--json')).stdout).subjectId, MENTION);
  });

  it('jobs retry: a dead revise comes back as a revise; revised and skipped are not retried, with the reason', async () => {
    const retried = await cli('jobs', 'retry', String(built.deadReviseId));
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(retried.stdout, `queue job ${built.deadReviseId} (acme/api#1, revise): dead → pending, attempts 1/2 → 0/2, visible now\n`);
    const revised = await cli('jobs', 'retry', '--outcome', 'revised');
    assert.equal(revised.code, 2);
    assert.match(revised.stderr, /--outcome revised: those revisions are done; the next edit of the issue's title or body revises its answer again/);
    const skipped = await cli('jobs', 'retry', '--outcome', 'skipped');
    assert.equal(skipped.code, 2);
    assert.match(skipped.stderr, /--outcome skipped: a rule .* decided those/);
    const done = await cli('jobs', 'retry', String(built.reviseId));
    assert.equal(done.code, 1);
    assert.match(done.stderr, new RegExp(`queue job ${built.reviseId} is done \\(outcome revised\\)`));
  });

  it('status counts the queue by type, in the table and in --json', async () => {
    const status = await cli('status');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^ {12}by type: 1 answer, 1 follow-up \(1 pending\), 2 revise( \(1 pending\))?$/m);
    const json = JSON.parse((await cli('status', '--json')).stdout);
    assert.deepEqual(Object.keys(json.queueByType), [ANSWER_JOB, FOLLOW_UP_JOB, REVISE_JOB]);
    assert.equal(json.queueByType[FOLLOW_UP_JOB].pending, 1);
    assert.deepEqual(json.latestComments.map((c: { type: string }) => c.type), [ANSWER_JOB]);
  });
});
