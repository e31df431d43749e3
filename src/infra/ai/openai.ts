/**
 * Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp,
 * LM Studio, OpenRouter, ...) through the official `openai` package.
 *
 * The API key must never reach a message: errors are rebuilt from status and
 * detail with the key redacted, and the library's own error (which may quote
 * the server's words) is not attached as a cause.
 */
// Loaded on first use: the package is large, and most daemons run another provider.
import type OpenAI from 'openai';
type OpenAIClass = typeof OpenAI;

import { ClassifiedError } from '../../domain/failure.js';
import type { Executor, ExecutorInput, ExecutorOutput } from '../../domain/ports.js';
import { SYSTEM_PROMPT } from '../../domain/prompt.js';
import { abortError, clip, httpStatusError, redact, safeAddress, timeoutError } from './failures.js';

export interface OpenAICompatibleExecutorOptions {
  /** Base URL including the version path, e.g. `https://api.openai.com/v1`. */
  readonly baseUrl: string;
  readonly model: string;
  /** Sent as a bearer token. Empty: the server needs none (a local server). */
  readonly apiKey: string;
  /** How long one answer may take (`ai.timeout`), including reading it. */
  readonly timeoutMs: number;
}

/** Extra time the client's own timer gets, so our deadline always fires first and is recognised. */
const CLIENT_TIMEOUT_SLACK_MS = 1000;

export class OpenAICompatibleExecutor implements Executor {
  readonly description: string;
  readonly #options: OpenAICompatibleExecutorOptions;
  #client: Promise<{ readonly OpenAI: typeof OpenAI; readonly client: OpenAI }> | undefined;
  readonly #model: string;
  readonly #apiKey: string;
  readonly #timeoutMs: number;

  constructor(options: OpenAICompatibleExecutorOptions) {
    new URL(options.baseUrl); // a malformed URL is a configuration mistake: fail at start-up
    this.#model = options.model;
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs;
    this.description = `openai ${options.model}`;
    this.#options = options;
  }

  #connect(): Promise<{ readonly OpenAI: typeof OpenAI; readonly client: OpenAI }> {
    const options = this.#options;
    this.#client ??= import('openai').then(({ default: OpenAI }) => ({
      OpenAI,
      client: new OpenAI({
      baseURL: options.baseUrl,
      // The library refuses to start without a key; local servers ignore it.
      apiKey: options.apiKey || 'no-key',
      // Everything else explicit, so the library reads nothing from the environment.
      adminAPIKey: null,
      organization: null,
      project: null,
      // Retries belong to the scheduler: a client retrying on its own would hide
      // an outage from the dispatcher's back-off and multiply load on the server.
      maxRetries: 0,
      timeout: options.timeoutMs + CLIENT_TIMEOUT_SLACK_MS,
      logLevel: 'off',
      }),
    }));
    return this.#client;
  }

  async run(input: ExecutorInput, signal: AbortSignal): Promise<ExecutorOutput> {
    if (signal.aborted) throw abortError(this.description);
    const { OpenAI, client } = await this.#connect();
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const combined = AbortSignal.any([signal, deadline]);
    let completion: unknown;
    try {
      completion = await client.chat.completions.create(
        {
          model: this.#model,
          messages: [
            { role: 'system', content: SYSTEM_PROMPT },
            { role: 'user', content: input.prompt },
          ],
        },
        { signal: combined },
      );
    } catch (error) {
      if (signal.aborted) throw abortError(this.description);
      if (deadline.aborted) throw timeoutError(this.description, this.#timeoutMs);
      throw this.#classify(OpenAI, error);
    }
    return { text: this.#answerOf(completion), model: this.#model };
  }

  #classify(OpenAI: OpenAIClass, error: unknown): ClassifiedError {
    if (error instanceof OpenAI.APIConnectionError) {
      const reason = error.cause instanceof Error ? causeReason(error.cause) : error.message;
      return new ClassifiedError('node', this.#safe(`${this.description}: cannot reach the server (${reason})`));
    }
    if (error instanceof OpenAI.APIError && typeof error.status === 'number') {
      const detail = this.#safe(error.message.replace(/^\d{3}\s*/, ''));
      return httpStatusError(this.description, error.status, detail, error.headers?.get('retry-after'), {
        credential: 'check ai.openai.apiKey (OPENAI_API_KEY) and that its project may use this model',
        configuration: `check ai.openai.model and ai.openai.baseUrl (${safeAddress(this.#options.baseUrl)})`,
      });
    }
    // A 200 whose body is not JSON makes the library throw a SyntaxError.
    if (error instanceof SyntaxError) {
      return new ClassifiedError('permanent', `${this.description} sent an answer that is not JSON`);
    }
    const message = error instanceof Error ? error.message : String(error);
    return new ClassifiedError('permanent', this.#safe(`${this.description} failed: ${clip(message, 300)}`));
  }

  #answerOf(completion: unknown): string {
    // A compatible server may answer 200 with anything; check the shape ourselves.
    const choices = typeof completion === 'object' && completion !== null ? (completion as { choices?: unknown }).choices : undefined;
    if (!Array.isArray(choices)) {
      throw new ClassifiedError('permanent', `${this.description} sent an answer without choices`);
    }
    const first: unknown = choices[0];
    const message = typeof first === 'object' && first !== null ? (first as { message?: unknown }).message : undefined;
    const content = typeof message === 'object' && message !== null ? (message as { content?: unknown }).content : undefined;
    const text = typeof content === 'string' ? content.trim() : '';
    if (text === '') throw new ClassifiedError('permanent', `${this.description} sent an empty answer`);
    return text;
  }

  #safe(text: string): string {
    return redact(text, this.#apiKey);
  }
}

/** `ECONNREFUSED`, `ENOTFOUND`, ... from undici's cause chain, or the message. */
function causeReason(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  const code = (cause as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : clip(error.message, 200);
}
