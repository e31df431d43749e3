import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadConfig } from '../src/config/load.js';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, startCli, tempDir } from './support/cli.js';
import { backlog, daemonConfig, inspectDatabase, listRequests, simulator, TOKEN } from './support/daemon.js';

const NO_ANSWERS = { issues: { requiredLabel: 'label-nobody-uses' } };

describe('autosolve run (setup and polling)', () => {
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

  it('exits 1 naming an unknown repository, and no worker polls any repository', async () => {
    sim = await simulator([
      { owner: 'acme', name: 'api', issues: backlog(3) },
      { owner: 'acme', name: 'web', issues: backlog(3) },
    ]);
    const config = daemonConfig(dir.path, sim, ['acme/api', 'acme/ghost', 'acme/web'], { github: NO_ANSWERS });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /setup failed for 1 of 3 repositories; no worker was started/);
    assert.match(result.stderr, /acme\/ghost: .*the token cannot see acme\/ghost, or it does not exist/);
    assert.doesNotMatch(result.stderr, /acme\/api:|acme\/web:/);
    assert.equal(listRequests(sim).length, 0, 'no issue-list request for any repository');
    assert.doesNotMatch(result.stderr + result.stdout, new RegExp(TOKEN));
  });

  it('catches a 250-issue backlog up in one pass with 3 list requests, then gets 304s for free', async () => {
    sim = await simulator([
      { owner: 'acme', name: 'api', issues: backlog(250) },
      { owner: 'acme', name: 'web', issues: backlog(5) },
    ]);
    const config = daemonConfig(dir.path, sim, ['acme/api', 'acme/web'], { github: NO_ANSWERS });
    const first = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.equal(listRequests(sim, 'acme/api').length, 3);
    assert.equal(listRequests(sim, 'acme/web').length, 1);
    const stored = inspectDatabase(config.database, (db) => db.prepare('SELECT count(*) AS n FROM issues').get() as { n: number });
    assert.equal(stored.n, 255);

    sim.clearRequests();
    const budgetBefore = sim.rateLimitOf(TOKEN).remaining;
    const second = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(second.code, 0, second.stdout + second.stderr);
    const lists = listRequests(sim);
    assert.equal(lists.length, 2, 'one conditional request per repository');
    for (const request of lists) {
      assert.ok(request.ifNoneMatch, `${request.path} sent If-None-Match`);
      assert.equal(request.status, 304, `${request.path} answered 304`);
      assert.equal(request.rateLimitCost, 0);
    }
    // Only the two preflight reads cost anything.
    assert.equal(budgetBefore - sim.rateLimitOf(TOKEN).remaining, 2);
    const after = inspectDatabase(config.database, (db) => db.prepare('SELECT count(*) AS n, max(synced_at) AS s FROM issues').get() as { n: number });
    assert.equal(after.n, 255);
  });

  it('never skips an issue while the backlog shifts under it', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: backlog(250) }]);
    const owner = 'acme';
    const name = 'api';
    let pagesSeen = 0;
    sim.onRequest((request) => {
      if (request.path !== '/repos/acme/api/issues' || request.status !== 200 || !sim) return;
      pagesSeen++;
      if (pagesSeen === 1) {
        // One already read (moves to the end) and one not yet read.
        sim.updateIssue(owner, name, 10, { title: 'Issue 10 (edited after it was read)' });
        sim.updateIssue(owner, name, 150, { title: 'Issue 150 (edited before it was read)' });
      }
      if (pagesSeen === 2) {
        sim.updateIssue(owner, name, 20, { title: 'Issue 20 (edited while paging)' });
        sim.addComment(owner, name, 240, { body: 'a user comment bumps updated_at', user: 'bob' });
      }
    });
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: NO_ANSWERS });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 0, result.stdout + result.stderr);

    const stored = inspectDatabase(config.database, (db) =>
      db.prepare('SELECT number, title, updated_at FROM issues ORDER BY number').all() as Array<{ number: number; title: string; updated_at: string }>,
    );
    const truth = sim.issues(owner, name);
    assert.equal(stored.length, truth.length, 'every issue stored');
    for (const issue of truth) {
      const row = stored.find((r) => r.number === issue.number);
      assert.ok(row, `issue ${issue.number} stored`);
      assert.equal(row.title, issue.title, `issue ${issue.number} has its latest title`);
      assert.equal(row.updated_at, issue.updatedAt, `issue ${issue.number} has its latest updated_at`);
    }
  });

  it('retries 502s and a dropped connection until the pass completes', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: backlog(5) }]);
    sim.injectFault({ match: { method: 'GET', path: '/repos/acme/api/issues' }, kind: 'server-error', status: 502, times: 1 });
    sim.injectFault({ match: { method: 'GET', path: '/repos/acme/api/issues' }, kind: 'drop', times: 1 });
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: NO_ANSWERS });
    // The baseline's 5 s and 2 s, a hundred times shorter (test-only; README, Development).
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path, env: { AUTOSOLVE_TEST_RETRY_SCALE: '0.01' } });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /failed \(server busy\); retrying in 50ms: .*HTTP 502/);
    assert.match(result.stdout, /failed \(network\); retrying in 20ms: /);
    assert.match(result.stderr, /warning: AUTOSOLVE_TEST_RETRY_SCALE=0\.01: retry waits are 0\.01 times the usual; for tests only/);
    // 502, then the dropped connection (no response: status 0), then success.
    assert.deepEqual(listRequests(sim).map((r) => r.status), [502, 0, 200]);
    assert.equal(inspectDatabase(config.database, (db) => (db.prepare('SELECT count(*) AS n FROM issues').get() as { n: number }).n), 5);
  });

  it('refuses a test retry scale that would lengthen the waits or is not a number, before any request', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: backlog(1) }]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: NO_ANSWERS });
    const refusal = (value: string) => new RegExp(`AUTOSOLVE_TEST_RETRY_SCALE: expected a factor above 0 and at most 1 \\(test-only: it shortens retry waits\\), got "${value}"`);
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path, env: { AUTOSOLVE_TEST_RETRY_SCALE: '2' } });
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, refusal('2'));
    assert.equal(sim.requests.length, 0);
    // The other refusals in-process: one CLI start is enough to show the exit code.
    for (const value of ['0', '-1', 'fast', '']) {
      assert.throws(() => loadConfig({ file: config.file, env: { AUTOSOLVE_TEST_RETRY_SCALE: value } }), refusal(value));
    }
  });

  it('sends no request while the primary budget is spent, then succeeds after the reset', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: backlog(5) }]);
    const resetAt = Math.ceil(Date.now() / 1000) + 3;
    // The preflight's response will say remaining 0: the throttle must hold everything after it.
    sim.setRateLimit(TOKEN, { remaining: 1, resetAt });
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: NO_ANSWERS });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const [preflight, ...rest] = sim.requests;
    assert.equal(preflight?.status, 200);
    assert.ok(rest.length > 0);
    for (const request of rest) {
      assert.ok(request.startedAt >= resetAt * 1000, `${request.method} ${request.path} was sent ${resetAt * 1000 - request.startedAt} ms before the reset`);
      assert.notEqual(request.status, 403);
    }
  });

  it('stops on SIGTERM with exit 0, an intact database and a cursor that matches the stored issues', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: backlog(400) }]);
    // Slow pages, so SIGTERM lands mid-walk.
    sim.injectFault({ match: { method: 'GET', path: '/repos/acme/api/issues' }, kind: 'delay', ms: 300, times: 100 });
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: NO_ANSWERS });
    const daemon = startCli(['run', '--config', config.file], { cwd: dir.path });
    await new Promise<void>((resolve) => {
      const stop = sim?.onRequest((request) => {
        if (request.path === '/repos/acme/api/issues' && request.status === 200) {
          stop?.();
          resolve();
        }
      });
    });
    daemon.child.kill('SIGTERM');
    const result = await daemon.finished;
    // Exit 0 is the stop within the grace: its expiry aborts what is in flight and exits 1 (a clock here would measure the machine).
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.doesNotMatch(result.stdout + result.stderr, /shutdown grace of .* expired/);
    assert.match(result.stdout, /SIGTERM: stopping/);

    inspectDatabase(config.database, (db) => {
      assert.deepEqual(db.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
      const cursor = db.prepare(`SELECT since, page FROM sync_cursors WHERE topic = 'issues'`).get() as { since: string | null; page: number } | undefined;
      const stored = new Set((db.prepare('SELECT number FROM issues').all() as Array<{ number: number }>).map((r) => r.number));
      if (cursor?.since) {
        // Everything before the cursor is stored: resuming from it cannot lose an issue.
        const before = sim?.issues('acme', 'api').filter((i) => Date.parse(i.updatedAt) < Date.parse(cursor.since ?? '')) ?? [];
        for (const issue of before) assert.ok(stored.has(issue.number), `issue ${issue.number} is before the cursor but not stored`);
      }
    });
  });
});
