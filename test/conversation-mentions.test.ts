/**
 * Follow-ups by mention through the CLI (issue 12): `autosolve run --once`
 * against the simulator. A trusted author's mention gets exactly one reply
 * (a new comment quoting the question, an `eyes` reaction on it); strangers,
 * bots, quotes, our own replies and edits of an answered mention get none; an
 * answer that itself says `@autosolve` cannot start a loop.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { readMarker } from '../src/domain/marker.js';
import type { Simulator } from '../src/simulator/index.js';
import { recordingAgent } from './support/agents.js';
import { runCli, tempDir } from './support/cli.js';
import { daemonConfig, simulator } from './support/daemon.js';

const LABELLED = ['autosolve'];

describe('conversation: follow-ups by mention', () => {
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
  const replies = (number: number) => sim!.comments('acme', 'api', number).filter((c) => readMarker(c.body)?.kind === 'reply');

  async function answered(answer?: string) {
    sim = await simulator([
      {
        owner: 'acme',
        name: 'api',
        issues: [
          { title: 'Crash on start', body: 'It crashes.', labels: LABELLED },
          { title: 'Add a flag', body: 'Please.', pullRequest: true },
        ],
      },
    ]);
    const agent = recordingAgent(dir.path, 'model', answer);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { requiredLabel: 'autosolve' } }, ai: { provider: 'command', command: { run: agent.run } } });
    await once(config.file);
    assert.equal(sim.comments('acme', 'api', 1).length, 1, 'the first answer');
    return { agent, config };
  }

  it("replies once to a member's mention, quoting it, with eyes on it, and never again", async () => {
    const { agent, config } = await answered();
    const question = sim!.addComment('acme', 'api', 1, { body: '@autosolve does this also happen on Windows?', user: 'maintainer', authorAssociation: 'MEMBER' });
    await once(config.file);
    const [reply] = replies(1);
    assert.ok(reply, 'one reply');
    assert.equal(replies(1).length, 1);
    assert.deepEqual(readMarker(reply.body), { kind: 'reply', to: question.id });
    assert.match(reply.body, /In reply to \[@\u200bmaintainer\]\([^)]*issuecomment-\d+\)/);
    assert.deepEqual(sim!.reactions('acme', 'api', question.id).map((r) => r.content), ['eyes']);
    const prompt = agent.calls().at(-1)?.prompt ?? '';
    assert.match(prompt, /does this also happen on Windows/, 'the question reached the executor');
    assert.match(prompt, /Answer from model for #1/, 'so did the earlier answer');

    // An edit of the answered mention, and more passes: no second reply.
    sim!.editComment('acme', 'api', question.id, '@autosolve does this also happen on Windows 11?');
    await once(config.file);
    await once(config.file);
    assert.equal(replies(1).length, 1);
    assert.equal(agent.calls().length, 2);
  });

  it('answers nobody who may not ask: a stranger, a bot, a quoted mention, code', async () => {
    const { agent, config } = await answered();
    sim!.addComment('acme', 'api', 1, { body: '@autosolve please fix it for me', user: 'passer-by', authorAssociation: 'NONE' });
    sim!.addComment('acme', 'api', 1, { body: '@autosolve run the checks', user: 'ci', bot: true, authorAssociation: 'MEMBER' });
    sim!.addComment('acme', 'api', 1, { body: '> @autosolve please fix it for me\n\nPlease do not ask the bot that.', user: 'maintainer', authorAssociation: 'OWNER' });
    sim!.addComment('acme', 'api', 1, { body: 'Run `@autosolve` in the shell, or\n\n```\n@autosolve\n```', user: 'maintainer', authorAssociation: 'OWNER' });
    await once(config.file);
    assert.equal(replies(1).length, 0);
    assert.equal(agent.calls().length, 1, 'only the first answer ran the executor');
  });

  it('ends with one reply when the answer itself mentions @autosolve', async () => {
    const { agent, config } = await answered('Ask @autosolve again if this does not help, @autosolve.');
    sim!.addComment('acme', 'api', 1, { body: 'Thanks @autosolve, what about macOS?', user: 'owner', authorAssociation: 'OWNER' });
    for (let pass = 0; pass < 3; pass++) await once(config.file);
    assert.equal(replies(1).length, 1);
    assert.equal(agent.calls().length, 2);
    assert.doesNotMatch(replies(1)[0]?.body ?? '', /(^|[^\u200b])@autosolve/, 'our mentions are neutralised');
  });

  it('shows a failing comment poll in status, naming it', async () => {
    const { config } = await answered();
    sim!.injectFault({ kind: 'status', status: 403, body: { message: 'Resource not accessible by personal access token' }, match: { path: '/repos/acme/api/issues/comments' }, times: 10 });
    await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    const status = await runCli(['status', '--json', '--config', config.file], { cwd: dir.path });
    assert.equal(status.code, 0, status.stderr);
    const [repository] = (JSON.parse(status.stdout) as { repositories: Array<{ repository: string; lastError: string | null }> }).repositories;
    assert.match(repository?.lastError ?? '', /^comments: .*comments of acme\/api/);
    const text = await runCli(['status', '--config', config.file], { cwd: dir.path });
    assert.match(text.stdout, /comments: /);
  });

  it('polls no comments when nobody may ask (ai.mentionFrom: [])', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Crash', body: 'It crashes.', labels: LABELLED }] }]);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { requiredLabel: 'autosolve' } }, ai: { mentionFrom: [] } });
    await once(config.file);
    sim.addComment('acme', 'api', 1, { body: '@autosolve and on Windows?', user: 'maintainer', authorAssociation: 'MEMBER' });
    await once(config.file);
    assert.equal(replies(1).length, 0);
    assert.equal(sim.requests.filter((r) => r.path.endsWith('/issues/comments')).length, 0, 'no comment listing');
  });

  it('replies on a pull request only when mentioned', async () => {
    const { config } = await answered();
    assert.equal(sim!.comments('acme', 'api', 2).length, 0, 'no answer on a pull request');
    sim!.addComment('acme', 'api', 2, { body: '@autosolve is this safe to merge?', user: 'reviewer', authorAssociation: 'COLLABORATOR' });
    await once(config.file);
    assert.equal(replies(2).length, 1);
  });
});

describe('conversation: mentions in a fleet streamed by organisation', () => {
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

  it('finds a mention in a repository the organisation stream watches, with one comment listing of that repository only', async () => {
    sim = await simulator([
      { owner: 'acme', name: 'api', issues: [{ title: 'Crash on start', body: 'It crashes.', labels: LABELLED }] },
      { owner: 'acme', name: 'web' },
    ]);
    const config = daemonConfig(dir.path, sim, [], { github: { organizations: ['acme'], issues: { requiredLabel: 'autosolve' } } });
    const once = async () => {
      const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
      assert.equal(result.code, 0, result.stdout + result.stderr);
      return result;
    };
    assert.match((await once()).stdout, /streamed: 2/);
    assert.equal(sim.comments('acme', 'api', 1).length, 1, 'the first answer');
    sim.clearRequests();
    const question = sim.addComment('acme', 'api', 1, { body: '@autosolve and on Windows?', user: 'maintainer', authorAssociation: 'MEMBER' });
    await once();
    const replies = sim.comments('acme', 'api', 1).filter((c) => readMarker(c.body)?.kind === 'reply');
    assert.deepEqual(replies.map((c) => readMarker(c.body)), [{ kind: 'reply', to: question.id }]);
    const listings = sim.requests.filter((r) => r.method === 'GET' && /^\/repos\/acme\/[^/]+\/issues\/comments$/.test(r.path)).map((r) => r.path);
    assert.deepEqual(listings, ['/repos/acme/api/issues/comments'], 'only the repository whose issue changed was listed');
  });
});
