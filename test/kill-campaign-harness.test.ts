/**
 * The kill campaign's harness (test/support/kill-campaign.ts) leaves no
 * process behind, however a campaign ends: a daemon from a failing run was
 * once found still running. A `run` daemon never exits by itself.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alive } from './support/agents.js';
import { runCampaign } from './support/kill-campaign.js';

describe('kill campaign harness', () => {
  it('a round that fails midway kills the daemon it started', async () => {
    const pids: number[] = [];
    const failing = (pid: number) => {
      pids.push(pid);
      throw new Error('planted: the round fails right after its daemon started');
    };
    await assert.rejects(runCampaign({ seed: 1, rounds: 3, onProcess: failing }), /planted/);
    assert.equal(pids.length, 1);
    assert.equal(alive(pids[0] as number), false, `daemon ${pids[0]} is still running`);
  });

  it("an aborted campaign (a test's timeout) stops, and kills every daemon it started", async () => {
    const controller = new AbortController();
    const pids: number[] = [];
    const aborting = (pid: number) => {
      pids.push(pid);
      controller.abort();
    };
    await assert.rejects(runCampaign({ seed: 1, rounds: 3, signal: controller.signal, onProcess: aborting }), { name: 'AbortError' });
    assert.equal(pids.length, 1, 'no round after the abort');
    assert.equal(alive(pids[0] as number), false, `daemon ${pids[0]} is still running`);
  });
});
