/**
 * The HTTP executors against local stand-ins that answer like Ollama's
 * /api/chat and OpenAI's /v1/chat/completions, and the demo executor.
 * The command executor, with real child processes, is in command-executor.test.ts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { inspect } from 'node:util';

import { describeError, failureKindOf, isAbort, waitHintOf } from '../src/domain/failure.js';
import type { Executor, ExecutorInput } from '../src/domain/ports.js';
import { createExecutor, OllamaExecutor, OpenAICompatibleExecutor } from '../src/infra/ai/index.js';
import { assertCutShort } from './support/timing.js';

const API_KEY = 'sk-test-9f8e7d6c5b4a-never-print-me';

const INPUT: ExecutorInput = {
  repository: 'acme/api',
  number: 42,
  title: 'Crash when saving',
  body: 'The app crashes when I press save. It worked in 1.2.',
  labels: ['bug', 'autosolve'],
  url: 'https://github.com/acme/api/issues/42',
  prompt: 'PROMPT-SENTINEL: triage issue 42',
};

interface Recorded {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
}

type Reply = { status: number; body: string; headers?: Record<string, string> } | 'hang';

interface StandIn {
  readonly url: string;
  readonly requests: Recorded[];
  /** Resolves when the next request has arrived. */
  nextRequest(): Promise<void>;
}

const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function standIn(reply: (request: Recorded) => Reply): Promise<StandIn> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const recorded = { url: req.url ?? '', headers: req.headers, body: JSON.parse(raw) as unknown };
      requests.push(recorded);
      const answer = reply(recorded);
      if (answer === 'hang') return;
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body);
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    nextRequest: () => once(server, 'request').then(() => undefined),
  };
}

/** A port nothing listens on: bind, note the port, close. */
async function deadUrl(): Promise<string> {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the run to fail');
}

interface Backend {
  readonly name: string;
  readonly path: string;
  readonly model: string;
  answer(text: string | null): string;
  /** The server's error body; the OpenAI stand-in quotes the Authorization header like careless servers do. */
  error(message: string, request: Recorded): string;
  create(url: string, timeoutMs: number): Executor;
}

