/**
 * Conversation through the CLI (issue 12): `autosolve run --once` against the
 * simulator, with command executors that record what they received. An edit
 * re-analyses and edits the same comment, a label does not; the revision cap
 * holds; rules send issues to different executors.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { contentHash } from '../src/domain/content-hash.js';
import { readMarker } from '../src/domain/marker.js';
import type { Simulator } from '../src/simulator/index.js';
import { recordingAgent } from './support/agents.js';
import { runCli, tempDir } from './support/cli.js';
import { daemonConfig, inspectDatabase, simulator } from './support/daemon.js';

const LABELLED = ['autosolve'];

describe('conversation: re-analysis on edit and routing rules', () => {
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
    return result;
  };
  const patches = () => sim!.requests.filter((r) => r.method === 'PATCH' && /\/issues\/comments\/\d+$/.test(r.path)).length;
  const jobs = (database: string) =>
    inspectDatabase(database, (db) => db.prepare('SELECT type, state, outcome, last_error FROM jobs ORDER BY id').all() as Array<{ type: string; state: string; outcome: string | null; last_error: string | null }>);

  it('edits its own comment in place when the title or body changes, and leaves it alone for a label', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Crash on start', body: 'It crashes.', labels: LABELLED }] }]);
    const agent = recordingAgent(dir.path, 'model');
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { requiredLabel: 'autosolve' } }, ai: { provider: 'command', command: { run: agent.run } } });
    await once(config.file);
    const [first] = sim.comments('acme', 'api', 1);
    assert.ok(first, 'answered');
    assert.deepEqual(readMarker(first.body), { kind: 'answer', hash: contentHash({ title: 'Crash on start', body: 'It crashes.' }) });

    // A label, then a comment of someone else: neither changes what was answered.
    sim.updateIssue('acme', 'api', 1, { labels: [...LABELLED, 'bug'] });
    sim.addComment('acme', 'api', 1, { body: 'Same here.', user: 'someone' });
    await once(config.file);
    assert.equal(agent.calls().length, 1, 'no executor run for a label or a comment');
    assert.equal(patches(), 0);

    sim.updateIssue('acme', 'api', 1, { title: 'Crash on start with an empty config', body: 'It crashes when config.yml is empty.' });
    await once(config.file);
    const comments = sim.comments('acme', 'api', 1).filter((c) => readMarker(c.body) !== null);
    assert.equal(comments.length, 1, 'still one autosolve comment on the issue');
    assert.equal(comments[0]?.id, first.id, 'the same comment, edited in place');
    assert.equal(patches(), 1);
    assert.match(comments[0]?.body ?? '', /Answer from model for #1: Crash on start with an empty config/);
    assert.match(comments[0]?.body ?? '', /Updated after the issue was edited/);
    assert.deepEqual(readMarker(comments[0]?.body ?? ''), { kind: 'answer', hash: contentHash({ title: 'Crash on start with an empty config', body: 'It crashes when config.yml is empty.' }) });
    assert.equal(agent.calls().at(-1)?.title, 'Crash on start with an empty config', 'the executor saw the edited issue');

    // Our own edit bumped the issue: nothing more to do.
    await once(config.file);
    assert.equal(agent.calls().length, 2);
    assert.equal(patches(), 1);
  });

  it('revises an issue at most ai.maxRevisionsPerIssue times a day, and waits without spending an attempt', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Version 0', body: 'Body.', labels: LABELLED }] }]);
    const agent = recordingAgent(dir.path, 'model');
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { backlog: 'answer' } }, ai: { provider: 'command', command: { run: agent.run }, maxRevisionsPerIssue: 2 } });
    await once(config.file);
    for (let version = 1; version <= 3; version++) {
      sim.updateIssue('acme', 'api', 1, { title: `Version ${version}` });
      await once(config.file);
    }
    assert.equal(patches(), 2, 'two revisions, not three');
    const [comment] = sim.comments('acme', 'api', 1);
    assert.match(comment?.body ?? '', /Version 2/);
    const waiting = jobs(config.database).filter((job) => job.type === 'revise' && job.state === 'pending');
    assert.equal(waiting.length, 1, `the third revision waits: ${JSON.stringify(jobs(config.database))}`);
    assert.match(waiting[0]?.last_error ?? '', /maxRevisionsPerIssue/);
  });

  it('does not revise with github.issues.reanalyze: false', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Before', body: 'Body.', labels: LABELLED }] }]);
    const agent = recordingAgent(dir.path, 'model');
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { reanalyze: false, backlog: 'answer' } }, ai: { provider: 'command', command: { run: agent.run } } });
    await once(config.file);
    assert.equal(agent.calls().length, 1, 'answered');
    sim.updateIssue('acme', 'api', 1, { title: 'After' });
    await once(config.file);
    assert.equal(agent.calls().length, 1);
    assert.equal(patches(), 0);
  });

  it('routes issues by the first matching rule to named executors, and skips what a rule skips', async () => {
    sim = await simulator([
      {
        owner: 'acme',
        name: 'api',
        issues: [
          { title: 'Segfault in parser', body: 'Stack trace attached.', labels: ['bug'] },
          { title: '[question] How do I configure it?', body: 'Where is the file?' },
          { title: 'Spam', body: 'Buy now', labels: ['wontfix'] },
        ],
      },
    ]);
    const coder = recordingAgent(dir.path, 'coder');
    const triage = recordingAgent(dir.path, 'triage');
    const fallback = recordingAgent(dir.path, 'fallback');
    const config = daemonConfig(dir.path, sim, ['acme/api'], {
      github: { issues: { backlog: 'answer' } },
      ai: { provider: 'command', command: { run: fallback.run } },
      executors: { coder: { provider: 'command', run: coder.run }, triage: { provider: 'command', run: triage.run } },
      rules: [
        { when: { label: 'wontfix' }, then: { skip: true } },
        { when: { label: 'bug' }, then: { executor: 'coder', prompt: 'Fix {{title}} in {{repository}}' } },
        { when: { titleMatches: '^\\[question\\]' }, then: { executor: 'triage' } },
      ],
    });
    await once(config.file);
    assert.deepEqual(coder.calls().map((c) => [c.number, c.prompt]), [[1, 'Fix <untrusted-issue-title>Segfault in parser</untrusted-issue-title> in acme/api']]);
    assert.deepEqual(triage.calls().map((c) => c.number), [2]);
    assert.equal(fallback.calls().length, 0, 'the default executor answered nothing');
    assert.match(sim.comments('acme', 'api', 1)[0]?.body ?? '', /Answer from coder/);
    assert.match(sim.comments('acme', 'api', 2)[0]?.body ?? '', /Answer from triage/);
    assert.equal(sim.comments('acme', 'api', 3).length, 0, 'skipped');
    assert.deepEqual(
      jobs(config.database).map((job) => job.outcome),
      ['answered', 'answered', 'skipped'],
    );
  });
});
