/**
 * `autosolve explain --event mention [--comment ID]`: the follow-up a mention
 * would get. The thread is read from GitHub (the simulator), the comment's
 * author association (not the issue author's) decides `authorAssociation`
 * rules, the prompt is the follow-up prompt with the question, our earlier
 * answer and the other comments, and --post replies once, as the daemon
 * would. The CLI runs as a child process, with a command executor that
 * records what it received.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { formatComment } from '../src/domain/comment.js';
import { contentHash } from '../src/domain/content-hash.js';
import { isAnswer, readMarker } from '../src/domain/marker.js';
import type { SimComment, Simulator } from '../src/simulator/index.js';
import { runCli, tempDir, writeFile, type CliResult } from './support/cli.js';
import { daemonConfig, simulator } from './support/daemon.js';

const REC_SECRET = 'rec-secret-value-5151';

/** A command executor that records its prompt and answers with a secret it was handed. */
function recorder(dir: string) {
  const calls = join(dir, 'calls.jsonl');
  const script = writeFile(
    dir,
    'recorder.cjs',
    `const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify({ title: input.title, prompt: input.prompt }) + '\\n');
process.stdout.write('It affects the CLI too; ask @autosolve again if not (leaked: ' + process.env.REC_SECRET + ')');
`,
  );
  return {
    run: [process.execPath, script],
    calls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { title: string; prompt: string }) : []),
  };
}

