/**
 * The kill campaign's tests (the harness is kill-campaign.ts): SIGKILLs of the
 * real daemon at points across polls, executor runs, reactions and writes of
 * answers, revisions and replies, in campaigns of fixed seeds, with issues,
 * edits and mentions between rounds. After each one's clean final run every
 * eligible issue has exactly one answer, for its title and body as they are
 * now, every mention that asks exactly one reply, nothing else any, and a
 * second clean run writes nothing. test/kill-campaign-*.test.ts hold 100
 * kills together; `npm run bench:chaos` runs longer ones with figures.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileCli } from './cli.js';
import { KILL_POINTS, runCampaign, WORK_KINDS, type CampaignResult, type KillPoint, type WorkKind } from './kill-campaign.js';

const ROUNDS_EACH = 25;

/** One test file's share of the campaign (the suite runs files in parallel, each under the test timeout). */
export function killCampaignSuite(name: string, seeds: readonly number[]): void {
  describe(`kill campaign ${name}`, () => {
    let build: { main: string; cleanup: () => void };
    const kills: Record<KillPoint | 'watchdog', number> = { poll: 0, executor: 0, react: 0, post: 0, complete: 0, anytime: 0, watchdog: 0 };
    const during: Record<WorkKind, number> = { answer: 0, revise: 0, reply: 0 };
    const asked = { answeredEdits: 0, askingMentions: 0, quietMentions: 0, mentionEdits: 0 };
    before(() => {
      build = compileCli();
    });
    after(() => build.cleanup());

    for (const seed of seeds) {
      it(`seed ${seed}: ${ROUNDS_EACH} kills, then a clean run leaves one answer per eligible issue for its text now, one reply per question, and nothing for a second run`, async (t) => {
        const result = await runCampaign({ seed, rounds: ROUNDS_EACH, main: build.main, signal: t.signal });
        for (const [point, count] of Object.entries(result.kills)) kills[point as KillPoint | 'watchdog'] += count;
        for (const kind of WORK_KINDS) during[kind] += result.killsDuring[kind];
        for (const key of Object.keys(asked) as Array<keyof typeof asked>) asked[key] += result.changes[key];
        const summary = summaryOf(result);
        assert.equal(result.final.code, 0, `the final run failed:\n${result.final.stderr.slice(-3_000)}${result.final.stdout.slice(-3_000)}`);
        assert.equal(result.duplicates, 0, `issues answered twice: ${summary}`);
        assert.equal(result.missing, 0, `eligible issues left unanswered: ${summary}`);
        assert.equal(result.unwanted, 0, `answers on issues that never asked: ${summary}`);
        assert.equal(result.staleAnswers, 0, `answers not for the issue's title and body as they are now: ${summary}`);
        assert.equal(result.duplicateReplies, 0, `mentions replied to twice: ${summary}`);
        assert.equal(result.missedMentions, 0, `mentions that asked and got no reply: ${summary}`);
        assert.equal(result.unwantedReplies, 0, `replies to comments that did not ask: ${summary}`);
        assert.equal(result.unseenMentions, 0, `mentions replied to without eyes: ${summary}`);
        assert.equal(result.settled.code, 0, `the second clean run failed:\n${result.settled.stderr.slice(-3_000)}`);
        assert.equal(result.settledWrites, 0, `the second clean run still wrote on GitHub: ${summary}`);
        assert.ok(result.eligible > 0 && result.asking > 0, summary);
      });
    }

    it('killed at every kind of point, during answers, revisions and replies, and rarely by the watchdog alone', () => {
      const total = seeds.length * ROUNDS_EACH;
      const figures = JSON.stringify({ kills, during, asked });
      for (const point of KILL_POINTS) assert.ok(kills[point] > 0, `no kill at ${point}: ${figures}`);
      for (const kind of WORK_KINDS) assert.ok(during[kind] > 0, `no kill during a ${kind}: ${figures}`);
      for (const [change, count] of Object.entries(asked)) assert.ok(count > 0, `the campaigns made no ${change}: ${figures}`);
      assert.ok(kills.watchdog <= total / 10, `too many rounds never reached their kill point: ${figures}`);
    });
  });
}

function summaryOf(result: CampaignResult): string {
  const { kills, killsDuring, changes, eligible, duplicates, missing, unwanted, staleAnswers, asking, missedMentions, duplicateReplies, unwantedReplies, unseenMentions, settledWrites, findings } = result;
  return JSON.stringify({ findings, kills, killsDuring, changes, eligible, duplicates, missing, unwanted, staleAnswers, asking, missedMentions, duplicateReplies, unwantedReplies, unseenMentions, settledWrites });
}
