/**
 * Settings and observers the daemon must wire, checked through the CLI as an
 * operator runs it: the pieces behind them have their own tests, and those
 * stay green when the composition root forgets to connect a piece (a hook
 * left out, a constant passed instead of a setting, a fallback dropped).
 * GitHub is the simulator; the model is a command or a local
 * OpenAI-compatible server, all on loopback.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, startCli, tempDir, writeFile } from './support/cli.js';
import { daemonConfig, inspectDatabase, jobsOf, simulator, statusJson, waitFor } from './support/daemon.js';

const LABELLED = ['autosolve'];
const ANSWERING = { issues: { requiredLabel: 'autosolve' } };
/** Shaped like an OpenAI project key, and found nowhere else in the test. */
const OPENAI_KEY = 'sk-proj-wiringTEST0123456789abcdefABCDEF';

/** Every sample of `name` in a Prometheus text page, with its labels. */
function series(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const found: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const match of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const labels = Object.fromEntries([...(match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1] ?? '', l[2] ?? '']));
    found.push({ labels, value: Number(match[2]) });
  }
  return found;
}

/** A command agent that records the document it reads on stdin, one JSON line per run, and answers. */
function recordingAgent(dir: string) {
  const calls = join(dir, 'agent-calls.jsonl');
  const script = writeFile(
    dir,
    'recording-agent.cjs',
    `const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify({ number: input.number, prompt: input.prompt }) + '\\n');
process.stdout.write('Answer for #' + input.number + '.');
`,
  );
  return {
    run: [process.execPath, script],
    calls: () =>
      existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { number: number; prompt: string }) : [],
  };
}

/** An OpenAI-compatible server that answers only `Bearer <key>` and records every Authorization header it got. */
async function openaiServer(key: string, options: { refuse?: boolean } = {}): Promise<{ server: Server; url: string; headers: IncomingHttpHeaders[] }> {
  const headers: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      headers.push(req.headers);
      const sent = req.headers.authorization ?? '';
      if (options.refuse === true || sent !== `Bearer ${key}`) {
        // OpenAI quotes the key it refused: the daemon must not pass that on.
        const refused = { error: { message: `Incorrect API key provided: ${sent.replace(/^Bearer /, '')}.`, type: 'invalid_request_error', code: 'invalid_api_key' } };
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify(refused));
        return;
      }
      const completion = {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-test',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Look at the parser.' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(completion));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, headers };
}

/** What the daemon keeps that an operator may read: jobs, state documents, cursors. */
function storedText(database: string): string {
  return inspectDatabase(database, (db) => ['jobs', 'state', 'sync_cursors'].map((table) => JSON.stringify(db.prepare(`SELECT * FROM ${table}`).all())).join('\n'));
}

