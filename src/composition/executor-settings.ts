/** The executors' settings and the secrets no comment may carry, both read from the validated configuration. */
import { processEnv } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { NamedExecutorConfig } from '../config/schema-rules.js';
import type { ExecutorSettings } from '../infra/ai/index.js';

/** What `createExecutor` needs for the configured `ai.provider` (the executor named `default`). */
export function executorSettings(config: Config): ExecutorSettings {
  const timeoutMs = config.ai.timeout;
  switch (config.ai.provider) {
    case 'ollama':
      return { provider: 'ollama', endpoint: config.ollama.endpoint, model: config.ollama.model, timeoutMs };
    case 'openai':
      return { provider: 'openai', baseUrl: config.ai.openai.baseUrl, model: config.ai.openai.model ?? '', apiKey: config.ai.openai.apiKey, timeoutMs };
    case 'command':
      return commandSettings(config, { run: config.ai.command.run ?? [], passEnv: config.ai.command.passEnv, cwd: config.ai.command.cwd }, timeoutMs);
    case 'demo':
      return { provider: 'demo' };
  }
}

/** What `createExecutor` needs for the entry `executors.<name>`; its timeout defaults to ai.timeout. */
export function namedExecutorSettings(config: Config, entry: NamedExecutorConfig): ExecutorSettings {
  const timeoutMs = entry.timeout ?? config.ai.timeout;
  switch (entry.provider) {
    case 'ollama':
      return { provider: 'ollama', endpoint: entry.endpoint, model: entry.model, timeoutMs };
    case 'openai':
      // The key already fell back to OPENAI_API_KEY when the configuration was loaded.
      return { provider: 'openai', baseUrl: entry.baseUrl, model: entry.model, apiKey: entry.apiKey, timeoutMs };
    case 'command':
      return commandSettings(config, entry, timeoutMs);
    case 'demo':
      return { provider: 'demo' };
  }
}

function commandSettings(config: Config, command: { run: readonly string[]; passEnv: readonly string[]; cwd?: string | undefined }, timeoutMs: number): ExecutorSettings {
  return {
    provider: 'command',
    run: command.run,
    timeoutMs,
    parentEnv: processEnv(),
    allowEnv: command.passEnv,
    secrets: knownSecrets(config),
    ...(command.cwd === undefined ? {} : { cwd: command.cwd }),
  };
}

/**
 * What no comment may carry: the token, every API key (ai.openai and the openai
 * executors), and the values handed to a command by ai.command.passEnv or an
 * executor's passEnv.
 */
export function knownSecrets(config: Config): string[] {
  const env = processEnv();
  const executors = Object.values(config.executors);
  const keys = executors.flatMap((entry) => (entry.provider === 'openai' ? [entry.apiKey] : []));
  const passEnv = [...config.ai.command.passEnv, ...executors.flatMap((entry) => (entry.provider === 'command' ? entry.passEnv : []))];
  const passed = passEnv.map((name) => env[name] ?? '');
  return [...new Set([config.github.token, config.ai.openai.apiKey, ...keys, ...passed])].filter((secret) => secret !== '');
}