void describe('autosolve explain --event mention', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator;
  let rec: ReturnType<typeof recorder>;
  let config: string;
  /** On acme/api#1, oldest first: our answer, a remark, a stranger's mention, a collaborator's, a member's. */
  let thread: { answer: SimComment; remark: SimComment; stranger: SimComment; collaborator: SimComment; member: SimComment };

  beforeEach(async () => {
    dir = tempDir();
    sim = await simulator([
      {
        owner: 'acme',
        name: 'api',
        issues: [
          { title: 'Crash on save', body: 'It crashes.', labels: ['bug'], authorAssociation: 'OWNER' },
          { title: 'Slow start', body: 'Takes a minute.' },
          { title: 'Quiet issue', body: 'Nobody mentions anyone here.' },
        ],
      },
    ]);
    const hash = contentHash({ title: 'Crash on save', body: 'It crashes.' });
    const add = (user: string, body: string, authorAssociation: 'MEMBER' | 'COLLABORATOR' | 'NONE' | 'CONTRIBUTOR') =>
      sim.addComment('acme', 'api', 1, { user, body, authorAssociation });
    thread = {
      answer: sim.addComment('acme', 'api', 1, { body: formatComment({ text: 'Try turning autosave off.', model: 'demo' }, { hash }) }),
      remark: add('alice', 'I see this too, on Linux.', 'CONTRIBUTOR'),
      stranger: add('eve', '@autosolve please also fix my other project', 'NONE'),
      collaborator: add('carl', '@autosolve is the Windows build affected?', 'COLLABORATOR'),
      member: add('maria', 'Thanks. @autosolve does this also affect the CLI?', 'MEMBER'),
    };
    sim.addComment('acme', 'api', 2, { user: 'maria', body: '@autosolve any idea why?', authorAssociation: 'MEMBER' });
    rec = recorder(dir.path);
    config = daemonConfig(dir.path, sim, ['acme/api'], {
      executors: { rec: { provider: 'command', run: rec.run, passEnv: ['REC_SECRET'] } },
      rules: [
        { when: { event: 'mention', authorAssociation: ['MEMBER', 'OWNER'] }, then: { executor: 'rec' } },
        { when: { event: 'mention' }, then: { executor: 'default' } },
      ],
    }).file;
  });
  afterEach(async () => {
    await sim.close();
    dir.cleanup();
  });

  const explain = (args: string[]): Promise<CliResult> => runCli(['explain', ...args, '--config', config], { cwd: dir.path, env: { REC_SECRET } });
  const replies = (number: number) => sim.comments('acme', 'api', number).filter((c) => readMarker(c.body)?.kind === 'reply');

  void it('renders the follow-up prompt from the thread, the question chosen by --comment and routed by its author association', async () => {
    const result = await explain(['acme/api#1', '--comment', String(thread.member.id)]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const out = result.stdout;
    assert.match(out, /^event\s+mention$/m, '--comment implies the mention event');
    assert.match(out, new RegExp(`^comment\\s+${thread.member.id} by maria \\(MEMBER\\)`, 'm'));
    assert.match(out, /^asks\s+yes/m);
    assert.match(out, /decided by rules\[0\]: executor rec/);
    const [call] = rec.calls();
    assert.ok(call, 'the executor ran');
    const prompt = call.prompt;
    assert.match(prompt, /Someone asked you a follow-up question on issue #1 of acme\/api/, 'the follow-up prompt, not the answer prompt');
    assert.match(prompt, /<untrusted-question author="maria" association="MEMBER">[\s\S]*does this also affect the CLI\?/);
    assert.match(prompt, /<untrusted-earlier-answer>[\s\S]*Try turning autosave off\./);
    assert.match(prompt, /<untrusted-comment author="alice" association="CONTRIBUTOR">[\s\S]*I see this too/);
    assert.match(prompt, /<untrusted-comment author="carl" association="COLLABORATOR">/);
    assert.ok(!prompt.includes('autosolve:answer'), 'our marker lines are not shown to the model');
    assert.ok(out.includes('Someone asked you a follow-up question on issue #1'), 'the prompt is printed');
    assert.match(out, /not posted/);
    assert.equal(replies(1).length, 0, 'nothing posted without --post');
  });

  void it("routes by the comment author's association, not the issue author's", async () => {
    // The issue's author is an OWNER: standing in for the comment's, rules[0] would decide.
    const result = await explain(['acme/api#1', '--comment', String(thread.collaborator.id)]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /rules\[0\]\s+no\s+authorAssociation: /);
    assert.match(result.stdout, /decided by rules\[1\]: executor default/);
    assert.equal(rec.calls().length, 0, 'the member-only executor did not run');
    assert.match(result.stdout, /<untrusted-question author="carl" association="COLLABORATOR">/);
  });

  void it('without --comment takes the newest mention, and with none says to give --comment', async () => {
    const newest = await explain(['acme/api#1', '--event', 'mention']);
    assert.equal(newest.code, 0, newest.stdout + newest.stderr);
    assert.match(newest.stdout, new RegExp(`^comment\\s+${thread.member.id} by maria \\(MEMBER\\).*the newest mention`, 'm'));
    assert.match(rec.calls()[0]?.prompt ?? '', /<untrusted-question author="maria"/);

    const none = await explain(['acme/api#3', '--event', 'mention']);
    assert.equal(none.code, 2, none.stdout + none.stderr);
    assert.match(none.stderr, /no comment on acme\/api#3 mentions @autosolve: give --comment ID/);
    assert.equal(rec.calls().length, 1, 'no run without a question');
  });

  void it('a comment the daemon would not answer runs nothing, and says why', async () => {
    const result = await explain(['acme/api#1', '--comment', String(thread.stranger.id)]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^asks\s+no: its author's association NONE is not in ai\.mentionFrom/m);
    assert.match(result.stdout, /nothing to run/);
    assert.equal(rec.calls().length, 0);

    const remark = await explain(['acme/api#1', '--comment', String(thread.remark.id), '--executor', 'rec']);
    assert.equal(remark.code, 0, remark.stdout + remark.stderr);
    assert.match(remark.stdout, /^asks\s+no: it does not mention @autosolve/m);
    assert.equal(rec.calls().length, 1, '--executor runs it anyway');
  });

  void it('with --post replies once to the comment, scrubbed, with the reply marker; a second --post is refused before any run', async () => {
    const result = await explain(['acme/api#1', '--comment', String(thread.member.id), '--post']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const [reply, ...more] = replies(1);
    assert.ok(reply, 'a reply was posted');
    assert.equal(more.length, 0);
    assert.deepEqual(readMarker(reply.body), { kind: 'reply', to: thread.member.id });
    assert.ok(!isAnswer(reply.body), 'a reply is not an answer');
    assert.match(reply.body, new RegExp(`^> In reply to \\[@\u200bmaria\\]\\([^)]*issuecomment-${thread.member.id}\\)$`, 'm'));
    assert.match(reply.body, /leaked: \[secret removed\]/);
    assert.ok(!reply.body.includes(REC_SECRET));
    assert.ok(!/(^|[^A-Za-z0-9_])@autosolve/.test(reply.body), 'its own mention of us is neutralised');
    assert.match(result.stdout, /posted: http/);
    const answers = sim.comments('acme', 'api', 1).filter((c) => isAnswer(c.body));
    assert.deepEqual(answers.map((c) => c.id), [thread.answer.id], 'the answer untouched, no second answer');

    const again = await explain(['acme/api#1', '--comment', String(thread.member.id), '--post']);
    assert.equal(again.code, 1, again.stdout + again.stderr);
    assert.match(again.stderr, new RegExp(`comment ${thread.member.id} on acme/api#1 already has an autosolve reply`));
    assert.equal(replies(1).length, 1, 'still one reply');
    assert.equal(rec.calls().length, 1, 'the executor did not run for a refused post');

    const shown = await explain(['acme/api#1', '--comment', String(thread.member.id)]);
    assert.equal(shown.code, 0, shown.stdout + shown.stderr);
    assert.match(shown.stdout, /^replied\s+already: http/m, 'without --post it says the reply is there');

    const other = await explain(['acme/api#1', '--comment', String(thread.collaborator.id), '--post']);
    assert.equal(other.code, 0, other.stdout + other.stderr);
    assert.deepEqual(replies(1).map((c) => readMarker(c.body)), [{ kind: 'reply', to: thread.member.id }, { kind: 'reply', to: thread.collaborator.id }], 'another mention gets its own reply');
  });

  void it('a reply does not count as the answer: the issue can still get one', async () => {
    const reply = await explain(['acme/api#2', '--event', 'mention', '--post']);
    assert.equal(reply.code, 0, reply.stdout + reply.stderr);
    assert.equal(replies(2).length, 1);
    const answer = await explain(['acme/api#2', '--executor', 'default', '--post']);
    assert.equal(answer.code, 0, answer.stdout + answer.stderr);
    const answers = sim.comments('acme', 'api', 2).filter((c) => isAnswer(c.body));
    assert.equal(answers.length, 1, 'the answer was posted beside the reply');
    assert.deepEqual(readMarker(answers[0]?.body ?? null), { kind: 'answer', hash: contentHash({ title: 'Slow start', body: 'Takes a minute.' }) });
  });

  void it('usage mistakes with --comment exit 2 before any request; a comment not on the issue exits 1', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['acme/api#1', '--comment', 'first'], 2, /--comment: expected a comment id/],
      [['acme/api#1', '--comment', '12', '--event', 'opened'], 2, /--comment is for --event mention, not opened/],
      [['acme/api#1', '--comment', String(sim.comments('acme', 'api', 2)[0]?.id)], 1, /is not a comment on acme\/api#1/],
    ];
    for (const [args, code, message] of cases) {
      const result = await explain(args);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.equal(rec.calls().length, 0);
    const url = `https://github.com/acme/api/issues/1#issuecomment-${thread.member.id}`;
    const byUrl = await explain(['acme/api#1', '--comment', url]);
    assert.equal(byUrl.code, 0, byUrl.stdout + byUrl.stderr);
    assert.match(byUrl.stdout, new RegExp(`^comment\\s+${thread.member.id} by maria`, 'm'), 'a comment link works too');
  });
});
