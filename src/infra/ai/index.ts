/**
 * Builds the executor `ai.provider` names. The composition root maps the
 * validated configuration to these settings; nothing here reads config.
 */
import type { Executor } from '../../domain/ports.js';
import { CommandExecutor } from './command.js';
import { DemoExecutor } from './demo.js';
import { OllamaExecutor } from './ollama.js';
import { OpenAICompatibleExecutor } from './openai.js';

export type ExecutorSettings =
  | { provider: 'ollama'; endpoint: string; model: string; timeoutMs: number }
  | { provider: 'openai'; baseUrl: string; model: string; apiKey: string; timeoutMs: number }
  | { provider: 'command'; run: readonly string[]; timeoutMs: number; parentEnv: Readonly<Record<string, string | undefined>>; allowEnv?: readonly string[]; cwd?: string; secrets?: readonly string[] }
  | { provider: 'demo' };

export interface ExecutorHooks {
  /** Receives each stderr line of the `command` provider, for logging. */
  readonly onStderr?: (line: string) => void;
}

export function createExecutor(settings: ExecutorSettings, hooks: ExecutorHooks = {}): Executor {
  switch (settings.provider) {
    case 'ollama':
      return new OllamaExecutor(settings);
    case 'openai':
      return new OpenAICompatibleExecutor(settings);
    case 'command':
      return new CommandExecutor(
        hooks.onStderr === undefined ? settings : { ...settings, onStderr: hooks.onStderr },
      );
    case 'demo':
      return new DemoExecutor();
  }
}

export { CommandExecutor } from './command.js';
export type { CommandExecutorOptions } from './command.js';
export { DemoExecutor } from './demo.js';
export { OllamaExecutor } from './ollama.js';
export type { OllamaExecutorOptions } from './ollama.js';
export { OpenAICompatibleExecutor } from './openai.js';
export type { OpenAICompatibleExecutorOptions } from './openai.js';
