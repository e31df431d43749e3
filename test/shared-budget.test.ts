/**
 * One GitHub budget per credential across daemons on one database: the store's
 * reservations (SqlCredentialBudget, on each engine; on PostgreSQL the
 * concurrent ones come from a pool of connections), then GitHub clients on
 * SQLite, each with its
 * own throttle and registration as three daemons would have, against the
 * simulator on one virtual clock. What the simulator saw is the evidence: when
 * each request arrived, and from which daemon (its user agent).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { credentialOf, SharedBudget } from '../src/composition/shared-budget.js';
import type { Log } from '../src/domain/ports.js';
import { GitHubClient, RequestThrottle, type ThrottleOptions, type WaitReason } from '../src/infra/github/index.js';
import { SqlCredentialBudget, type Database } from '../src/infra/store/index.js';
import { createLogger } from '../src/infra/telemetry/logger.js';
import { type Simulator, startSimulator } from '../src/simulator/index.js';
import { flush } from './support/shared-clock.js';
import { testEngines } from './support/engines.js';
import { freshDatabase } from './support/store.js';
import { type TimerClock, timerClock } from './support/timer-clock.js';

const TOKEN = 'ghp_sharedBudgetTestToken00000000000000';
const CREDENTIAL = credentialOf(TOKEN);
const REPO = { owner: 'acme', name: 'api' };
const START = Date.UTC(2026, 0, 5, 12, 0, 0);
const RULES = { minIntervalMs: 1_000, perMinute: 3, perHour: 5 };
const log = createLogger({ debug: false, level: 'silent' });
const signal = (): AbortSignal => new AbortController().signal;

let store: { database: Database; cleanup: () => Promise<void> } | undefined;
let db: Database['db'];

/** A fresh, migrated database per test, this describe's engine. */
function freshStoreEach(fresh: () => Promise<{ database: Database; cleanup: () => Promise<void> }>): void {
  beforeEach(async () => {
    store = await fresh();
    db = store.database.db;
  });
  afterEach(async () => {
    await store?.cleanup();
    store = undefined;
  });
}

/** A daemon's registration with a heartbeat `ageMs` old (the instance heartbeat's row). */
async function registered(id: string, ageMs = 0): Promise<void> {
  const at = new Date(Date.now() - ageMs).toISOString();
  await db.insertInto('instances').values({ id, host: `host-${id}`, pid: 1, version: 'test', started_at: at, heartbeat_at: at }).execute();
}

for (const engine of await testEngines()) {
  describe(`SqlCredentialBudget on ${engine.name}`, { skip: engine.skip }, () => {
    freshStoreEach(() => engine.fresh());
    const budgetOf = (instance: string, credential = CREDENTIAL) => new SqlCredentialBudget(db, credential, instance);

    it('gives the last slot to one daemon only, however many ask at once', async () => {
      // An earlier write: the credential's row exists, so only its lock keeps the daemons apart.
      assert.equal((await budgetOf('z').reserveWrite(START - 600_000, RULES)).waitMs, 0);
      const daemons = ['a', 'b', 'c', 'd', 'e'].map((id) => budgetOf(id));
      // Each with a connection open, as five daemons' would be: the reservations overlap, not the connecting.
      await Promise.all(daemons.map((daemon) => daemon.liveDaemons(30_000)));
      const answers = await Promise.all(daemons.map((daemon) => daemon.reserveWrite(START, RULES)));

      assert.deepEqual(answers.map((a) => a.waitMs).sort((x, y) => x - y), [0, 1_000, 1_000, 1_000, 1_000], 'one reserved, the others wait for the gap');
      const rows = await db.selectFrom('github_writes').selectAll().execute();
      assert.equal(rows.length, 2);
    });

    it("counts every daemon's writes against the minute and the hour, and only the credential's own", async () => {
      const a = budgetOf('a');
      const b = budgetOf('b');
      assert.equal((await a.reserveWrite(START, RULES)).waitMs, 0);
      assert.equal((await b.reserveWrite(START + 1_000, RULES)).waitMs, 0);
      assert.equal((await a.reserveWrite(START + 2_000, RULES)).waitMs, 0);
      assert.equal((await b.reserveWrite(START + 3_000, RULES)).waitMs, 57_000, 'the fourth of the minute waits for the first to leave it');
      assert.equal((await budgetOf('c', 'feedfacefeedface').reserveWrite(START + 3_000, RULES)).waitMs, 0, 'another token has its own budget');
      assert.equal((await b.reserveWrite(START + 60_000, RULES)).waitMs, 0);
      assert.equal((await a.reserveWrite(START + 61_000, RULES)).waitMs, 0);
      assert.equal((await b.reserveWrite(START + 62_000, RULES)).waitMs, 3_600_000 - 62_000, 'the sixth of the hour waits for the first to leave it');
    });

    it('frees the slot of a withdrawn write, and forgets writes older than an hour', async () => {
      const a = budgetOf('a');
      await a.reserveWrite(START, RULES);
      assert.equal((await budgetOf('b').reserveWrite(START, RULES)).waitMs, 1_000);
      await a.withdraw(START);
      assert.equal((await budgetOf('b').reserveWrite(START, RULES)).waitMs, 0, 'the withdrawn write no longer holds the gap');

      await a.prune(START + 3_600_000);
      assert.deepEqual(await db.selectFrom('github_writes').selectAll().execute(), []);
    });

    it('keeps the later of two holds, and a reservation waits for it', async () => {
      const a = budgetOf('a');
      assert.equal(await a.currentHold(), undefined);
      await a.recordHold(START + 120_000, 'retry-after');
      await budgetOf('b').recordHold(START + 60_000, 'secondary-rate-limit');
      assert.deepEqual(await budgetOf('c').currentHold(), { until: START + 120_000, reason: 'retry-after' });

      const reservation = await budgetOf('c').reserveWrite(START, RULES);
      assert.deepEqual(reservation, { waitMs: 120_000, hold: { until: START + 120_000, reason: 'retry-after' } });
      assert.equal((await budgetOf('c').reserveWrite(START + 120_000, RULES)).waitMs, 0, 'reserved once the hold is over');
    });

    it('counts the daemons with a fresh heartbeat, at least one', async () => {
      const a = budgetOf('a');
      assert.equal(await a.liveDaemons(30_000), 1, 'before its own first heartbeat');
      await registered('a');
      await registered('b', 5_000);
      await registered('gone', 45_000);
      assert.equal(await a.liveDaemons(30_000), 2);
    });

    it('refuses anything but a hash as the credential: the token never reaches the table', () => {
      assert.throws(() => budgetOf('a', TOKEN), /first 16 hex characters of sha256/);
    });
  });
}

