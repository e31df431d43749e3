import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KILL_POINTS, runCampaign } from './support/kill-campaign.js';

const ROUNDS = Number(process.env.KILL_CAMPAIGN_ROUNDS ?? 100);

describe('kill campaign', () => {
  it(`SIGKILL at ${ROUNDS} points across poll, executor, post and complete: after a clean run every eligible issue has exactly one answer`, async () => {
    const result = await runCampaign({ seed: 20261130, rounds: ROUNDS });
    const summary = JSON.stringify({ kills: result.kills, eligible: result.eligible, duplicates: result.duplicates, missing: result.missing, unwanted: result.unwanted });
    assert.equal(result.final.code, 0, `the final run failed:\n${result.final.stderr.slice(-3_000)}`);
    assert.equal(result.duplicates, 0, `issues answered twice: ${summary}`);
    assert.equal(result.missing, 0, `eligible issues left unanswered: ${summary}`);
    assert.equal(result.unwanted, 0, `answers on issues that never asked: ${summary}`);
    assert.ok(result.eligible >= ROUNDS, summary);
    // The campaign really killed at every kind of point, not only by its watchdog.
    for (const point of KILL_POINTS) assert.ok(result.kills[point] > 0, `no kill at ${point}: ${summary}`);
    assert.ok(result.kills.watchdog <= ROUNDS / 10, `too many rounds never reached their kill point: ${summary}`);
  });
});
