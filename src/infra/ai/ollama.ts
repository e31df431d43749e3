/**
 * Ollama's chat API: `POST {endpoint}/api/chat` with `stream: false`, the
 * answer in `message.content`. Plain fetch, no client library: one request.
 */
import { ClassifiedError } from '../../domain/failure.js';
import type { Executor, ExecutorInput, ExecutorOutput } from '../../domain/ports.js';
import { SYSTEM_PROMPT } from '../../domain/prompt.js';
import { abortError, clip, httpStatusError, timeoutError, safeAddress, type StatusAdvice } from './failures.js';

export interface OllamaExecutorOptions {
  /** Base URL of the Ollama server, e.g. `http://127.0.0.1:11434`. */
  readonly endpoint: string;
  /** Model name as Ollama knows it, e.g. `llama3.1`. */
  readonly model: string;
  /** How long one answer may take (`ai.timeout`), including reading it. */
  readonly timeoutMs: number;
}

export class OllamaExecutor implements Executor {
  readonly description: string;
  readonly #url: string;
  readonly #model: string;
  readonly #timeoutMs: number;
  readonly #advice: StatusAdvice;

  constructor(options: OllamaExecutorOptions) {
    // A malformed endpoint is a configuration mistake: fail at start-up rather
    // than as an endless "transport" failure on every job.
    this.#url = new URL('api/chat', withTrailingSlash(options.endpoint)).href;
    this.#model = options.model;
    this.#timeoutMs = options.timeoutMs;
    this.description = `ollama ${options.model}`;
    this.#advice = {
      credential: `check what the server in front of Ollama at ${safeAddress(options.endpoint)} expects`,
      configuration: `check ollama.model (\`ollama pull ${options.model}\` on that server) and ollama.endpoint (${safeAddress(options.endpoint)})`,
    };
  }

  async run(input: ExecutorInput, signal: AbortSignal): Promise<ExecutorOutput> {
    if (signal.aborted) throw abortError(this.description);
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const combined = AbortSignal.any([signal, deadline]);
    try {
      const text = await this.#chat(input.prompt, combined);
      return { text, model: this.#model };
    } catch (error) {
      // The caller's shutdown wins over our deadline when both fired.
      if (signal.aborted) throw abortError(this.description);
      if (deadline.aborted) throw timeoutError(this.description, this.#timeoutMs);
      throw error;
    }
  }

  async #chat(prompt: string, signal: AbortSignal): Promise<string> {
    const request = {
      model: this.#model,
      messages: [
        { role: 'system', content: SYSTEM_PROMPT },
        { role: 'user', content: prompt },
      ],
      stream: false,
    };
    let response: Response;
    try {
      response = await fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(request),
        signal,
      });
    } catch (error) {
      throw new ClassifiedError('node', `${this.description}: cannot reach ${this.#url}`, { cause: error });
    }
    let raw: string;
    try {
      raw = await response.text();
    } catch (error) {
      throw new ClassifiedError('node', `${this.description}: the answer was cut off`, { cause: error });
    }
    if (!response.ok) {
      throw httpStatusError(this.description, response.status, errorDetail(raw), response.headers.get('retry-after'), this.#advice);
    }
    return this.#answerOf(raw);
  }

  #answerOf(raw: string): string {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new ClassifiedError('permanent', `${this.description} sent an answer that is not JSON: ${clip(raw, 200)}`);
    }
    const message = typeof parsed === 'object' && parsed !== null ? (parsed as { message?: unknown }).message : undefined;
    const content = typeof message === 'object' && message !== null ? (message as { content?: unknown }).content : undefined;
    if (typeof content !== 'string') {
      throw new ClassifiedError('permanent', `${this.description} sent an answer without message.content`);
    }
    const text = content.trim();
    if (text === '') throw new ClassifiedError('permanent', `${this.description} sent an empty answer`);
    return text;
  }
}

/** Ollama reports errors as `{"error": "..."}`; fall back to the raw body. */
function errorDetail(raw: string): string {
  try {
    const parsed: unknown = JSON.parse(raw);
    const error = typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
    if (typeof error === 'string') return error;
    // Some proxies in front of Ollama answer OpenAI-style: {"error": {"message": "..."}}.
    const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: the raw text is the best detail there is.
  }
  return raw;
}

function withTrailingSlash(endpoint: string): string {
  return endpoint.endsWith('/') ? endpoint : `${endpoint}/`;
}