const backends: Backend[] = [
  {
    name: 'ollama',
    path: '/api/chat',
    model: 'llama-test',
    answer: (text) =>
      JSON.stringify({ model: 'llama-test', created_at: '2024-01-01T00:00:00Z', message: { role: 'assistant', content: text }, done: true }),
    error: (message) => JSON.stringify({ error: message }),
    create: (url, timeoutMs) => new OllamaExecutor({ endpoint: url, model: 'llama-test', timeoutMs }),
  },
  {
    name: 'openai',
    path: '/v1/chat/completions',
    model: 'gpt-test',
    answer: (text) =>
      JSON.stringify({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-test',
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    error: (message, request) =>
      JSON.stringify({ error: { message: `${message} (you sent ${String(request.headers.authorization)})`, type: 'error' } }),
    create: (url, timeoutMs) =>
      new OpenAICompatibleExecutor({ baseUrl: `${url}/v1`, model: 'gpt-test', apiKey: API_KEY, timeoutMs }),
  },
];

for (const backend of backends) {
  void describe(`${backend.name} executor`, () => {
    const errorReply = (status: number, headers: Record<string, string> = {}) => (request: Recorded): Reply => ({
      status,
      headers,
      body: backend.error(`status ${status} from the stand-in`, request),
    });

    /** Every failure must be free of the key, however deep one looks. */
    function assertNoKey(error: Error): void {
      assert.ok(!describeError(error).includes(API_KEY), 'API key in describeError');
      assert.ok(!inspect(error, { depth: 20 }).includes(API_KEY), 'API key in the error object');
    }

    void it('sends the prompt with a system message and returns the answer', async () => {
      const server = await standIn(() => ({ status: 200, body: backend.answer('  **Summary**: a crash.\n') }));
      const executor = backend.create(server.url, 5000);
      const output = await executor.run(INPUT, new AbortController().signal);
      assert.deepEqual(output, { text: '**Summary**: a crash.', model: backend.model });
      assert.equal(executor.description, `${backend.name} ${backend.model}`);
      assert.equal(server.requests.length, 1);
      const [request] = server.requests;
      assert.equal(request?.url, backend.path);
      const body = request?.body as { model: string; stream?: boolean; messages: { role: string; content: string }[] };
      assert.equal(body.model, backend.model);
      assert.deepEqual(body.messages.map((m) => m.role), ['system', 'user']);
      assert.equal(body.messages[1]?.content, INPUT.prompt);
      assert.match(body.messages[0]?.content ?? '', /untrusted/);
      if (backend.name === 'ollama') assert.equal(body.stream, false);
      if (backend.name === 'openai') assert.equal(request?.headers.authorization, `Bearer ${API_KEY}`);
    });

    void it('reports an unreachable server as a node failure', async () => {
      const error = await failureOf(backend.create(await deadUrl(), 5000).run(INPUT, new AbortController().signal));
      assert.equal(failureKindOf(error), 'node', describeError(error));
      assertNoKey(error);
    });

    for (const status of [500, 502, 503]) {
      void it(`reports HTTP ${status} as a service failure, asked once (no client retries)`, async () => {
        const server = await standIn(errorReply(status));
        const error = await failureOf(backend.create(server.url, 5000).run(INPUT, new AbortController().signal));
        assert.equal(failureKindOf(error), 'service', describeError(error));
        assert.match(error.message, new RegExp(String(status)));
        assert.equal(server.requests.length, 1);
        assertNoKey(error);
      });
    }

    void it('carries retry-after of a 429 and a 503 as the wait hint', async () => {
      for (const [status, header, waitMs] of [[429, '7', 7000], [503, '120', 120_000]] as const) {
        const server = await standIn(errorReply(status, { 'retry-after': header }));
        const error = await failureOf(backend.create(server.url, 5000).run(INPUT, new AbortController().signal));
        assert.equal(failureKindOf(error), 'service');
        assert.equal(waitHintOf(error), waitMs);
        assertNoKey(error);
      }
    });

    for (const status of [400, 401, 404]) {
      void it(`reports HTTP ${status} as a permanent failure with the server's reason`, async () => {
        const server = await standIn(errorReply(status));
        const error = await failureOf(backend.create(server.url, 5000).run(INPUT, new AbortController().signal));
        assert.equal(failureKindOf(error), 'permanent', describeError(error));
        assert.match(describeError(error), new RegExp(`${status}.*from the stand-in`));
        assertNoKey(error);
      });
    }

    for (const [what, body] of [
      ['an empty answer', backend.answer('   ')],
      ['a null answer', backend.answer(null)],
      ['a body that is not JSON', 'this is not json'],
      ['JSON of the wrong shape', JSON.stringify({ unexpected: true })],
    ] as const) {
      void it(`reports ${what} as a permanent failure`, async () => {
        const server = await standIn(() => ({ status: 200, body }));
        const error = await failureOf(backend.create(server.url, 5000).run(INPUT, new AbortController().signal));
        assert.equal(failureKindOf(error), 'permanent', describeError(error));
      });
    }

    void it('gives up at its timeout with a permanent failure', async () => {
      const server = await standIn(() => 'hang');
      // The stand-in never answers: the run settling at all is the timeout's doing, and the message says which.
      const error = await failureOf(backend.create(server.url, 300).run(INPUT, new AbortController().signal));
      assert.equal(failureKindOf(error), 'permanent', describeError(error));
      assert.match(error.message, /did not answer within 300ms/);
      assertNoKey(error);
    });

    void it('surfaces the caller aborting as an AbortError, promptly', async () => {
      const server = await standIn(() => 'hang');
      const controller = new AbortController();
      const arrived = server.nextRequest();
      const timeoutMs = 60_000;
      const run = failureOf(backend.create(server.url, timeoutMs).run(INPUT, controller.signal));
      await arrived;
      const abortedAt = Date.now();
      controller.abort();
      const error = await run;
      assert.equal(error.name, 'AbortError');
      assert.ok(isAbort(error));
      assert.equal(failureKindOf(error), 'unknown', 'an abort spends no attempt');
      assertCutShort(Date.now() - abortedAt, timeoutMs, 'the request is cancelled, not waited out');
    });

    void it('does not call the server when the signal is already aborted', async () => {
      const server = await standIn(() => ({ status: 200, body: backend.answer('x') }));
      const controller = new AbortController();
      controller.abort();
      const error = await failureOf(backend.create(server.url, 5000).run(INPUT, controller.signal));
      assert.equal(error.name, 'AbortError');
      assert.equal(server.requests.length, 0);
    });
  });
}

void describe('createExecutor', () => {
  void it('builds each provider with its description', () => {
    const ollama = createExecutor({ provider: 'ollama', endpoint: 'http://127.0.0.1:1', model: 'm1', timeoutMs: 1000 });
    const openai = createExecutor({ provider: 'openai', baseUrl: 'http://127.0.0.1:1/v1', model: 'm2', apiKey: '', timeoutMs: 1000 });
    const command = createExecutor({ provider: 'command', run: ['/usr/local/bin/my-agent', '--json'], timeoutMs: 1000, parentEnv: {} });
    assert.deepEqual(
      [ollama, openai, command, createExecutor({ provider: 'demo' })].map((e) => e.description),
      ['ollama m1', 'openai m2', 'command my-agent', 'demo executor'],
    );
  });

  void it('rejects a malformed endpoint and an empty command at construction', () => {
    assert.throws(() => createExecutor({ provider: 'ollama', endpoint: 'not a url', model: 'm', timeoutMs: 1 }));
    assert.throws(() => createExecutor({ provider: 'command', run: [], timeoutMs: 1, parentEnv: {} }), /at least the program/);
  });
});

void describe('demo executor', () => {
  void it('writes the same triage note for the same issue, computed from it', async () => {
    const demo = createExecutor({ provider: 'demo' });
    const first = await demo.run(INPUT, new AbortController().signal);
    const second = await demo.run(INPUT, new AbortController().signal);
    assert.deepEqual(first, second);
    assert.match(first.text, /The app crashes when I press save\./);
    assert.match(first.text, /Kind \(guessed\)\*\*: bug/);
    assert.match(first.text, /Priority \(guessed\)\*\*: high/);
    assert.match(first.text, /bug, autosolve/);
  });

  void it('tells a feature request from a question', async () => {
    const demo = createExecutor({ provider: 'demo' });
    const signal = new AbortController().signal;
    const feature = await demo.run({ ...INPUT, title: 'Add support for YAML', body: 'Would be nice to allow YAML config.', labels: [] }, signal);
    const question = await demo.run({ ...INPUT, title: 'How do I configure this?', body: '', labels: [] }, signal);
    assert.match(feature.text, /Kind \(guessed\)\*\*: feature/);
    assert.match(feature.text, /Priority \(guessed\)\*\*: low/);
    assert.match(question.text, /Kind \(guessed\)\*\*: question/);
    assert.match(question.text, /no description/);
  });
});
