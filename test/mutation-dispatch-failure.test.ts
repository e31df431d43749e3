/**
 * Whose failure was it, and what did it cost: the dispatcher's error path
 * (src/domain/tasks/global/dispatch-failure.ts) against the real queue and the
 * real pause record, one rule per test. Written for what a mutation run found
 * untested (docs/mutation-testing.md).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ClassifiedError } from '../src/domain/failure.js';
import type { Log, QueueJob } from '../src/domain/ports.js';
import { DispatchFailures, MAX_RELEASES } from '../src/domain/tasks/global/dispatch-failure.js';
import type { Database } from '../src/infra/store/index.js';
import { SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore } from '../src/infra/store/index.js';
import { SqlPauseStore } from '../src/infra/store/dispatcher-pause.js';
import { freshDatabase } from './support/store.js';
import { issue } from './support/issues.js';

const DISPATCH = 'dispatch';
const WHERE = { repository: 'acme/api', issue: 1 };

interface Line {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: object;
  readonly message: string;
}

function recordingLog(lines: Line[]): Log {
  const log: Log = {
    debug: (fields, message) => lines.push({ level: 'debug', fields, message }),
    info: (fields, message) => lines.push({ level: 'info', fields, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
    error: (fields, message) => lines.push({ level: 'error', fields, message }),
    child: () => log,
  };
  return log;
}

/** The one line logged at this level whose message passes `match`; its fields are what operators filter on. */
function logged(lines: readonly Line[], level: Line['level'], match: (message: string) => boolean): Line {
  const found = lines.filter((l) => l.level === level && match(l.message));
  assert.equal(found.length, 1, `one ${level} line matching, among: ${lines.map((l) => l.message).join(' | ')}`);
  return found[0] as Line;
}

const credential = () => new ClassifiedError('permanent', 'token refused (401)', { pausesWork: 'credential' });
const serverBusy = (message = 'model server: 503') => new ClassifiedError('service', message);
const unreachable = () => new ClassifiedError('node', 'connect ECONNREFUSED 127.0.0.1:1');
const jobsOwn = () => new Error('exit 1: the tool crashed');

