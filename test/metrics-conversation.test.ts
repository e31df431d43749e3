/**
 * Conversation in /metrics (issue 12): the comment poller's passes, counted by
 * outcome apart from the issue polls, and queue jobs settled by type (answer,
 * revise, follow-up) and outcome; the older series keep their names and labels.
 * The wiring is checked on a real daemon in process against the simulator: an
 * answer, then an edit and a member's mention, each settled and counted.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { App } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { DaemonMetrics } from '../src/infra/telemetry/metrics.js';
import type { Simulator } from '../src/simulator/index.js';
import { tempDir } from './support/cli.js';
import { daemonConfig, simulator } from './support/daemon.js';

/** The label sets of every sample of `name`, with the value. */
function series(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const found: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const match of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const labels = Object.fromEntries([...(match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1] ?? '', l[2] ?? '']));
    found.push({ labels, value: Number(match[2]) });
  }
  return found;
}

const table = (text: string, name: string, ...labels: string[]) =>
  series(text, name)
    .map((s) => [...labels.map((label) => s.labels[label] ?? '-'), s.value])
    .sort((a, b) => String(a).localeCompare(String(b)));

const noQueue = async () => ({ pending: 0, running: 0, done: 0, dead: 0 });

describe('conversation metrics', () => {
  it('counts comment polls by outcome apart from issue polls, discovered repositories under their owner', async () => {
    const metrics = new DaemonMetrics({ queueCounts: noQueue, ownSeries: ['acme/api'] });
    metrics.pollFinished('acme/api', 'changed');
    for (const outcome of ['changed', 'not_modified', 'not_modified', 'held', 'error'] as const) metrics.commentPollFinished('acme/api', outcome);
    metrics.commentPollFinished('big/repo-1', 'not_modified');
    metrics.commentPollFinished('Big/repo-2', 'not_modified');
    const text = await metrics.metrics();
    assert.deepEqual(table(text, 'autosolve_comment_polls_total', 'repository', 'outcome'), [
      ['acme/api', 'changed', 1],
      ['acme/api', 'error', 1],
      ['acme/api', 'held', 1],
      ['acme/api', 'not_modified', 2],
      ['big/*', 'not_modified', 2],
    ]);
    assert.deepEqual(table(text, 'autosolve_polls_total', 'repository', 'outcome'), [['acme/api', 'changed', 1]], 'issue polls are counted as before, comment polls apart');
  });

  it('counts settled jobs by type and outcome, and still by outcome alone', async () => {
    const metrics = new DaemonMetrics({ queueCounts: noQueue });
    const observer = metrics.dispatchObserver();
    observer.jobSettled?.({ repository: 'acme/api', number: 1, outcome: 'answered', type: 'answer' });
    observer.jobSettled?.({ repository: 'acme/api', number: 1, outcome: 'revised', type: 'revise' });
    observer.jobSettled?.({ repository: 'acme/api', number: 1, outcome: 'current', type: 'revise' });
    observer.jobSettled?.({ repository: 'acme/api', number: 1, outcome: 'answered', type: 'follow-up' });
    observer.jobSettled?.({ repository: 'acme/api', number: 2, outcome: 'skipped', type: 'follow-up' });
    observer.jobSettled?.({ repository: '?', number: 0, outcome: 'not-eligible' });
    const text = await metrics.metrics();
    assert.deepEqual(table(text, 'autosolve_queue_jobs_settled_by_type_total', 'type', 'outcome'), [
      ['answer', 'answered', 1],
      ['follow-up', 'answered', 1],
      ['follow-up', 'skipped', 1],
      ['revise', 'current', 1],
      ['revise', 'revised', 1],
      ['unknown', 'not-eligible', 1],
    ]);
    assert.deepEqual(table(text, 'autosolve_queue_jobs_settled_total', 'outcome'), [
      ['answered', 2],
      ['current', 1],
      ['not-eligible', 1],
      ['revised', 1],
      ['skipped', 1],
    ]);
  });
});

describe('conversation metrics of a running daemon', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  let app: App | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await sim?.close();
    sim = undefined;
    dir.cleanup();
  });

  it('counts the comment poller passes and the answer, the revision, the follow-up and a dead answer, each by its type', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Crash on save', body: 'It crashes.' }, { title: 'Broken beyond words', body: '...' }] }]);
    const { file } = daemonConfig(dir.path, sim, ['acme/api'], {
      github: { issues: { backlog: 'answer' } },
      http: { listen: '127.0.0.1:0' },
      ai: { maxAttempts: 1 },
      // #2's executor fails: its one attempt spent, the job is dead.
      executors: { failing: { provider: 'command', run: [process.execPath, '-e', 'process.exit(1)'] } },
      rules: [{ when: { titleMatches: '^Broken' }, then: { executor: 'failing' } }, { when: {}, then: { executor: 'default' } }],
    });
    app = await App.create(loadConfig({ file, env: {} }).config, pino({ level: 'silent' }));
    const signal = new AbortController().signal;
    await app.run(signal, { once: true });
    assert.equal(sim.comments('acme', 'api', 1).length, 1, 'answered');

    sim.updateIssue('acme', 'api', 1, { body: 'It crashes when the disk is full.' });
    sim.addComment('acme', 'api', 1, { user: 'maria', authorAssociation: 'MEMBER', body: '@autosolve does it happen on Windows too?' });
    await app.run(signal, { once: true });
    assert.equal(sim.comments('acme', 'api', 1).length, 3, 'the mention and its reply beside the answer');

    const text = await (await fetch(`${app.httpUrl ?? ''}/metrics`)).text();
    assert.deepEqual(table(text, 'autosolve_queue_jobs_settled_by_type_total', 'type', 'outcome'), [
      ['answer', 'answered', 1],
      ['answer', 'dead', 1],
      ['follow-up', 'answered', 1],
      ['revise', 'revised', 1],
    ]);
    const polls = table(text, 'autosolve_comment_polls_total', 'repository', 'outcome');
    assert.equal(polls.reduce((n, row) => n + Number(row[2]), 0), 2, `one comment poll per pass: ${JSON.stringify(polls)}`);
    assert.ok(polls.some(([repository, outcome]) => repository === 'acme/api' && outcome === 'changed'), 'the pass that found the mention');
    const issuePolls = table(text, 'autosolve_polls_total', 'repository', 'outcome');
    assert.equal(issuePolls.reduce((n, row) => n + Number(row[2]), 0), 2, `the issue polls counted apart, one per pass: ${JSON.stringify(issuePolls)}`);
  });
});
