/**
 * What the kill campaign (test/support/kill-campaign.ts) found, pinned down
 * without kills. A daemon killed right after it posted an answer, before it
 * settled the job, leaves the answer on GitHub and the job unsettled; the next
 * daemon finds the answer there and settles the job `already-answered`. That
 * answer is ours (this account's, with a hash in its marker) and must follow
 * the issue's edits like any other: the campaign found it stale for ever
 * (seeds 20261130 round 6, 4242 rounds 8 and 23, 99 once in four runs).
 * The state such a kill leaves is set up here directly: the answer already on
 * the issue when the daemon first sees it.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { contentHash } from '../src/domain/content-hash.js';
import { answerMarker, readMarker } from '../src/domain/marker.js';
import type { Simulator } from '../src/simulator/index.js';
import { recordingAgent } from './support/agents.js';
import { runCli, tempDir } from './support/cli.js';
import { daemonConfig, simulator } from './support/daemon.js';

const BEFORE = { title: 'Crash on start', body: 'It crashes.' };
const AFTER = { title: 'Crash on start with an empty config', body: 'It crashes when config.yml is empty.' };

describe('kill campaign findings: an answer posted just before a kill', () => {
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

  const once = async (config: string) => {
    const result = await runCli(['run', '--once', '--config', config], { cwd: dir.path });
    assert.equal(result.code, 0, result.stdout + result.stderr);
  };
  const patches = () => sim!.requests.filter((r) => r.method === 'PATCH' && /\/issues\/comments\/\d+$/.test(r.path)).length;

  /** The issue as `current`, with our answer to `answered` on it, posted (by this account) by a daemon killed before it settled. */
  async function leftByAKill(current: typeof BEFORE, answered: typeof BEFORE) {
    const posted = `${answerMarker(contentHash(answered))}\n### 🤖 autosolve triage\n\nAnswer for #1: ${answered.title}`;
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ ...current, labels: ['autosolve'], comments: [{ body: posted }] }] }]);
    const agent = recordingAgent(dir.path, 'model');
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { requiredLabel: 'autosolve' } }, ai: { provider: 'command', command: { run: agent.run } } });
    return { agent, config };
  }

  const answerOnIssue = () => {
    const answers = sim!.comments('acme', 'api', 1).filter((c) => readMarker(c.body)?.kind === 'answer');
    assert.equal(answers.length, 1, 'one answer, never a second');
    return readMarker(answers[0]?.body ?? null);
  };

  it('revises it after a later edit of the issue', async () => {
    const { config } = await leftByAKill(BEFORE, BEFORE);
    await once(config.file);
    assert.deepEqual(answerOnIssue(), { kind: 'answer', hash: contentHash(BEFORE) }, 'found, not answered twice');
    sim!.updateIssue('acme', 'api', 1, AFTER);
    await once(config.file);
    assert.equal(patches(), 1, 'the answer is edited in place');
    assert.deepEqual(answerOnIssue(), { kind: 'answer', hash: contentHash(AFTER) });
  });

  it('revises it when the issue was edited while no daemon ran', async () => {
    const { config } = await leftByAKill(AFTER, BEFORE);
    await once(config.file);
    assert.equal(patches(), 1, 'the answer is edited in place');
    assert.deepEqual(answerOnIssue(), { kind: 'answer', hash: contentHash(AFTER) });
  });
});
