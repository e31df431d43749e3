/**
 * `autosolve explain owner/name#N`: the routing of one real issue (each rule's
 * verdict), the rendered prompt, the executor's answer; posted only with
 * --post, exactly once. Against the GitHub simulator, with the CLI as a child
 * process and a command executor that records what it received.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { contentHash } from '../src/domain/content-hash.js';
import { COMMENT_MARKER } from '../src/domain/entities.js';
import { readMarker } from '../src/domain/marker.js';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir, writeFile, type CliResult } from './support/cli.js';
import { daemonConfig, simulator } from './support/daemon.js';

const REC_SECRET = 'rec-secret-value-4242';

/** A command executor that records its input and answers with the title and a secret it was handed. */
function recorder(dir: string) {
  const calls = join(dir, 'calls.jsonl');
  const script = writeFile(
    dir,
    'recorder.cjs',
    `const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify({ title: input.title, prompt: input.prompt }) + '\\n');
process.stdout.write('Recorded answer for ' + input.title + ' (leaked: ' + process.env.REC_SECRET + ')');
`,
  );
  const hang = writeFile(dir, 'hang.cjs', 'setInterval(() => {}, 1000);\n');
  return {
    run: [process.execPath, script],
    hang: [process.execPath, hang],
    calls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { title: string; prompt: string }) : []),
  };
}

/** An OpenAI-compatible stand-in that records the Authorization header and echoes it back in its answer. */
async function openaiStandIn(): Promise<{ server: Server; url: string; authorizations: string[] }> {
  const authorizations: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const auth = req.headers.authorization ?? '';
      authorizations.push(auth);
      const body = { model: 'stand-in', choices: [{ message: { role: 'assistant', content: `Answer; my key is ${auth.replace(/^Bearer /, '')}` } }] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, authorizations };
}