describe('the daemon wires its settings and observers', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  let model: Server | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    if (model) {
      model.closeAllConnections();
      await new Promise((resolve) => model!.close(resolve));
    }
    model = undefined;
    dir.cleanup();
  });

  it('counts each repository\'s polls on /metrics when http.listen is set', async () => {
    sim = await simulator([
      { owner: 'acme', name: 'api', issues: [{ title: 'A question' }, { title: 'Another' }] },
      { owner: 'acme', name: 'web', issues: [{ title: 'Web question' }] },
    ]);
    // Nothing is labelled, so nothing is answered; one poll each in the first minute.
    const config = daemonConfig(dir.path, sim, ['acme/api', 'acme/web'], { github: ANSWERING, http: { listen: '127.0.0.1:0' } });
    const daemon = startCli(['run', '--config', config.file], { cwd: dir.path });
    try {
      const url = await waitFor('the HTTP endpoint', () => Promise.resolve(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output().stdout)?.[1]));
      // A pass is counted after its poll has reported: once both passes show, both polls must.
      const text = await waitFor('both repositories\' first poll pass', async () => {
        const page = await (await fetch(`${url}/metrics`)).text();
        const passes = series(page, 'autosolve_scheduler_passes_total').find((s) => s.labels.job_resource === 'issue-poller' && s.labels.outcome === 'ok');
        return passes && passes.value >= 2 ? page : undefined;
      });
      const polls = series(text, 'autosolve_polls_total')
        .map((s) => [s.labels.repository, s.labels.outcome, s.value])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      assert.deepEqual(polls, [['acme/api', 'changed', 1], ['acme/web', 'changed', 1]]);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.finished;
    }
  });

  it('renders ai.prompt for the model, the body cut at ai.maxBodyChars with a note', async () => {
    const body = `${'a'.repeat(30)}${'b'.repeat(45)}`;
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Parser crash', body, labels: [...LABELLED, 'bug'] }] }]);
    const agent = recordingAgent(dir.path);
    const config = daemonConfig(dir.path, sim, ['acme/api'], {
      github: ANSWERING,
      ai: {
        provider: 'command',
        command: { run: agent.run },
        prompt: 'Custom triage for {{repository}} #{{number}} [{{labels}}]\n{{title}}\n{{body}}\nEnd of the custom prompt.',
        maxBodyChars: 30,
      },
    });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(
      agent.calls(),
      [
        {
          number: 1,
          prompt: [
            'Custom triage for acme/api #1 [autosolve, bug]',
            '<untrusted-issue-title>Parser crash</untrusted-issue-title>',
            '<untrusted-issue-body>',
            'a'.repeat(30),
            '</untrusted-issue-body>',
            '[truncated: 45 more characters]',
            'End of the custom prompt.',
          ].join('\n'),
        },
      ],
    );
    assert.match(sim.comments('acme', 'api', 1)[0]?.body ?? '', /Answer for #1\./, 'the answer was posted');
  });

  it('runs ai.concurrency executors at once, never more', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [1, 2, 3, 4].map((n) => ({ title: `Bug ${n}`, labels: LABELLED })) }]);
    // Each run marks itself running and waits until three are (or one has answered: the fourth runs after),
    // looks on for a moment to catch a fourth, notes the most it saw, and answers.
    const running = join(dir.path, 'running');
    const seen = join(dir.path, 'seen.txt');
    const script = writeFile(
      dir.path,
      'concurrent-agent.cjs',
      `const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.mkdirSync(${JSON.stringify(running)}, { recursive: true });
const mine = ${JSON.stringify(running)} + '/' + input.number;
fs.writeFileSync(mine, '');
const count = () => fs.readdirSync(${JSON.stringify(running)}).length;
const deadline = Date.now() + 20000;
let most = count();
let lookUntil;
const timer = setInterval(() => {
  most = Math.max(most, count());
  if (lookUntil === undefined && (most >= 3 || fs.existsSync(${JSON.stringify(seen)}) || Date.now() > deadline)) lookUntil = Date.now() + 300;
  if (lookUntil === undefined || Date.now() < lookUntil) return;
  clearInterval(timer);
  fs.rmSync(mine);
  fs.appendFileSync(${JSON.stringify(seen)}, most + '\\n');
  process.stdout.write('Answer for #' + input.number + '.');
}, 10);
`,
    );
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'command', command: { run: [process.execPath, script] }, concurrency: 3 } });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const counts = readFileSync(seen, 'utf8').trim().split('\n').map(Number);
    assert.equal(counts.length, 4, 'each issue answered once');
    assert.equal(Math.max(...counts), 3, `three runs at once, never four: ${counts.join(', ')}`);
  });

  it('with ai.provider openai and no ai.openai.apiKey, sends OPENAI_API_KEY from the environment and never logs it', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug 1', labels: LABELLED }] }]);
    const openai = await openaiServer(OPENAI_KEY);
    model = openai.server;
    const config = daemonConfig(dir.path, sim, ['acme/api'], {
      log: { debug: true },
      github: ANSWERING,
      ai: { provider: 'openai', openai: { baseUrl: `${openai.url}/v1`, model: 'gpt-test' } },
    });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path, env: { OPENAI_API_KEY: OPENAI_KEY } });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(openai.headers.map((h) => h.authorization), [`Bearer ${OPENAI_KEY}`]);
    assert.deepEqual(jobsOf(config.database).map((j) => j.outcome), ['answered']);
    assert.match(sim.comments('acme', 'api', 1)[0]?.body ?? '', /Look at the parser\./);
    for (const text of [result.stdout, result.stderr, storedText(config.database), sim.comments('acme', 'api', 1)[0]?.body ?? '']) {
      assert.ok(!text.includes(OPENAI_KEY), 'the key never shows');
    }
  });

  it('a refused OPENAI_API_KEY, quoted back by the server, is kept out of logs, status and the database', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug 1', labels: LABELLED }] }]);
    const openai = await openaiServer(OPENAI_KEY, { refuse: true });
    model = openai.server;
    const config = daemonConfig(dir.path, sim, ['acme/api'], {
      log: { debug: true },
      github: ANSWERING,
      ai: { provider: 'openai', openai: { baseUrl: `${openai.url}/v1`, model: 'gpt-test' } },
    });
    const env = { OPENAI_API_KEY: OPENAI_KEY };
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path, env });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.deepEqual(openai.headers.map((h) => h.authorization), [`Bearer ${OPENAI_KEY}`], 'the environment\'s key was the one refused');
    const status = await statusJson(config.file, dir.path);
    assert.equal(status.dispatcher.reason, 'credential');
    for (const text of [result.stdout, result.stderr, JSON.stringify(status), storedText(config.database)]) {
      assert.ok(!text.includes(OPENAI_KEY), 'the key never shows');
    }
  });
});
