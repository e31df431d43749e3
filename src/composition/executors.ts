/**
 * The executors by name: `default` is the one ai.provider & co. configure
 * (today's behaviour, unchanged), the others come from `executors:`. Each is
 * built on first use, so an executor no rule reaches costs nothing.
 */
import type { Config } from '../config/schema.js';
import type { Executor } from '../domain/ports.js';
import { DEFAULT_EXECUTOR } from '../domain/rules.js';
import { createExecutor, type ExecutorHooks } from '../infra/ai/index.js';
import { executorSettings, namedExecutorSettings } from './executor-settings.js';

/** A name the configuration does not define (the configuration checks the rules' names; this is for names typed elsewhere). */
export class UnknownExecutorError extends Error {
  readonly executor: string;
  readonly known: readonly string[];
  constructor(executor: string, known: readonly string[]) {
    super(`no executor named "${executor}" (known: ${known.join(', ')})`);
    this.name = 'UnknownExecutorError';
    this.executor = executor;
    this.known = known;
  }
}

export interface Executors {
  /** `default` first, then the names of `executors:` in order. */
  readonly names: readonly string[];
  has(name: string): boolean;
  /** The executor named, built on first use; throws UnknownExecutorError for a name not configured. */
  get(name: string): Executor;
}

export interface ExecutorsOptions extends ExecutorHooks {
  /** Replaces the executor named `default` (the demo's built-in one). Default: built from ai.provider. */
  readonly defaultExecutor?: Executor;
}

export function buildExecutors(config: Config, options: ExecutorsOptions = {}): Executors {
  const hooks: ExecutorHooks = options.onStderr === undefined ? {} : { onStderr: options.onStderr };
  const names = [DEFAULT_EXECUTOR, ...Object.keys(config.executors)];
  const built = new Map<string, Executor>();
  if (options.defaultExecutor !== undefined) built.set(DEFAULT_EXECUTOR, options.defaultExecutor);
  const has = (name: string) => names.includes(name);
  return {
    names,
    has,
    get(name) {
      const existing = built.get(name);
      if (existing !== undefined) return existing;
      const entry = Object.hasOwn(config.executors, name) ? config.executors[name] : undefined;
      if (name !== DEFAULT_EXECUTOR && entry === undefined) throw new UnknownExecutorError(name, names);
      const executor = createExecutor(entry === undefined ? executorSettings(config) : namedExecutorSettings(config, entry), hooks);
      built.set(name, executor);
      return executor;
    },
  };
}
