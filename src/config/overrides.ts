/** Command-line flags that stand for a configuration key, applied after loading. */
import type { Config } from './schema.js';

/** `run --dry-run`: the same as `ai.dryRun: true`. */
export function withDryRun(config: Config): Config {
  return { ...config, ai: { ...config.ai, dryRun: true } };
}
