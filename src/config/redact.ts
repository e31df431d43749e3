/** The configuration as it may be shown: secrets masked, durations readable. */
import { displayUrl } from '../domain/scrub.js';
import { formatDuration } from './duration.js';
import type { Config } from './schema.js';

const SECRET_KEYS = new Set(['token', 'apiKey']);
const DURATION_KEYS = new Set(['statementTimeout', 'httpClientTimeout', 'minInterval', 'parseInterval', 'timeout', 'visibilityTimeout', 'retryDelay', 'setupBudget', 'shutdownGrace', 'discoveryInterval', 'reconcileInterval', 'cpuPerMinute']);

export function mask(secret: string): string {
  return secret ? `*** (set, ${secret.length} characters)` : '(not set)';
}

export function redactedConfig(config: Config): Record<string, unknown> {
  const shown = walk(config) as Record<string, unknown>;
  // The database URL is shown (which server, which database), its password is not.
  if (config.database.url) shown.database = { ...(shown.database as Record<string, unknown>), url: displayUrl(config.database.url) };
  // A template read from a file is shown as written: its file, not its text.
  shown.rules = config.rules.map((rule, index) => {
    const { promptFile, ...then } = rule.then;
    const shownRule = (shown.rules as Array<Record<string, unknown>>)[index];
    return promptFile === undefined ? shownRule : { ...shownRule, then: { ...then, prompt: { file: promptFile } } };
  });
  return shown;
}

function walk(value: unknown, key?: string): unknown {
  if (key && SECRET_KEYS.has(key) && typeof value === 'string') return mask(value);
  if (key && DURATION_KEYS.has(key) && typeof value === 'number') return formatDuration(value);
  if (Array.isArray(value)) return value.map((item) => walk(item));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
  }
  return value;
}
