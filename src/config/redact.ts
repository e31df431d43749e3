/** The configuration as it may be shown: secrets masked, durations readable. */
import { formatDuration } from './duration.js';
import type { Config } from './schema.js';

const SECRET_KEYS = new Set(['token', 'apiKey']);
const DURATION_KEYS = new Set(['httpClientTimeout', 'minInterval', 'parseInterval', 'timeout', 'visibilityTimeout', 'retryDelay', 'setupBudget', 'shutdownGrace', 'discoveryInterval', 'reconcileInterval', 'cpuPerMinute']);

export function mask(secret: string): string {
  return secret ? `*** (set, ${secret.length} characters)` : '(not set)';
}

export function redactedConfig(config: Config): Record<string, unknown> {
  return walk(config) as Record<string, unknown>;
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
