/** The executor's settings and the secrets no comment may carry, both read from the validated configuration. */
import { processEnv } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { ExecutorSettings } from '../infra/ai/index.js';

/** What `createExecutor` needs for the configured `ai.provider`. */
export function executorSettings(config: Config): ExecutorSettings {
  const timeoutMs = config.ai.timeout;
  switch (config.ai.provider) {
    case 'ollama':
      return { provider: 'ollama', endpoint: config.ollama.endpoint, model: config.ollama.model, timeoutMs };
    case 'openai':
      return { provider: 'openai', baseUrl: config.ai.openai.baseUrl, model: config.ai.openai.model ?? '', apiKey: config.ai.openai.apiKey, timeoutMs };
    case 'command':
      return {
        provider: 'command',
        run: config.ai.command.run ?? [],
        timeoutMs,
        parentEnv: processEnv(),
        allowEnv: config.ai.command.passEnv,
        secrets: knownSecrets(config),
        ...(config.ai.command.cwd === undefined ? {} : { cwd: config.ai.command.cwd }),
      };
    case 'demo':
      return { provider: 'demo' };
  }
}

/** What no comment may carry: the token, the API key, and the values handed to the command by ai.command.passEnv. */
export function knownSecrets(config: Config): string[] {
  const env = processEnv();
  const passed = config.ai.command.passEnv.map((name) => env[name] ?? '');
  return [config.github.token, config.ai.openai.apiKey, ...passed].filter((secret) => secret !== '');
}
