import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Database } from '../src/infra/store/index.js';
import { SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore } from '../src/infra/store/index.js';
import { freshDatabase } from './support/store.js';
import { issue } from './support/issues.js';

const DISPATCH = 'dispatch';

describe('job queue', () => {
  let database: Database;
  let cleanup: () => Promise<void>;
  let clock: number;
  let queue: SqlJobQueue;

  beforeEach(async () => {
    ({ database, cleanup } = await freshDatabase());
    clock = Date.parse('2026-06-01T00:00:00Z');
    const now = () => new Date(clock);
    queue = new SqlJobQueue(database.db, { retryDelayMs: 1000, maxRetryDelayMs: 4000, now });
    const repo = await new SqlRepositoryStore(database.db).record(
      { owner: 'acme', name: 'api' },
      { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' },
    );
    const sync = new SqlIssueSyncStore(database.db, { maxAttempts: 3, now });
    const issues = [issue(1), issue(2), issue(3)];
    await sync.save(repo, issues, { since: null, page: 1, etag: null }, issues.map((i) => ({ type: DISPATCH, issueGithubId: i.githubId })));
  });
  afterEach(() => cleanup());

  it('claims atomically: concurrent claimers never share a job', async () => {
    const claims = await Promise.all([queue.claim(DISPATCH, 2, 60_000), queue.claim(DISPATCH, 2, 60_000), queue.claim(DISPATCH, 2, 60_000)]);
    const ids = claims.flat().map((j) => j.id);
    assert.equal(ids.length, 3);
    assert.equal(new Set(ids).size, 3);
    assert.deepEqual(await queue.claim(DISPATCH, 5, 60_000), []);
  });

  it('brings a job back when its claim expires (a crashed worker), and ignores the stale claimer', async () => {
    const [first] = await queue.claim(DISPATCH, 1, 30_000);
    assert.ok(first);
    clock += 29_000;
    assert.equal((await queue.claim(DISPATCH, 5, 30_000)).some((j) => j.id === first.id), false);
    clock += 2_000;
    const again = await queue.claim(DISPATCH, 5, 30_000);
    const reclaimed = again.find((j) => j.id === first.id);
    assert.ok(reclaimed, 'expired claim is visible again');
    assert.equal(reclaimed.attempts, 2);
    await queue.complete(first, { outcome: 'answered' }); // the crashed worker's late write
    assert.equal((await queue.get(first.id))?.state, 'running', 'stale claim cannot complete');
    await queue.complete(reclaimed, { outcome: 'answered' });
    assert.equal((await queue.get(first.id))?.state, 'done');
  });

  it('backs off failed attempts, then dead-letters; retry brings a dead job back', async () => {
    let [job] = await queue.claim(DISPATCH, 1, 60_000);
    assert.ok(job);
    const id = job.id;
    assert.equal(await queue.fail(job, 'exit 1: boom'), 'retrying');
    assert.deepEqual((await queue.claim(DISPATCH, 5, 60_000)).filter((j) => j.id === id), [], 'not before the backoff');
    clock += 1000;
    [job] = (await queue.claim(DISPATCH, 5, 60_000)).filter((j) => j.id === id);
    assert.ok(job);
    assert.equal(await queue.fail(job, 'exit 1: boom again'), 'retrying');
    clock += 1999;
    assert.equal((await queue.claim(DISPATCH, 5, 60_000)).some((j) => j.id === id), false, 'second backoff doubles');
    clock += 1;
    [job] = (await queue.claim(DISPATCH, 5, 60_000)).filter((j) => j.id === id);
    assert.ok(job);
    assert.equal(job.attempts, 3);
    assert.equal(await queue.fail(job, 'exit 1: last'), 'dead');
    const dead = await queue.get(id);
    assert.equal(dead?.state, 'dead');
    assert.equal(dead?.lastError, 'exit 1: last');
    assert.equal(dead?.repository, 'acme/api');
    assert.deepEqual((await queue.list({ state: 'dead' })).map((j) => j.id), [id]);

    assert.equal(await queue.retry(id), true);
    const [revived] = (await queue.claim(DISPATCH, 5, 60_000)).filter((j) => j.id === id);
    assert.equal(revived?.attempts, 1);
    assert.equal(await queue.retry(999), false);
  });

  it('releases a job without spending an attempt when the backend is unavailable', async () => {
    const [job] = await queue.claim(DISPATCH, 1, 60_000);
    assert.ok(job);
    await queue.release(job, 5_000);
    assert.equal((await queue.get(job.id))?.attempts, 0);
    clock += 5_000;
    const [again] = (await queue.claim(DISPATCH, 5, 60_000)).filter((j) => j.id === job.id);
    assert.equal(again?.attempts, 1);
  });

  it('records the owner with a claim and forgets it when the job leaves running; a settled claim cannot be renewed', async () => {
    const owned = new SqlJobQueue(database.db, { now: () => new Date(clock), owner: { id: 'instance-1', host: 'host-1', pid: 4321 } });
    const owner = async (id: number) => {
      const row = await database.db.selectFrom('jobs').select(['owner_instance', 'owner_host', 'owner_pid']).where('id', '=', id).executeTakeFirstOrThrow();
      return [row.owner_instance, row.owner_host, row.owner_pid];
    };
    const [a, b, c] = await owned.claim(DISPATCH, 3, 60_000);
    assert.ok(a && b && c);
    assert.deepEqual(await owner(a.id), ['instance-1', 'host-1', 4321]);
    await owned.complete(a, { outcome: 'answered' });
    await owned.release(b, 0);
    await owned.fail(c, 'boom');
    for (const job of [a, b, c]) assert.deepEqual(await owner(job.id), [null, null, null]);
    assert.equal(await owned.renew(a, 60_000), false);
  });
});
