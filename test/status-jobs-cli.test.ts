import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  openDatabase,
  RATE_LIMIT_STATE_KEY,
  SchemaMigrator,
  SqlIssueSyncStore,
  SqlJobQueue,
  SqlRepositoryStore,
  SqlStateStore,
} from '../src/infra/store/index.js';
import { runCli, tempDir, writeFile } from './support/cli.js';
import { issue } from './support/issues.js';

// The daemon's job type: `jobs list` adds a TYPE column once another type is listed.
const DISPATCH = 'answer';
const LONG_ERROR = `GitHub answered 502 Bad Gateway for GET /repos/acme/web/issues ${'(the upstream proxy timed out) '.repeat(8)}`;
const COMMENT_URL = 'https://github.com/acme/api/issues/1#issuecomment-77';

interface Built {
  readonly deadId: number;
  readonly doneId: number;
  readonly runningId: number;
  readonly pendingId: number;
}

/** A database as a daemon would leave it: the real migrations and stores, times relative to now. */
async function buildDatabase(path: string): Promise<Built> {
  const database = await openDatabase(path);
  try {
    await new SchemaMigrator(database.db, database.path).up();
    const ago = (ms: number) => () => new Date(Date.now() - ms);
    const repos = new SqlRepositoryStore(database.db, ago(600_000));
    const api = await repos.record({ owner: 'acme', name: 'api' }, { githubId: 9001, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
    const web = await repos.record({ owner: 'acme', name: 'web' }, { githubId: 9002, owner: 'acme', name: 'web', private: false, htmlUrl: '' });
    // acme/old was validated once and is no longer configured.
    await repos.record({ owner: 'acme', name: 'old' }, { githubId: 9003, owner: 'acme', name: 'old', private: false, htmlUrl: '' });

    const sync = new SqlIssueSyncStore(database.db, { maxAttempts: 2, now: ago(240_000) });
    const cursor = { since: '2026-05-31T23:00:00Z', page: 2, etag: 'W/"abc123"' };
    const jobFor = (githubId: number) => ({ type: DISPATCH, issueGithubId: githubId });

    // The job that will die goes in alone, so the claims below take exactly it.
    await sync.save(api, [issue(102, { number: 2, title: 'Crashes on start' })], cursor, [jobFor(102)]);
    const queue = new SqlJobQueue(database.db, { retryDelayMs: 0 });
    let deadId = 0;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const [job] = await queue.claim(DISPATCH, 1, 60_000);
      assert.ok(job, 'the job is claimable');
      deadId = job.id;
      await queue.fail(job, `command exited 1 (attempt ${attempt})\nstderr: boom`);
    }

    const more = [
      issue(101, { number: 1, title: 'How do I configure the proxy?' }),
      issue(103, { number: 3, title: 'Docs typo' }),
      issue(104, { number: 4, title: 'Slow startup' }),
      issue(105, { number: 5, title: 'Old closed issue', state: 'closed' }),
    ];
    await sync.save(api, more, cursor, [jobFor(101), jobFor(103), jobFor(104)]);
    const [answered] = await queue.claim(DISPATCH, 1, 60_000);
    assert.ok(answered);
    await queue.complete(answered, { outcome: 'answered', commentUrl: COMMENT_URL });
    const [running] = await queue.claim(DISPATCH, 1, 3_600_000);
    assert.ok(running);
    const pending = (await queue.list({ state: 'pending' }))[0];
    assert.ok(pending);

    await new SqlIssueSyncStore(database.db, { maxAttempts: 2, now: ago(180_000) }).recordPoll(api, { ok: true });
    await new SqlIssueSyncStore(database.db, { maxAttempts: 2, now: ago(900_000) }).recordPoll(web, { ok: true });
    await new SqlIssueSyncStore(database.db, { maxAttempts: 2, now: ago(120_000) }).recordPoll(web, { ok: false, error: LONG_ERROR });

    const resetAt = Math.floor(Date.now() / 1000) + 41 * 60 + 30;
    await new SqlStateStore(database.db).put(RATE_LIMIT_STATE_KEY, { limit: 5000, remaining: 4873, resetAt, resource: 'core' });
    return { deadId, doneId: answered.id, runningId: running.id, pendingId: pending.id };
  } finally {
    await database.close();
  }
}

describe('status and jobs (CLI)', () => {
  let dir: { path: string; cleanup: () => void };
  let built: Built;
  let config: string;
  const cli = (...args: string[]) => runCli([...args, '--config', config], { cwd: dir.path });

  before(async () => {
    dir = tempDir();
    built = await buildDatabase(join(dir.path, 'data/autosolve.db'));
    config = writeFile(
      dir.path,
      'config.yml',
      [
        'database:',
        '  sqlitePath: data/autosolve.db',
        'github:',
        '  repositories:',
        '    - { owner: acme, name: api }',
        '    - { owner: acme, name: web }',
        '    - { owner: acme, name: new }',
        '',
      ].join('\n'),
    );
  });
  after(() => dir.cleanup());

  it('status: one row per repository within 80 columns, the cursor below it, the failed poll, the budget and the queue', async () => {
    const result = await cli('status');
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.equal(lines[0], `database    ${join(dir.path, 'data/autosolve.db')}`);
    for (const line of lines.slice(1)) assert.ok([...line].length <= 80, `too wide: ${line}`);

    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `)) ?? assert.fail(`no row for ${name}:\n${result.stdout}`);
    // REPOSITORY VALID LAST-POLL ISSUES OPEN PEND RUN DONE DEAD
    assert.match(row('acme/api'), /^acme\/api\s+✓\s+3m ago\s+5\s+4\s+1\s+1\s+1\s+1$/);
    assert.match(row('acme/web'), /^acme\/web\s+✓\s+15m ago\s+0\s+0\s+0\s+0\s+0\s+0$/);
    assert.match(row('acme/new'), /^acme\/new\s+✗\s+never\s+0\s+0/);
    const apiAt = lines.indexOf(row('acme/api'));
    assert.equal(lines[apiAt + 1], '  cursor  since 2026-05-31T23:00:00Z, page 2, etag W/"abc123"');
    const webAt = lines.indexOf(row('acme/web'));
    const errorLine = lines[webAt + 2] ?? '';
    assert.match(errorLine, /^ {2}error {3}2m ago: GitHub answered 502 Bad Gateway .*…$/, 'the long error is cut to fit');
    assert.match(lines[lines.indexOf(row('acme/new')) + 1] ?? '', /not validated yet/);
    assert.match(result.stdout, /acme\/old .*\n.*\n {2}\(no longer in the configuration\)/);

    assert.match(result.stdout, /^rate limit {2}4,873\/5,000 left, resets in 41m \(core, seen \d+s ago\)$/m);
    assert.match(result.stdout, /^queue {7}1 pending, 1 running, 1 done, 1 dead\n {12}`autosolve jobs list --state dead` shows the dead ones$/m);
  });

  it('status --json: every field, ISO times, configured repositories first', async () => {
    const result = await cli('status', '--json');
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout);
    assert.equal(status.database, join(dir.path, 'data/autosolve.db'));
    assert.deepEqual(
      status.repositories.map((r: { repository: string; configured: boolean; validated: boolean }) => [r.repository, r.configured, r.validated]),
      [
        ['acme/api', true, true],
        ['acme/web', true, true],
        ['acme/new', true, false],
        ['acme/old', false, true],
      ],
    );
    const [api, web, fresh] = status.repositories;
    assert.equal(api.githubId, 9001);
    assert.match(api.validatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(api.lastPollAgeSeconds >= 180 && api.lastPollAgeSeconds < 240, String(api.lastPollAgeSeconds));
    assert.equal(Date.parse(api.lastPolledAt) <= Date.now() - 180_000, true);
    assert.deepEqual(api.cursor, { since: '2026-05-31T23:00:00Z', page: 2, etag: 'W/"abc123"' });
    assert.deepEqual(api.issues, { stored: 5, open: 4 });
    assert.deepEqual(api.jobs, { pending: 1, running: 1, done: 1, dead: 1 });
    assert.equal(api.lastError, null);

    assert.equal(web.lastError, LONG_ERROR, 'JSON keeps the whole error');
    assert.match(web.lastErrorAt, /Z$/);
    assert.ok(web.lastPolledAt, 'a failed poll keeps the last successful one');
    assert.equal(web.cursor.page, 1);

    assert.equal(fresh.id, null);
    assert.equal(fresh.lastPolledAt, null);
    assert.equal(fresh.cursor, null);
    assert.deepEqual(fresh.jobs, { pending: 0, running: 0, done: 0, dead: 0 });

    assert.equal(status.rateLimit.limit, 5000);
    assert.equal(status.rateLimit.remaining, 4873);
    assert.equal(status.rateLimit.resource, 'core');
    assert.match(status.rateLimit.resetAt, /^\d{4}-.*Z$/);
    assert.ok(Math.abs(Date.parse(status.rateLimit.resetAt) - Date.now() - 2490_000) < 60_000);
    assert.match(status.rateLimit.seenAt, /Z$/);
    assert.deepEqual(status.queue, { pending: 1, running: 1, done: 1, dead: 1 });
    assert.deepEqual(
      status.latestComments.map((c: Record<string, unknown>) => [c.jobId, c.repository, c.issueNumber, c.issueTitle, c.commentUrl]),
      [[built.doneId, 'acme/api', 1, 'How do I configure the proxy?', COMMENT_URL]],
    );
  });

  it('jobs list --state dead, jobs show, then jobs retry brings the dead job back', async () => {
    const dead = await cli('jobs', 'list', '--state', 'dead');
    assert.equal(dead.code, 0, dead.stderr);
    const rows = dead.stdout.trimEnd().split('\n');
    assert.equal(rows.length, 2, dead.stdout);
    assert.match(rows[1] ?? '', new RegExp(`^\\s*${built.deadId}\\s+dead\\s+2/2\\s+\\S+ ago\\s+acme/api#2\\s+command exited 1 \\(attempt 2\\) stderr`), 'the error, on one line');

    const show = await cli('jobs', 'show', String(built.deadId));
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`^queue job ${built.deadId}$`, 'm'));
    assert.match(show.stdout, /^ {2}state {7}dead$/m);
    assert.match(show.stdout, /^ {2}repository {2}acme\/api$/m);
    assert.match(show.stdout, /^ {2}issue {7}#2 Crashes on start$/m);
    assert.match(show.stdout, /^ {2}attempts {4}2\/2$/m);
    assert.match(show.stdout, /^ {2}last error {2}command exited 1 \(attempt 2\)\n {14}stderr: boom$/m);
    assert.match(show.stdout, /^ {2}payload {5}\{\}$/m);
    const shown = JSON.parse((await cli('jobs', 'show', String(built.doneId), '--json')).stdout);
    assert.equal(shown.outcome, 'answered');
    assert.equal(shown.commentUrl, COMMENT_URL);

    const retry = await cli('jobs', 'retry', String(built.deadId));
    assert.equal(retry.code, 0, retry.stderr);
    assert.equal(retry.stdout, `queue job ${built.deadId} (acme/api#2): dead → pending, attempts 2/2 → 0/2, visible now\n`);

    const after = JSON.parse((await cli('jobs', 'list', '--state', 'pending', '--json')).stdout);
    const revived = after.find((j: { id: number }) => j.id === built.deadId);
    assert.ok(revived, 'listed as pending');
    assert.equal(revived.attempts, 0);
    assert.ok(Date.parse(revived.runAfter) <= Date.now(), 'visible now');
    assert.equal((await cli('jobs', 'list', '--state', 'dead')).stdout, 'no dead queue jobs\n');
  });

  it('jobs list: every state, a limit, fitting 80 columns', async () => {
    const all = await cli('jobs', 'list');
    assert.equal(all.code, 0, all.stderr);
    for (const line of all.stdout.split('\n')) assert.ok([...line].length <= 80, `too wide: ${line}`);
    for (const state of ['pending', 'running', 'done']) assert.match(all.stdout, new RegExp(`\\s${state}\\s`));
    const two = JSON.parse((await cli('jobs', 'list', '--limit', '2', '--json')).stdout);
    assert.equal(two.length, 2);
  });

  it('jobs retry refuses done, running and unknown jobs with exit 1 and a reason', async () => {
    const done = await cli('jobs', 'retry', String(built.doneId));
    assert.equal(done.code, 1);
    assert.match(done.stderr, new RegExp(`queue job ${built.doneId} is done \\(outcome answered\\)`));
    const running = await cli('jobs', 'retry', String(built.runningId));
    assert.equal(running.code, 1);
    assert.match(running.stderr, new RegExp(`queue job ${built.runningId} is running`));
    const unknown = await cli('jobs', 'retry', '4242');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no queue job 4242/);
  });

  it('rejects a bad state, limit or id with exit 2, and an unknown id with exit 1', async () => {
    const state = await cli('jobs', 'list', '--state', 'failed');
    assert.equal(state.code, 2);
    assert.match(state.stderr, /--state must be one of pending, running, done, dead \(got "failed"\)/);
    assert.equal((await cli('jobs', 'list', '--limit', '0')).code, 2);
    const word = await cli('jobs', 'show', 'abc');
    assert.equal(word.code, 2);
    assert.match(word.stderr, /jobs show: expected a positive whole number, got "abc"/);
    assert.equal((await cli('jobs', 'retry', '1.5')).code, 2);
    const unknown = await cli('jobs', 'show', '42');
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'autosolve: no queue job 42\n');
  });

  it('says there is no database yet, and creates none', async () => {
    const missing = join(dir.path, 'elsewhere/autosolve.db');
    const env = { AUTOSOLVE_DATABASE_SQLITEPATH: missing };
    for (const args of [['status'], ['status', '--json'], ['jobs', 'list']]) {
      const result = await runCli(args, { cwd: dir.path, env });
      assert.equal(result.code, 1, args.join(' '));
      assert.equal(result.stderr, `autosolve: no database at ${missing} yet: run \`autosolve run\` first\n`);
      assert.equal(result.stdout, '');
    }
    assert.equal(existsSync(missing), false);
    assert.equal(existsSync(join(dir.path, 'elsewhere')), false);
  });
});
