/**
 * Issue 11's multi-daemon run: three `autosolve run` processes on one
 * PostgreSQL schema and one simulator with 300 repositories, issues arriving
 * over time, one daemon killed with SIGKILL and started again, another
 * stopped with SIGTERM (test/support/scale-out.ts). At the end every labelled
 * issue has exactly one marker comment, no other has any, every repository
 * was polled throughout, and GitHub's limits were never hit.
 *
 * Needs PostgreSQL (skipped with the reason without it; AUTOSOLVE_REQUIRE_POSTGRES=1 makes that a failure).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileCli } from './support/cli.js';
import { POSTGRES_URL, postgresMissing } from './support/engines.js';
import { runScaleOut, type ScaleOutResources, type ScaleOutResult } from './support/scale-out.js';
import { skipUnlessAvailable } from './support/skips.js';

/** The bound on a repository's gap between two polls: 30 s plus its interval. */
const GAP_ALLOWANCE_MS = 30_000;
/** The target for a killed daemon's repositories to be polled again. */
const TAKEOVER_TARGET_MS = 30_000;

const skip = skipUnlessAvailable({ what: `PostgreSQL at ${POSTGRES_URL}`, missing: await postgresMissing(), requiredBy: 'AUTOSOLVE_REQUIRE_POSTGRES' });

describe('scale-out: three daemons share a fleet of 300 repositories on PostgreSQL', { skip }, () => {
  let build: ReturnType<typeof compileCli> | undefined;
  let resources: ScaleOutResources | undefined;
  let result: ScaleOutResult;
  const progress: string[] = [];

  before(async () => {
    build = compileCli();
    result = await runScaleOut({ main: build.main, log: (line) => progress.push(line) }, (tracked) => (resources = tracked));
  }, { timeout: 300_000 });

  after(async () => {
    // Whatever failed: no daemon, schema or folder is left behind.
    await resources?.cleanup();
    build?.cleanup();
  });

  it('answers every labelled issue exactly once, and no other', (t) => {
    for (const line of progress) t.diagnostic(line);
    assert.ok(result.labelled > 20, `only ${result.labelled} labelled issues: the run did not exercise the daemons`);
    assert.deepEqual(result.duplicates, [], 'issues answered more than once');
    assert.deepEqual(result.missing, [], 'labelled issues never answered');
    assert.deepEqual(result.unwanted, [], 'unlabelled issues answered');
  });

  it('polls every repository throughout, no gap longer than 30 s + its interval', (t) => {
    const bound = GAP_ALLOWANCE_MS + result.intervalMs;
    const worst = result.gaps[0];
    if (worst) t.diagnostic(`longest gap: ${(worst.ms / 1000).toFixed(1)} s (${worst.repository}), bound ${bound / 1000} s`);
    const over = result.gaps.filter((gap) => gap.ms > bound);
    assert.deepEqual(
      over.slice(0, 5).map((gap) => `${gap.repository}: ${(gap.ms / 1000).toFixed(1)} s from ${new Date(gap.from).toISOString()}`),
      [],
      `${over.length} of ${result.repositories} repositories went unpolled longer than ${bound / 1000} s`,
    );
  });

  it('polls a killed daemon\'s repositories from another daemon within 30 s', () => {
    assert.ok(result.killed.fromLeases, 'the database has no work leases: which repositories the killed daemon held is unknown');
    assert.ok(result.killed.held > 0, 'the killed daemon held no repository');
    assert.equal(result.killed.exit.signal, 'SIGKILL');
    assert.ok(result.killed.ms !== null, `the ${result.killed.held} repositories it held were not all polled again within 40 s`);
    assert.ok(result.killed.ms <= TAKEOVER_TARGET_MS, `its repositories were polled again only ${result.killed.ms} ms after the kill`);
  });

  it('gives a restarted daemon its share again', () => {
    assert.ok(result.rejoinedMs !== null, 'the restarted daemon did not hold and poll its share within 40 s');
  });

  it('stops gracefully on SIGTERM, and the others take over its repositories', () => {
    assert.equal(result.stopped.exit.code, 0, result.stopped.exit.stderr.slice(-2_000));
    assert.ok(result.stopped.held > 0, 'the stopped daemon held no repository');
    assert.equal(result.stopped.stillOwned, 0, 'lease rows still named the stopped daemon after it exited: a graceful stop releases every lease');
    assert.ok(result.stopped.ms !== null, `the ${result.stopped.held} repositories it held were not all polled again within 40 s`);
    for (const exit of result.finalExits) assert.equal(exit.code, 0, exit.stderr.slice(-2_000));
  });

  it('never hits a GitHub rate limit', () => {
    assert.deepEqual(result.breaches.slice(0, 5), [], `${result.breaches.length} requests refused by a rate limit`);
  });
});