void describe('autosolve explain', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator;
  let model: Awaited<ReturnType<typeof openaiStandIn>>;
  let rec: ReturnType<typeof recorder>;
  let config: string;
  const OPENAI_KEY = 'sk-openai-fallback-key-31337';

  before(async () => {
    model = await openaiStandIn();
  });
  after(async () => {
    model.server.closeAllConnections();
    await new Promise((resolve) => model.server.close(resolve));
  });

  beforeEach(async () => {
    dir = tempDir();
    sim = await simulator([
      {
        owner: 'acme',
        name: 'api',
        issues: [
          { title: 'Crash on save', body: 'It crashes.', labels: ['bug'] },
          { title: '[question] how do I configure it?', body: 'Where is the file?' },
          { title: 'A pull request', labels: ['bug'], pullRequest: true },
        ],
      },
    ]);
    rec = recorder(dir.path);
    mkdirSync(join(dir.path, 'prompts'));
    writeFile(join(dir.path, 'prompts'), 'bug.md', 'BUG TEMPLATE for {{repository}}#{{number}}: {{title}}\n');
    config = daemonConfig(dir.path, sim, ['acme/api'], {
      executors: {
        rec: { provider: 'command', run: rec.run, passEnv: ['REC_SECRET'] },
        slow: { provider: 'command', run: rec.hang, timeout: '1s' },
        chat: { provider: 'openai', model: 'stand-in', baseUrl: model.url },
      },
      rules: [
        { when: { label: 'wontfix' }, then: { skip: true } },
        { when: { label: 'bug', event: ['opened', 'edited'] }, then: { executor: 'rec', prompt: { file: 'prompts/bug.md' } } },
        { when: { titleMatches: '^\\[question\\]' }, then: { executor: 'default' } },
      ] as unknown as Record<string, unknown>,
    }).file;
  });
  afterEach(async () => {
    await sim.close();
    dir.cleanup();
  });

  const explain = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    runCli(['explain', ...args, '--config', config], { cwd: dir.path, env: { REC_SECRET, OPENAI_API_KEY: OPENAI_KEY, ...env } });

  void it('shows each rule verdict, the deciding rule, the prompt and the answer, and posts nothing without --post', async () => {
    const result = await explain(['acme/api#1']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const out = result.stdout;
    assert.match(out, /acme\/api/);
    assert.match(out, /#1 Crash on save/);
    assert.match(out, /rules\[0\]\s+no\s+label: none of wontfix is present/);
    assert.match(out, /rules\[1\]\s+matches/);
    assert.match(out, /rules\[2\]\s+no\s+titleMatches: /);
    assert.match(out, /decided by rules\[1\]: executor rec/);
    assert.match(out, /BUG TEMPLATE for acme\/api#1: <untrusted-issue-title>Crash on save<\/untrusted-issue-title>/);
    assert.match(out, /Recorded answer for Crash on save/);
    assert.ok(!out.includes(REC_SECRET), 'a passEnv value reached the terminal');
    assert.match(out, /not posted/);
    assert.deepEqual(rec.calls().map((c) => c.title), ['Crash on save']);
    assert.match(rec.calls()[0]?.prompt ?? '', /^BUG TEMPLATE/);
    assert.equal(sim.comments('acme', 'api', 1).length, 0, 'nothing posted without --post');
  });

  void it('with --post posts exactly one answer comment, scrubbed, and refuses a second', async () => {
    const result = await explain(['acme/api#1', '--post']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const comments = sim.comments('acme', 'api', 1);
    assert.equal(comments.length, 1);
    const body = comments[0]?.body ?? '';
    assert.ok(body.startsWith(COMMENT_MARKER), body);
    assert.deepEqual(readMarker(body), { kind: 'answer', hash: contentHash({ title: 'Crash on save', body: 'It crashes.' }) }, 'the daemon can tell what it answered');
    assert.match(body, /Recorded answer for Crash on save \(leaked: \[secret removed\]\)/);
    assert.ok(!body.includes(REC_SECRET), 'an executor passEnv value was posted');
    assert.match(result.stdout, /posted: http/);
    assert.equal(sim.comments('acme', 'api', 2).length + sim.comments('acme', 'api', 3).length, 0, 'no other issue touched');

    const again = await explain(['acme/api#1', '--post']);
    assert.equal(again.code, 1, again.stdout + again.stderr);
    assert.match(again.stderr, /acme\/api#1 already has an autosolve comment/);
    assert.equal(sim.comments('acme', 'api', 1).length, 1, 'still one comment');
  });

  void it('says which override decided: --executor, --prompt, --rule (a skip rule runs nothing)', async () => {
    const promptFile = writeFile(dir.path, 'mine.md', 'MY PROMPT {{title}}');
    const overridden = await explain(['acme/api#1', '--executor', 'default', '--prompt', promptFile]);
    assert.equal(overridden.code, 0, overridden.stdout + overridden.stderr);
    assert.match(overridden.stdout, /decided by rules\[1\]: executor rec/);
    assert.match(overridden.stdout, /--executor default overrides/);
    assert.match(overridden.stdout, /--prompt .*mine\.md overrides/);
    assert.match(overridden.stdout, /MY PROMPT <untrusted-issue-title>Crash on save/);
    assert.match(overridden.stdout, /--- answer \(the demo executor \(no AI model\)\) ---/, 'the demo executor answered');
    assert.equal(rec.calls().length, 0, 'the rule executor did not run');

    const skipped = await explain(['acme/api#1', '--rule', '0']);
    assert.equal(skipped.code, 0, skipped.stdout + skipped.stderr);
    assert.match(skipped.stdout, /--rule 0 overrides/);
    assert.match(skipped.stdout, /nothing to run/);
    assert.equal(rec.calls().length, 0);

    const byRule = await explain(['acme/api#2', '--rule', '1']);
    assert.equal(byRule.code, 0, byRule.stdout + byRule.stderr);
    assert.match(byRule.stdout, /decided by rules\[2\]: executor default/);
    assert.deepEqual(rec.calls().map((c) => c.title), ['[question] how do I configure it?']);
  });

  void it('a pull request is answered only on --event mention', async () => {
    const opened = await explain(['acme/api#3']);
    assert.equal(opened.code, 0, opened.stdout + opened.stderr);
    assert.match(opened.stdout, /pull requests are answered only when mentioned/);
    assert.match(opened.stdout, /nothing to run/);
    const mention = await explain(['acme/api#3', '--event', 'mention']);
    assert.equal(mention.code, 0, mention.stdout + mention.stderr);
    assert.match(mention.stdout, /rules\[1\]\s+no\s+event: mention is not opened or edited/);
    assert.match(mention.stdout, /no rule matches/);
    assert.equal(rec.calls().length, 0);
    assert.equal(sim.comments('acme', 'api', 3).length, 0);
  });

  void it('runs a named executor with its own timeout, and an openai executor with OPENAI_API_KEY, which it scrubs', async () => {
    const slow = await explain(['acme/api#2', '--executor', 'slow']);
    assert.equal(slow.code, 1, slow.stdout + slow.stderr);
    assert.match(slow.stderr, /did not finish within 1s/);

    // ai.openai.apiKey set apart: only the executor's fallback makes OPENAI_API_KEY a secret to scrub.
    const chat = await explain(['acme/api#2', '--executor', 'chat', '--post'], { AUTOSOLVE_AI_OPENAI_APIKEY: 'sk-default-executor-key-000' });
    assert.equal(chat.code, 0, chat.stdout + chat.stderr);
    assert.deepEqual(model.authorizations.slice(-1), [`Bearer ${OPENAI_KEY}`]);
    const [comment] = sim.comments('acme', 'api', 2);
    assert.match(comment?.body ?? '', /my key is \[secret removed\]/);
    assert.ok(!chat.stdout.includes(OPENAI_KEY), 'the key reached the terminal');
  });

  void it('usage mistakes exit 2 and GitHub failures exit 1, each naming what is wrong', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['acme/api'], 2, /expected owner\/name#number/],
      [['acme/api#1', '--rule', '7'], 2, /--rule 7: no such rule \(rules\[0\] to rules\[2\]\)/],
      [['acme/api#1', '--rule', 'first'], 2, /--rule: expected a rule index/],
      [['acme/api#1', '--executor', 'coder'], 2, /--executor coder: no executor named "coder" \(known: default, rec, slow, chat\)/],
      [['acme/api#1', '--prompt', 'missing.md'], 2, /--prompt .*missing\.md: file not found/],
      [['acme/api#1', '--event', 'closed'], 2, /--event/],
      [['acme/api#99'], 1, /issue #99 does not exist/],
      [['acme/nope#1'], 1, /acme\/nope/],
    ];
    for (const [args, code, message] of cases) {
      const result = await explain(args);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.equal(rec.calls().length, 0);
    assert.equal(sim.comments('acme', 'api', 1).length, 0);
  });
});
