/**
 * The kill campaign's tests (the harness is kill-campaign.ts): SIGKILLs of the
 * real daemon at points across poll, executor, post and complete, in campaigns
 * of fixed seeds; after each one's clean final run every eligible issue has
 * exactly one answer. test/kill-campaign-*.test.ts hold 100 kills together;
 * `npm run bench:chaos` runs longer ones with figures.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileCli } from './cli.js';
import { KILL_POINTS, runCampaign, type CampaignResult, type KillPoint } from './kill-campaign.js';

const ROUNDS_EACH = 25;

/** One test file's share of the campaign (the suite runs files in parallel, each under the test timeout). */
export function killCampaignSuite(name: string, seeds: readonly number[]): void {
  describe(`kill campaign ${name}`, () => {
    let build: { main: string; cleanup: () => void };
    const kills: Record<KillPoint | 'watchdog', number> = { poll: 0, executor: 0, post: 0, complete: 0, anytime: 0, watchdog: 0 };
    before(() => {
      build = compileCli();
    });
    after(() => build.cleanup());

    for (const seed of seeds) {
      it(`seed ${seed}: ${ROUNDS_EACH} kills, then a clean run leaves every eligible issue with exactly one answer`, async () => {
        const result = await runCampaign({ seed, rounds: ROUNDS_EACH, main: build.main });
        for (const [point, count] of Object.entries(result.kills)) kills[point as KillPoint | 'watchdog'] += count;
        const summary = summaryOf(result);
        assert.equal(result.final.code, 0, `the final run failed:\n${result.final.stderr.slice(-3_000)}${result.final.stdout.slice(-3_000)}`);
        assert.equal(result.duplicates, 0, `issues answered twice: ${summary}`);
        assert.equal(result.missing, 0, `eligible issues left unanswered: ${summary}`);
        assert.equal(result.unwanted, 0, `answers on issues that never asked: ${summary}`);
        assert.ok(result.eligible > 0, summary);
      });
    }

    it('killed at every kind of point, and rarely by the watchdog alone', () => {
      const total = seeds.length * ROUNDS_EACH;
      for (const point of KILL_POINTS) assert.ok(kills[point] > 0, `no kill at ${point}: ${JSON.stringify(kills)}`);
      assert.ok(kills.watchdog <= total / 10, `too many rounds never reached their kill point: ${JSON.stringify(kills)}`);
    });
  });
}

function summaryOf(result: CampaignResult): string {
  return JSON.stringify({ kills: result.kills, eligible: result.eligible, duplicates: result.duplicates, missing: result.missing, unwanted: result.unwanted });
}
