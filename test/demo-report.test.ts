/**
 * The demo's report counts answers, revisions and replies apart (issue 12): a
 * follow-up's `answered` is a reply, not an answer, a revision edits the answer
 * in place, and neither makes an answered issue look answered twice. The real
 * daemon runs in process against the simulator, twice: an answer pass, then an
 * edit and a member's mention.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { App } from '../src/app.js';
import { collectOutcome, markerCounts, renderSummary, type DemoOutcome } from '../src/cli/demo-report.js';
import { loadConfig } from '../src/config/load.js';
import type { Simulator } from '../src/simulator/index.js';
import { tempDir } from './support/cli.js';
import { daemonConfig, simulator } from './support/daemon.js';

const LABEL = 'autosolve';
const PLACES = { database: 'a.db', config: 'c.yml', log: 'd.log', requiredLabel: LABEL, elapsedMs: 1000 };

describe('the demo report with revisions and replies', () => {
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

  it('counts the answers, the revision and the reply apart, and finds nothing wrong', async () => {
    sim = await simulator([
      {
        owner: 'demo',
        name: 'api',
        issues: [
          { title: 'Crash on save', body: 'It crashes.', labels: [LABEL] },
          { title: 'Slow start', body: 'Takes a minute.', labels: [LABEL] },
          { title: 'Unlabelled', body: 'Left alone.' },
        ],
      },
    ]);
    const { file } = daemonConfig(dir.path, sim, ['demo/api'], { github: { issues: { requiredLabel: LABEL, backlog: 'answer' } } });
    app = await App.create(loadConfig({ file, env: {} }).config, pino({ level: 'silent' }));
    const repositories = [{ owner: 'demo', name: 'api' }];
    const before = markerCounts(sim, repositories);
    const signal = new AbortController().signal;
    await app.run(signal, { once: true });
    sim.updateIssue('demo', 'api', 1, { body: 'It crashes when the disk is full.' });
    sim.addComment('demo', 'api', 2, { user: 'maria', authorAssociation: 'MEMBER', body: '@autosolve is it the cache?' });
    await app.run(signal, { once: true });

    const outcome = await collectOutcome(app, sim, repositories, before, LABEL);
    assert.deepEqual(outcome.problems, [], 'a reply beside an answer, or an answer edited in place, is no problem');
    assert.deepEqual(
      outcome.rows.map((r) => ({ ...r })),
      [{ repository: 'demo/api', synced: 3, eligible: 2, answered: 2, revised: 1, replies: 1, alreadyAnswered: 0, backlog: 0, comments: 3 }],
    );
    assert.deepEqual(outcome.skipped, []);
    assert.ok(outcome.examples.every((example) => !/autosolve:reply/.test(example.body)), 'the examples are answers, not replies');

    const summary = renderSummary(outcome, PLACES);
    assert.match(summary, /^ {2}repository\s+issues\s+eligible\s+answered\s+revised\s+replies\s+skipped\s+comments$/m);
    assert.match(summary, /^ {2}total\s+3\s+2\s+2\s+1\s+1\s+0\s+3$/m);
    assert.match(summary, /^ {2}revised: {2}answers edited in place after their issue's title or body changed$/m);
    assert.match(summary, /^ {2}replies: {2}replies to mentions of @autosolve by trusted authors$/m);
    const tableLines = summary.split('\n').filter((line) => /^ {2}(repository|demo\/api|-+|total)\s/.test(line));
    assert.equal(tableLines.length, 4);
    for (const line of tableLines) assert.ok([...line].length <= 80, `the table is too wide: ${line}`);
  });

  it('leaves the revised and replies columns out while there are none', () => {
    const row = { repository: 'demo/api', synced: 5, eligible: 2, answered: 2, revised: 0, replies: 0, alreadyAnswered: 1, backlog: 0, comments: 2 };
    const outcome: DemoOutcome = { rows: [row], examples: [], skipped: [], problems: [], backlogPolicy: 'skip' };
    const summary = renderSummary(outcome, PLACES);
    assert.match(summary, /^ {2}repository\s+issues\s+eligible\s+answered\s+skipped\s+comments$/m);
    assert.match(summary, /^ {2}total\s+5\s+2\s+2\s+1\s+2$/m);
    assert.doesNotMatch(summary, /revised|replies/);
  });
});