describe('daemons sharing one token', () => {
  freshStoreEach(freshDatabase);
  let simulator: Simulator | undefined;
  let shared: SharedBudget[] = [];

  afterEach(async () => {
    for (const budget of shared) await budget.stop();
    shared = [];
    await simulator?.close();
    simulator = undefined;
  });

  async function simulate(clock: TimerClock): Promise<Simulator> {
    simulator = await startSimulator({ tokens: [TOKEN], now: clock.now, scenario: { repositories: [{ ...REPO, issues: [{ title: 'first' }] }] } });
    return simulator;
  }

  /** A daemon: its own client, throttle and SharedBudget (registration `id`), on the common database and clock. */
  async function daemon(
    id: string,
    sim: Simulator,
    clock: TimerClock,
    throttle: Partial<ThrottleOptions>,
    waits: WaitReason[] = [],
    daemonLog: Log = log,
  ): Promise<{ client: GitHubClient; budget: SharedBudget }> {
    const budget = new SharedBudget(new SqlCredentialBudget(db, CREDENTIAL, id), daemonLog, { now: clock.now, intervalMs: 3_600_000 });
    shared.push(budget);
    const client = new GitHubClient({
      baseUrl: sim.url,
      token: TOKEN,
      timeoutMs: 10_000,
      userAgent: `autosolve/${id}`,
      fetch: clock.fetch,
      throttle: { minIntervalMs: 0, now: clock.now, sleep: clock.sleep, sharedWrites: budget.writes, ...throttle },
      telemetry: { onHold: (info) => budget.learnt(info), onWait: ({ reason }) => waits.push(reason) },
    });
    await budget.start(client);
    return { client, budget };
  }

  const startsBy = (sim: Simulator, id: string, method: string): number[] =>
    sim.requests.filter((r) => r.method === method && (r.userAgent ?? '').startsWith(`autosolve/${id} `)).map((r) => r.startedAt - START);

  /** The most starts in any 60 s window. */
  const busiestMinute = (starts: readonly number[]): number => Math.max(...starts.map((from) => starts.filter((at) => at >= from && at < from + 60_000).length));

  it('never starts two comments less than the gap apart, nor more than the minute allows, across three daemons', async () => {
    const clock = timerClock(START);
    const sim = await simulate(clock);
    const writes = { writeMinIntervalMs: RULES.minIntervalMs, writesPerMinute: RULES.perMinute, writesPerHour: 100 };
    const daemons = await Promise.all(['a', 'b', 'c'].map((id) => daemon(id, sim, clock, writes)));

    await Promise.all(
      daemons.map(async ({ client }, n) => {
        for (let i = 0; i < 3; i++) await client.createComment(REPO, 1, `daemon ${n}, comment ${i}`, signal());
      }),
    );

    const starts = sim.requests.filter((r) => r.method === 'POST').map((r) => r.startedAt - START).sort((x, y) => x - y);
    assert.equal(starts.length, 9, 'every comment was posted');
    for (const id of ['a', 'b', 'c']) assert.equal(startsBy(sim, id, 'POST').length, 3, `daemon ${id} posted its three`);
    const gaps = starts.slice(1).map((at, i) => at - (starts[i] as number));
    assert.ok(Math.min(...gaps) >= RULES.minIntervalMs, `comments 1 s apart or more, got starts ${starts.join(', ')}`);
    assert.equal(busiestMinute(starts), RULES.perMinute, `at most three comments a minute, got starts ${starts.join(', ')}`);
    assert.deepEqual(starts, [0, 1_000, 2_000, 60_000, 61_000, 62_000, 120_000, 121_000, 122_000]);
  });

  it('holds every daemon when one learns a secondary limit: at its next look, and before any write', async () => {
    const clock = timerClock(START);
    const sim = await simulate(clock);
    const waitsB: WaitReason[] = [];
    const waitsC: WaitReason[] = [];
    const a = await daemon('a', sim, clock, {});
    const b = await daemon('b', sim, clock, {}, waitsB);
    const c = await daemon('c', sim, clock, { writeMinIntervalMs: 0 }, waitsC);
    sim.injectFault({ kind: 'secondary-rate-limit', retryAfterSeconds: 120, match: { method: 'GET', path: '/repos/acme/api' } });

    await assert.rejects(a.client.getRepository(REPO, signal()), /rate limit/i);
    const limitedAt = clock.now() - START;
    await a.budget.settled();
    await b.budget.refresh();
    await Promise.all([b.client.getRepository(REPO, signal()), c.client.createComment(REPO, 1, 'held too', signal())]);

    const [readAt] = startsBy(sim, 'b', 'GET');
    const [writeAt] = startsBy(sim, 'c', 'POST');
    assert.ok(readAt !== undefined && readAt >= limitedAt + 120_000, `b's read waited for a's retry-after (limited at ${limitedAt}, read at ${readAt})`);
    assert.ok(waitsB.includes('retry-after'), `b was held for retry-after, not ${waitsB.join(', ')}`);
    assert.ok(writeAt !== undefined && writeAt >= limitedAt + 120_000, `c's comment, reserved before c looked, waited too (at ${writeAt})`);
  });

  it("divides each daemon's REST points a minute by the live daemons", async () => {
    const clock = timerClock(START);
    const sim = await simulate(clock);
    await registered('a');
    await registered('b');
    const daemons = await Promise.all(['a', 'b'].map((id) => daemon(id, sim, clock, { pointsPerMinute: 60 })));

    await Promise.all(
      daemons.map(async ({ client }) => {
        for (let i = 0; i < 40; i++) await client.getRepository(REPO, signal());
      }),
    );

    for (const id of ['a', 'b']) {
      const starts = startsBy(sim, id, 'GET');
      assert.equal(starts.length, 40);
      assert.equal(busiestMinute(starts), 30, `daemon ${id}: half of 60 points in any minute`);
      assert.equal(starts.at(-1), 39 * 2_000, `daemon ${id}: its reads 2 s apart, not 1 s`);
    }
    assert.equal(busiestMinute(sim.requests.map((r) => r.startedAt - START)), 60, 'together, the token\'s 60');
  });

  it('posts on its own budget, and says so, when the shared budget cannot be read', async () => {
    const clock = timerClock(START);
    const sim = await simulate(clock);
    const warnings: string[] = [];
    const recording: Log = { ...log, warn: (_fields, message) => void warnings.push(message), child: () => recording };
    const a = await daemon('a', sim, clock, { writeMinIntervalMs: 1_000 }, [], recording);
    await db.schema.dropTable('github_writes').execute();

    await a.client.createComment(REPO, 1, 'one', signal());
    await a.client.createComment(REPO, 1, 'two', signal());

    assert.deepEqual(startsBy(sim, 'a', 'POST'), [0, 1_000], 'both posted, still paced by its own budget');
    assert.equal(warnings.filter((w) => w.includes("sending it on this daemon's own budget")).length, 2);
  });
});

describe('a share of the throttle', () => {
  it('divides the concurrency cap by the share, and a smaller share frees a waiting request at once', async () => {
    const throttle = new RequestThrottle({ minIntervalMs: 0, maxConcurrent: 4, share: 2 });
    const running = [await throttle.admit('GET'), await throttle.admit('GET')];
    let third = false;
    const waiting = throttle.admit('GET').then((release) => {
      third = true;
      return release;
    });
    await flush();
    assert.equal(third, false, 'two of four slots while two daemons share the token');

    throttle.setShare(1);
    running.push(await waiting);
    assert.equal(third, true);
    for (const release of running) release();
  });

  it('refuses a share below one', () => {
    assert.throws(() => new RequestThrottle({ minIntervalMs: 0, share: 0.5 }), /share must be a number >= 1/);
  });
});
