/**
 * Loading the configuration: one YAML file (`--config`, else AUTOSOLVE_CONFIG,
 * else ./config.yml), then AUTOSOLVE_* environment overrides, then validation.
 * This is the only module that reads process.env.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { applyEnv, debugRequested as debugRequestedIn, type Env } from './env.js';
import { describeIssue, describeYamlError } from './messages.js';
import { settleRules } from './rules-settle.js';
import { configSchema, type Config, type ParsedConfig } from './schema.js';

export type { Env } from './env.js';

/** Every problem found, each naming its key path. The CLI exits 2 on it. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  readonly source: string;

  constructor(source: string, problems: readonly string[], warnings: readonly string[] = []) {
    // Warnings go with the problems: an ignored AUTOSOLVE_GITHUB_TOKN is often why the token is missing.
    const warned = warnings.map((w) => `\n  warning: ${w}`).join('');
    super(`configuration is invalid (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}${warned}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.source = source;
  }
}

export interface LoadOptions {
  /** `--config FILE`. */
  readonly file?: string | undefined;
  /** Defaults to the process environment. */
  readonly env?: Env;
  /** Also require what `run` needs: a token and at least one repository. Default true. */
  readonly forRun?: boolean;
}

export interface LoadedConfig {
  readonly config: Config;
  /** The file read, or null when none was found and defaults + env were used. */
  readonly file: string | null;
  /** What was accepted but deserves a look (unknown AUTOSOLVE_ variables, merged repositories), for the caller to show. */
  readonly warnings: readonly string[];
}

/** The process environment, for modules that hand variables on (the command executor). */
export function processEnv(): Env {
  return process.env;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const explicit = options.file ?? env.AUTOSOLVE_CONFIG;
  const file = resolve(explicit ?? 'config.yml');
  const found = explicit !== undefined || existsSync(file);
  const source = found ? file : 'defaults and environment';
  const problems: string[] = [];
  const warnings: string[] = [];

  let raw: Record<string, unknown> = {};
  if (found) {
    const read = readYaml(file);
    // A file that cannot be read or parsed is the one problem: anything the schema said after it would be noise.
    if (typeof read === 'string') throw new ConfigError(source, [read]);
    raw = read;
  }
  applyEnv(raw, env, problems, warnings);

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) problems.push(...parsed.error.issues.map((issue) => describeIssue(issue, raw)));
  const config = parsed.success ? settle(parsed.data, found ? file : null, env, warnings, problems) : undefined;
  if (config && options.forRun !== false) problems.push(...runRequirements(config), ...placeholderToken(config));
  if (problems.length > 0 || !config) throw new ConfigError(source, problems, warnings);

  return { config, file: found ? file : null, warnings };
}

/** The file's keys, or the one problem that stops reading it. */
function readYaml(file: string): Record<string, unknown> | string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${file}: file not found` : `${file}: cannot be read (${code ?? 'error'})`;
  }
  const doc = parseDocument(text);
  const [first] = doc.errors;
  if (first) return describeYamlError(file, text, first);
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) return `${file}: expected a mapping of keys at the top level`;
  return withoutEmptyKeys(value as Record<string, unknown>);
}

/**
 * `http:` with every key below it commented out is YAML for `http: null`; a key
 * with nothing after it means "not set", so it is dropped, at every depth.
 */
function withoutEmptyKeys(mapping: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(mapping)) {
    if (value === null) continue;
    out[key] = value !== null && typeof value === 'object' && !Array.isArray(value) ? withoutEmptyKeys(value as Record<string, unknown>) : value;
  }
  return out;
}

/** What the schema cannot know: the config file's folder, that GitHub names ignore letter case, which executors exist. */
function settle(config: ParsedConfig, file: string | null, env: Env, warnings: string[], problems: string[]): Config {
  // A path from the file means "next to this file" (systemd, cron and `--config` run from elsewhere);
  // a path from the environment was typed in a shell, so it means the working directory.
  const base = file !== null && env.AUTOSOLVE_DATABASE_SQLITEPATH === undefined ? dirname(file) : process.cwd();
  const sqlitePath = isAbsolute(config.database.sqlitePath) ? config.database.sqlitePath : resolve(base, config.database.sqlitePath);
  return {
    ...config,
    database: { ...config.database, sqlitePath },
    github: { ...config.github, repositories: mergeRepositories(config.github.repositories, warnings) },
    // Prompt files are next to the config file (or in the working directory when there is none).
    rules: settleRules(config.rules, config.executors, file === null ? process.cwd() : dirname(file), problems),
  };
}

/** `export GITHUB_TOKEN=ghp_...` copied as written would only fail later, at setup, as a 401. */
function placeholderToken(config: Config): string[] {
  return /\.\.\.|…|^<.*>$/.test(config.github.token)
    ? ['github.token: still the placeholder from the example ("ghp_..."); set a real token (see "The token" in the README for its scopes)']
    : [];
}

/** `acme/API` and `acme/api` are one repository on GitHub: watch it once, and say so. */
function mergeRepositories(repositories: ParsedConfig['github']['repositories'], warnings: string[]): ParsedConfig['github']['repositories'] {
  const first = new Map<string, number>();
  const kept: ParsedConfig['github']['repositories'] = [];
  repositories.forEach((repo, index) => {
    const name = `${repo.owner}/${repo.name}`;
    const earlier = first.get(name.toLowerCase());
    if (earlier === undefined) {
      first.set(name.toLowerCase(), index);
      kept.push(repo);
      return;
    }
    const other = repositories[earlier];
    const otherName = other ? `${other.owner}/${other.name}` : name;
    warnings.push(
      otherName === name
        ? `github.repositories[${index}]: ${name} is listed twice (also github.repositories[${earlier}]); watched once`
        : `github.repositories[${index}]: ${name} and github.repositories[${earlier}]: ${otherName} are the same repository (GitHub names ignore letter case); watched once, as ${otherName}`,
    );
  });
  return kept;
}

function runRequirements(config: Config): string[] {
  const problems: string[] = [];
  if (!config.github.token) problems.push('github.token: required (or set AUTOSOLVE_GITHUB_TOKEN or GITHUB_TOKEN)');
  if (config.github.repositories.length === 0 && config.github.organizations.length === 0) {
    problems.push('github.repositories: list at least one repository (owner and name), or an organisation under github.organizations');
  }
  problems.push(...defaultExecutorRequirements(config));
  return problems;
}

/** What the executor named `default` (ai.provider & co.) needs before it can run; for commands that run it without `run`'s checks. */
export function defaultExecutorRequirements(config: Config): string[] {
  const problems: string[] = [];
  if (config.ai.provider === 'openai' && !config.ai.openai.model) problems.push('ai.openai.model: required when ai.provider is openai');
  if (config.ai.provider === 'command' && !config.ai.command.run) problems.push('ai.command.run: required when ai.provider is command (an argv list)');
  return problems;
}

/** Whether the user asked for debug output through the environment (before any config is read). */
export function debugRequested(env: Env = process.env): boolean {
  return debugRequestedIn(env);
}
