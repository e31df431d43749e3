/**
 * The write side of the GitHub throttle: the `beforeWrite` check that runs
 * once a comment is let through, and a write budget that outlives the client
 * (a SharedWriteBudget in the database; end to end in
 * test/write-budget-restart.test.ts, across daemons in test/shared-budget.test.ts).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { hasMarker } from '../src/domain/comment.js';
import { credentialOf, SharedBudget } from '../src/composition/shared-budget.js';
import { GitHubClient, type GitHubTelemetry, type ThrottleOptions } from '../src/infra/github/index.js';
import { SqlCredentialBudget } from '../src/infra/store/index.js';
import { createLogger } from '../src/infra/telemetry/logger.js';
import { type Simulator, startSimulator } from '../src/simulator/index.js';
import { freshDatabase } from './support/store.js';
import { type VirtualTime, virtualTime } from './support/virtual-time.js';

const TOKEN = 'ghp_writeTestToken0000000000000000000000';
const REPO = { owner: 'acme', name: 'api' };
const START = Date.UTC(2026, 0, 5, 12, 0, 0);
const MARKER_COMMENT = '<!-- autosolve -->\nanswered by another instance';

let simulator: Simulator | undefined;

afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

async function start(now?: () => number): Promise<Simulator> {
  simulator = await startSimulator({
    tokens: [TOKEN],
    ...(now === undefined ? {} : { now }),
    scenario: { repositories: [{ owner: 'acme', name: 'api', issues: [{ title: 'first' }, { title: 'second' }] }] },
  });
  return simulator;
}

function clientFor(sim: Simulator, throttle: Partial<ThrottleOptions>, clock?: VirtualTime, telemetry: GitHubTelemetry = {}): GitHubClient {
  return new GitHubClient({
    baseUrl: sim.url,
    token: TOKEN,
    timeoutMs: 10_000,
    userAgent: 'autosolve/test',
    throttle: { minIntervalMs: 0, ...(clock ? { now: clock.now, sleep: clock.sleep } : {}), ...throttle },
    telemetry,
    ...(clock ? { fetch: clock.fetch } : {}),
  });
}


const signal = (): AbortSignal => new AbortController().signal;
const posts = (sim: Simulator) => sim.requests.filter((r) => r.method === 'POST');

void describe('beforeWrite', () => {
  void it('sees what changed while the write was held by pacing, and a throw cancels the write and propagates', async () => {
    const clock = virtualTime(START);
    const sim = await start(clock.now);
    let held = 0;
    const client = clientFor(sim, { writeMinIntervalMs: 60_000 }, clock, {
      onWait: ({ reason }) => {
        if (reason !== 'write-pacing') return;
        held++;
        // Another instance answers while our comment waits for its turn.
        sim.addComment('acme', 'api', 1, { body: MARKER_COMMENT, user: 'someone-else' });
      },
    });
    await client.createComment(REPO, 2, 'an earlier answer', signal());
    const refusal = new Error('issue #1 was answered meanwhile');
    let checkedAt = 0;

    const outcome = client.createComment(REPO, 1, '<!-- autosolve -->\nour answer', signal(), {
      beforeWrite: async (checkSignal) => {
        checkedAt = clock.now();
        const comments = await client.listComments(REPO, 1, checkSignal);
        if (comments.some((comment) => hasMarker(comment.body))) throw refusal;
      },
    });

    await assert.rejects(outcome, (error: unknown) => error === refusal);
    assert.equal(held, 1, 'the write was held by pacing');
    assert.equal(checkedAt, START + 60_000, 'the check ran once pacing let the write through');
    assert.equal(posts(sim).length, 1, 'the refused comment was never sent');
    assert.deepEqual(
      sim.comments('acme', 'api', 1).map((c) => c.user),
      ['someone-else'],
    );
    assert.equal(client.stats().requests, 2, 'sent: the earlier answer and the read of the check, not the refused write');
  });

  void it('does not count a refused write against the write budget', async () => {
    const clock = virtualTime(START);
    const sim = await start(clock.now);
    const client = clientFor(sim, { writeMinIntervalMs: 0, writesPerHour: 1 }, clock);

    await assert.rejects(
      client.createComment(REPO, 1, 'refused', signal(), {
        beforeWrite: () => Promise.reject(new Error('claim lost')),
      }),
      /claim lost/,
    );
    await client.createComment(REPO, 1, 'sent', signal());

    assert.deepEqual(
      posts(sim).map((r) => r.startedAt),
      [START],
      'the one write of the hour went out at once',
    );
  });

  void it("runs with the write's concurrency slot held: its own reads pass, other requests wait for the write", async () => {
    const sim = await start();
    const client = clientFor(sim, { maxConcurrent: 1, writeMinIntervalMs: 0 });
    let other: Promise<unknown> | undefined;
    // Started by the simulator, outside the check, once the check's read has been answered.
    const stop = sim.onRequest((request) => {
      if (request.method === 'GET' && request.path.endsWith('/comments')) other ??= client.getRepository(REPO, signal());
    });

    const comment = await client.createComment(REPO, 1, 'hello', signal(), {
      beforeWrite: async (checkSignal) => {
        await client.listComments(REPO, 1, checkSignal);
      },
    });
    await other;
    stop();

    assert.match(comment.htmlUrl, /issuecomment/);
    assert.deepEqual(
      sim.requests.map((r) => `${r.method} ${r.path}`),
      ['GET /repos/acme/api/issues/1/comments', 'POST /repos/acme/api/issues/1/comments', 'GET /repos/acme/api'],
    );
  });

  void it('runs once per comment, and not for a comment without it', async () => {
    const sim = await start();
    const client = clientFor(sim, { writeMinIntervalMs: 0 });
    let checks = 0;

    await client.createComment(REPO, 1, 'checked', signal(), { beforeWrite: async () => void checks++ });
    await client.createComment(REPO, 1, 'unchecked', signal());

    assert.equal(checks, 1);
    assert.equal(sim.comments('acme', 'api', 1).length, 2);
  });
});

void describe('write budget across restarts', () => {
  void it('a new client sharing the write history keeps to the per-hour and per-minute budget of the one before it', async () => {
    const clock = virtualTime(START);
    const sim = await start(clock.now);
    const store = await freshDatabase();
    const log = createLogger({ debug: false, level: 'silent' });
    // Each process its own client and registration, the same database.
    const budget = (run: string) => ({
      writeMinIntervalMs: 0,
      writesPerMinute: 2,
      writesPerHour: 3,
      sharedWrites: new SharedBudget(new SqlCredentialBudget(store.database.db, credentialOf(TOKEN), run), log, { now: clock.now }).writes,
    });

    const first = clientFor(sim, budget('run-1'), clock);
    await first.createComment(REPO, 1, 'one', signal());
    await first.createComment(REPO, 1, 'two', signal());
    // A restart: a new process, a new client, the same database.
    const second = clientFor(sim, budget('run-2'), clock);
    await second.createComment(REPO, 1, 'three', signal());
    const third = clientFor(sim, budget('run-3'), clock);
    await third.createComment(REPO, 1, 'four', signal());
    const kept = await store.database.db.selectFrom('github_writes').select('at').orderBy('at').execute();
    await store.cleanup();

    assert.deepEqual(
      posts(sim).map((r) => r.startedAt - START),
      [0, 0, 60_000, 3_600_000],
      'the third write waited for the minute, the fourth for the hour',
    );
    assert.deepEqual(
      kept.map((row) => Number(row.at)),
      [START + 60_000, START + 3_600_000],
      'the database keeps only the last hour',
    );
  });
});