describe('dispatch failures: whose failure, and what it costs', () => {
  let database: Database;
  let cleanup: () => Promise<void>;
  let clock: number;
  let queue: SqlJobQueue;
  let pauses: SqlPauseStore;
  let lines: Line[];
  let settled: Array<{ number: number; outcome: string }>;
  const now = () => new Date(clock);

  beforeEach(async () => {
    ({ database, cleanup } = await freshDatabase());
    clock = Date.parse('2026-06-01T00:00:00Z');
    queue = new SqlJobQueue(database.db, { retryDelayMs: 1000, now });
    pauses = new SqlPauseStore(database.db);
    lines = [];
    settled = [];
    const repo = await new SqlRepositoryStore(database.db).record(
      { owner: 'acme', name: 'api' },
      { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' },
    );
    const sync = new SqlIssueSyncStore(database.db, { maxAttempts: 2, now });
    const issues = [1, 2, 3, 4, 5].map((n) => issue(n));
    await sync.save(repo, issues, { since: null, page: 1, etag: null }, issues.map((i) => ({ type: DISPATCH, issueGithubId: i.githubId })));
  });
  afterEach(() => cleanup());

  function failures(): DispatchFailures {
    return new DispatchFailures({
      queue,
      log: recordingLog(lines),
      observer: { jobSettled: (info) => settled.push({ number: info.number, outcome: info.outcome }) },
      pauses,
      now,
    });
  }

  /** Claims one job: the one with this id, or the first that is not `not`. */
  async function claim(id?: number, not?: number): Promise<QueueJob> {
    const jobs = await queue.claim(DISPATCH, 5, 60_000);
    const job = id === undefined ? jobs.find((j) => j.id !== not) : jobs.find((j) => j.id === id);
    assert.ok(job, 'a job to claim');
    // Give back what this claim took but does not use.
    for (const other of jobs) if (other !== job) await queue.release(other, 0);
    return job;
  }

  /** A job goes the whole way: what the dispatcher reports for an answered issue. */
  async function wentThrough(f: DispatchFailures, outcome = 'answered'): Promise<void> {
    const job = await claim();
    await queue.complete(job, { outcome: 'answered' });
    f.watching(undefined).jobSettled?.({ repository: WHERE.repository, number: 9, outcome });
    await f.succeeded();
  }

  it("the daemon's failure: the job goes back unspent with its cause, the dispatcher pauses and stops claiming", async () => {
    const f = failures();
    const job = await claim();
    const error = credential();
    assert.equal(await f.failed(job, WHERE, error), error, 'stop claiming');
    const row = await queue.get(job.id);
    assert.equal(row?.state, 'pending');
    assert.equal(row?.attempts, 0, 'no attempt spent');
    assert.equal(row?.lastError, 'token refused (401)');
    assert.equal(row?.runAfter, now().toISOString(), 'back at once');
    assert.deepEqual(await pauses.read(), { reason: 'credential', message: 'token refused (401)', since: now().toISOString() });
    assert.deepEqual(logged(lines, 'error', (m) => m.startsWith('dispatcher paused (credential): token refused (401)')).fields, { reason: 'credential', error: 'token refused (401)' });
  });

  it('a pause that repeats keeps when it began; one with another message is recorded again, still since the first', async () => {
    const f = failures();
    const began = now().toISOString();
    await f.failed(await claim(), WHERE, credential());
    clock += 60_000;
    lines.length = 0;
    await f.failed(await claim(), WHERE, credential());
    assert.deepEqual(await pauses.read(), { reason: 'credential', message: 'token refused (401)', since: began });
    assert.deepEqual(lines, [{ level: 'warn', fields: { reason: 'credential', error: 'token refused (401)' }, message: 'dispatcher still paused (credential): token refused (401)' }]);
    await f.failed(await claim(), WHERE, new ClassifiedError('permanent', 'token refused (403)', { pausesWork: 'credential' }));
    assert.deepEqual(await pauses.read(), { reason: 'credential', message: 'token refused (403)', since: began });
    await f.failed(await claim(), WHERE, new ClassifiedError('permanent', 'no such model', { pausesWork: 'configuration' }));
    assert.deepEqual(await pauses.read(), { reason: 'configuration', message: 'no such model', since: began });
  });

  it('the backend unavailable before any job went through: released unspent, paused as unavailable, stop claiming', async () => {
    for (const error of [serverBusy(), unreachable()]) {
      const f = failures();
      const job = await claim();
      assert.equal(await f.failed(job, WHERE, error), error);
      const row = await queue.get(job.id);
      assert.equal(row?.attempts, 0);
      assert.equal(row?.releases, 0, 'not counted against the job');
      assert.equal(row?.lastError, error.message);
      assert.equal((await pauses.read())?.reason, 'unavailable');
      const line = lines.find((l) => l.level === 'warn' && l.message === 'acme/api#1: backend unavailable; job returned to the queue without spending an attempt');
      assert.deepEqual(line?.fields, { ...WHERE, error: error.message });
      lines.length = 0;
    }
  });

  it('the backend failing one job while it answers others: that job alone pays, counted, and the dispatcher carries on', async () => {
    const f = failures();
    await wentThrough(f);
    const job = await claim();
    assert.equal(await f.failed(job, WHERE, serverBusy()), undefined, 'carry on');
    const row = await queue.get(job.id);
    assert.equal(row?.state, 'pending');
    assert.equal(row?.releases, 1);
    assert.equal(row?.attempts, 0);
    assert.match(row?.lastError ?? '', new RegExp(`^the backend failed on this issue while it answered others \\(dead after ${MAX_RELEASES} such releases\\): model server: 503$`));
    assert.equal(await pauses.read(), null, 'no pause');
    const line = logged(lines, 'warn', (m) => m === `acme/api#1: the backend failed on this issue alone (release 1 of ${MAX_RELEASES}); carrying on with the others`);
    assert.deepEqual(line.fields, { ...WHERE, releases: 1, error: 'model server: 503' });
  });

  it(`a job the backend fails alone ${MAX_RELEASES} times is dead, and reported so`, async () => {
    const f = failures();
    await wentThrough(f);
    let job = await claim();
    const id = job.id;
    for (let i = 1; i <= MAX_RELEASES; i++) {
      if (i > 1) job = await claim(id);
      assert.equal(await f.failed(job, WHERE, serverBusy()), undefined);
    }
    const row = await queue.get(id);
    assert.equal(row?.state, 'dead');
    assert.equal(row?.releases, MAX_RELEASES);
    assert.deepEqual(settled.filter((s) => s.outcome === 'dead'), [{ number: WHERE.issue, outcome: 'dead' }]);
    const line = logged(lines, 'error', (m) => m.startsWith(`acme/api#1: dead after ${MAX_RELEASES} releases`));
    assert.deepEqual(line.fields, { ...WHERE, releases: MAX_RELEASES, error: 'model server: 503' });
  });

  it('after a job went through, a transport failure or a second failing job is the backend again: released unspent and paused', async () => {
    const down = failures();
    await wentThrough(down);
    const job = await claim();
    const error = unreachable();
    assert.equal(await down.failed(job, WHERE, error), error);
    assert.equal((await queue.get(job.id))?.releases, 0);
    assert.equal((await pauses.read())?.reason, 'unavailable');

    const busy = failures();
    await wentThrough(busy);
    const first = await claim();
    assert.equal(await busy.failed(first, WHERE, serverBusy()), undefined, 'the first alone is its own trouble');
    const second = await claim(undefined, first.id);
    const again = serverBusy();
    assert.equal(await busy.failed(second, { repository: 'acme/api', issue: 2 }, again), again, 'two failing jobs: the backend');
    assert.equal((await queue.get(second.id))?.releases, 0);
  });

  it("the job's own failure spends an attempt and carries on; the last one is dead and reported", async () => {
    const f = failures();
    const first = await claim();
    const id = first.id;
    assert.equal(await f.failed(first, WHERE, jobsOwn()), undefined);
    let row = await queue.get(id);
    assert.equal(row?.state, 'pending');
    assert.equal(row?.attempts, 1);
    assert.deepEqual(logged(lines, 'error', (m) => m === 'acme/api#1: attempt 1 of 2 failed; will retry').fields, { ...WHERE, attempts: 1, error: 'exit 1: the tool crashed' });
    assert.deepEqual(settled, []);
    clock += 1000;
    assert.equal(await f.failed(await claim(id), WHERE, jobsOwn()), undefined);
    row = await queue.get(id);
    assert.equal(row?.state, 'dead');
    assert.ok(lines.some((l) => l.level === 'error' && l.message === 'acme/api#1: dead after 2 attempts'));
    assert.deepEqual(settled, [{ number: WHERE.issue, outcome: 'dead' }]);
    assert.equal(await pauses.read(), null, "a job's own failure never pauses");
  });

  it('a job that went through clears the pause; one that did not go through, or a job without an outcome, does not', async () => {
    const f = failures();
    await f.failed(await claim(), WHERE, credential());
    await f.succeeded();
    assert.equal((await pauses.read())?.reason, 'credential', 'nothing went through');
    f.watching(undefined).jobSettled?.({ repository: 'acme/api', number: 2, outcome: 'not-eligible' });
    await f.succeeded();
    assert.equal((await pauses.read())?.reason, 'credential', 'not-eligible proves nothing about the backend');
    await wentThrough(f, 'dry-run');
    assert.equal(await pauses.read(), null);
    const line = logged(lines, 'info', (m) => m === `dispatcher resumed: the credential failure that paused it since ${now().toISOString()} has cleared`);
    assert.deepEqual(line.fields, { reason: 'credential', since: now().toISOString() });
  });

  it('a job that went through resets what was learned: a later lone failure is counted again, not a pause', async () => {
    const f = failures();
    await wentThrough(f);
    const first = await claim();
    await f.failed(first, WHERE, serverBusy());
    await wentThrough(f);
    const second = await claim(undefined, first.id);
    assert.equal(await f.failed(second, WHERE, serverBusy()), undefined, 'alone again after the success');
    assert.equal((await queue.get(second.id))?.releases, 1);
  });

  it('the observer it wraps still hears every settled job', () => {
    const heard: string[] = [];
    const watched = failures().watching({ jobSettled: (info) => heard.push(info.outcome) });
    watched.jobSettled?.({ repository: 'acme/api', number: 1, outcome: 'answered' });
    watched.jobSettled?.({ repository: 'acme/api', number: 2, outcome: 'dead' });
    assert.deepEqual(heard, ['answered', 'dead']);
  });

  it("a pass that ends without a stop clears a pause an earlier process left recorded", async () => {
    await pauses.record({ reason: 'permission', message: 'missing issues: write', since: '2026-05-31T00:00:00.000Z' });
    const f = failures();
    await f.passEnded(undefined);
    assert.equal(await pauses.read(), null);
    assert.ok(lines.some((l) => l.level === 'info' && l.message === 'dispatcher resumed: the permission failure that paused it since 2026-05-31T00:00:00.000Z has cleared'));
    lines.length = 0;
    await f.passEnded(undefined);
    assert.deepEqual(lines, [], 'cleared once');
  });

  it('a pass stopped by the backend keeps its pause; one stopped by a pause reason pauses again if a job cleared it meanwhile', async () => {
    const f = failures();
    const busy = serverBusy();
    await f.failed(await claim(), WHERE, busy);
    await f.passEnded(busy);
    assert.equal((await pauses.read())?.reason, 'unavailable', 'the backend pause stands');

    const refused = credential();
    await f.failed(await claim(), WHERE, refused);
    await wentThrough(f); // another worker's job went through after the pause was recorded
    assert.equal(await pauses.read(), null);
    await f.passEnded(refused);
    assert.equal((await pauses.read())?.reason, 'credential', 'the pass still stopped for it');
  });

  it('a job that went through counts once: a later success without one does not clear a new pause', async () => {
    const f = failures();
    await wentThrough(f);
    await f.failed(await claim(), WHERE, credential());
    await f.succeeded();
    assert.equal((await pauses.read())?.reason, 'credential');
  });

  it('after a transport failure, one failing job is still the backend, not that job', async () => {
    const f = failures();
    await wentThrough(f);
    await f.failed(await claim(), WHERE, unreachable());
    const job = await claim();
    const busy = serverBusy();
    assert.equal(await f.failed(job, WHERE, busy), busy, 'stop claiming');
    assert.equal((await queue.get(job.id))?.releases, 0, 'not counted against the job');
  });

  it('a pass stopped by a failure that carries a pause reason pauses, even when it is also retryable', async () => {
    const f = failures();
    await f.failed(await claim(), WHERE, credential());
    await wentThrough(f);
    assert.equal(await pauses.read(), null);
    await f.passEnded(new ClassifiedError('service', 'token refused while busy', { pausesWork: 'credential' }));
    assert.equal((await pauses.read())?.reason, 'credential');
  });

  it('a pass that ends for the pause it already holds logs nothing more', async () => {
    const f = failures();
    const refused = credential();
    await f.failed(await claim(), WHERE, refused);
    lines.length = 0;
    await f.passEnded(refused);
    assert.deepEqual(lines, []);
  });

  it('clears the pause record once, not on every pass: a steady state writes nothing', async () => {
    let writes = 0;
    const counting = { record: (pause: Parameters<SqlPauseStore['record']>[0]) => (writes++, pauses.record(pause)) };
    const f = new DispatchFailures({ queue, log: recordingLog(lines), pauses: counting, now });
    await f.passEnded(undefined);
    await f.passEnded(undefined);
    assert.equal(writes, 1, 'the first clear, for a record an earlier process may have left');
    await f.failed(await claim(), WHERE, credential());
    await f.passEnded(undefined);
    await f.passEnded(undefined);
    await f.succeeded();
    assert.equal(writes, 3, 'the pause and its clear');
  });

  /** Takes a job to dead by its own failures, then another by counted releases: both report to the observer, if any. */
  async function bothDeaths(f: DispatchFailures): Promise<void> {
    let job = await claim();
    const id = job.id;
    await f.failed(job, WHERE, jobsOwn());
    clock += 1000;
    await f.failed(await claim(id), WHERE, jobsOwn());
    assert.equal((await queue.get(id))?.state, 'dead');
    f.watching(undefined).jobSettled?.({ repository: 'acme/api', number: 9, outcome: 'answered' });
    await f.succeeded();
    job = await claim();
    for (let i = 1; i <= MAX_RELEASES; i++) {
      if (i > 1) job = await claim(job.id);
      await f.failed(job, WHERE, serverBusy());
    }
    assert.equal((await queue.get(job.id))?.state, 'dead');
  }

  it('reports deaths without an observer, or to one that does not listen for them', async () => {
    await bothDeaths(new DispatchFailures({ queue, log: recordingLog([]), now }));
    await bothDeaths(new DispatchFailures({ queue, log: recordingLog([]), observer: {}, now }));
    assert.doesNotThrow(() => failures().watching({}).jobSettled?.({ repository: 'acme/api', number: 1, outcome: 'answered' }));
  });

  it('works without a pause record or a clock: they are optional', async () => {
    const f = new DispatchFailures({ queue, log: recordingLog(lines) });
    const before = Date.now();
    assert.ok(await f.failed(await claim(), WHERE, credential()));
    await f.passEnded(undefined);
    const resumed = logged(lines, 'info', (m) => m.startsWith('dispatcher resumed'));
    const since = Date.parse((resumed.fields as { since: string }).since);
    assert.ok(since >= before - 1000 && since <= Date.now() + 1000, 'since read from the real clock');
  });
});
