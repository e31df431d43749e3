/**
 * Loading the configuration: one YAML file (`--config`, else AUTOSOLVE_CONFIG,
 * else ./config.yml), then AUTOSOLVE_* environment overrides, then validation.
 * This is the only module that reads process.env.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { closest } from './suggest.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** Every problem found, each naming its key path. The CLI exits 2 on it. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  readonly source: string;

  constructor(source: string, problems: readonly string[]) {
    super(`configuration is invalid (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
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
}

/** The process environment, for modules that hand variables on (the command executor). */
export function processEnv(): Env {
  return process.env;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const explicit = options.file ?? env.AUTOSOLVE_CONFIG;
  const file = resolve(explicit ?? 'config.yml');
  const source = explicit !== undefined || existsSync(file) ? file : 'defaults and environment';
  const problems: string[] = [];

  let raw: Record<string, unknown> = {};
  if (explicit !== undefined || existsSync(file)) {
    raw = readYaml(file, problems);
  }
  applyEnv(raw, env, problems);

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) problems.push(...parsed.error.issues.map(describeIssue));
  if (parsed.success && options.forRun !== false) problems.push(...runRequirements(parsed.data));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(source, problems);

  return { config: parsed.data, file: source === file ? file : null };
}

function readYaml(file: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(code === 'ENOENT' ? `${file}: file not found` : `${file}: cannot be read (${code ?? 'error'})`);
    return {};
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    for (const error of doc.errors) problems.push(`${file}: YAML syntax error: ${error.message.split('\n')[0]}`);
    return {};
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${file}: expected a mapping of keys at the top level`);
    return {};
  }
  return value as Record<string, unknown>;
}

// ---------------------------------------------------------------- schema walking

interface SchemaDef {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  in?: z.ZodType;
}

function defOf(schema: z.ZodType): SchemaDef {
  return (schema as unknown as { def: SchemaDef }).def;
}

/** Strips defaults, optionals and transforms down to the schema that describes the input. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
}

/** The schema at a key path (array indexes skipped), or undefined. */
function schemaAt(path: readonly PropertyKey[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = configSchema;
  for (const key of path) {
    if (!current) return undefined;
    const def = defOf(unwrap(current));
    if (def.type === 'array' && typeof key === 'number') current = def.element;
    else if (def.type === 'object' && typeof key === 'string') current = def.shape?.[key];
    else return undefined;
  }
  return current;
}

interface Leaf {
  readonly path: readonly string[];
  readonly kind: string;
  readonly element?: string;
}

function leaves(schema: z.ZodType = configSchema, path: string[] = []): Leaf[] {
  const inner = unwrap(schema);
  const def = defOf(inner);
  if (def.type === 'object' && def.shape) {
    return Object.entries(def.shape).flatMap(([key, child]) => leaves(child, [...path, key]));
  }
  if (def.type === 'array' && def.element) {
    return [{ path, kind: 'array', element: defOf(unwrap(def.element)).type }];
  }
  return [{ path, kind: def.type }];
}

// ---------------------------------------------------------------- environment

function envName(path: readonly string[]): string {
  return `AUTOSOLVE_${path.map((p) => p.toUpperCase()).join('_')}`;
}

function applyEnv(raw: Record<string, unknown>, env: Env, problems: string[]): void {
  const known = new Map(leaves().map((leaf) => [envName(leaf.path), leaf]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('AUTOSOLVE_') || name === 'AUTOSOLVE_CONFIG' || value === undefined) continue;
    const leaf = known.get(name);
    if (!leaf) {
      const hint = closest(name, [...known.keys()]);
      problems.push(`${name}: unknown environment variable${hint ? ` (did you mean ${hint}?)` : ''}`);
      continue;
    }
    const converted = fromEnv(leaf, value);
    if (converted.problem) problems.push(`${name}: ${converted.problem}`);
    else setPath(raw, leaf.path, converted.value);
  }
  const github = (raw.github ?? {}) as Record<string, unknown>;
  if ((github.token === undefined || github.token === '') && env.GITHUB_TOKEN) setPath(raw, ['github', 'token'], env.GITHUB_TOKEN);
  const openai = ((raw.ai as Record<string, unknown> | undefined)?.openai ?? {}) as Record<string, unknown>;
  if ((openai.apiKey === undefined || openai.apiKey === '') && env.OPENAI_API_KEY) {
    setPath(raw, ['ai', 'openai', 'apiKey'], env.OPENAI_API_KEY);
  }
}

function fromEnv(leaf: Leaf, value: string): { value?: unknown; problem?: string } {
  switch (leaf.kind) {
    case 'boolean':
      if (/^(true|1|yes)$/i.test(value)) return { value: true };
      if (/^(false|0|no)$/i.test(value)) return { value: false };
      return { problem: `expected true or false, got ${JSON.stringify(value)}` };
    case 'number':
      return value.trim() !== '' && Number.isFinite(Number(value))
        ? { value: Number(value) }
        : { problem: `expected a number, got ${JSON.stringify(value)}` };
    case 'array':
      return parseListEnv(leaf, value);
    default:
      return { value };
  }
}

/** A JSON array, or the short forms `owner/name,owner/name` and `prog arg arg`. */
function parseListEnv(leaf: Leaf, value: string): { value?: unknown; problem?: string } {
  if (value.trim().startsWith('[')) {
    try {
      return { value: JSON.parse(value) as unknown };
    } catch {
      return { problem: 'expected a JSON array' };
    }
  }
  if (leaf.element === 'object') {
    const repos = value.split(',').map((s) => s.trim()).filter(Boolean);
    const parsed = repos.map((full) => full.split('/'));
    if (parsed.some((parts) => parts.length !== 2)) return { problem: 'expected owner/name[,owner/name...] or a JSON array' };
    return { value: parsed.map(([owner, name]) => ({ owner, name })) };
  }
  return { value: value.split(/\s+/).filter(Boolean) };
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}

// ---------------------------------------------------------------- messages

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const candidates = Object.keys(defOf(unwrap(schemaAt(issue.path) ?? configSchema)).shape ?? {});
    return issue.keys
      .map((key) => {
        const hint = closest(key, candidates);
        const full = where ? `${where}.${key}` : key;
        return `${full}: unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`;
      })
      .join('\n  - ');
  }
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) {
    return `${where}: required (expected ${issue.expected})`;
  }
  return `${where || '(top level)'}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

function runRequirements(config: Config): string[] {
  const problems: string[] = [];
  if (!config.github.token) problems.push('github.token: required (or set AUTOSOLVE_GITHUB_TOKEN or GITHUB_TOKEN)');
  if (config.github.repositories.length === 0) problems.push('github.repositories: list at least one repository (owner and name)');
  const seen = new Set<string>();
  config.github.repositories.forEach((repo, index) => {
    const key = `${repo.owner}/${repo.name}`.toLowerCase();
    if (seen.has(key)) problems.push(`github.repositories[${index}]: ${repo.owner}/${repo.name} is listed twice`);
    seen.add(key);
  });
  if (config.ai.provider === 'openai' && !config.ai.openai.model) problems.push('ai.openai.model: required when ai.provider is openai');
  if (config.ai.provider === 'command' && !config.ai.command.run) problems.push('ai.command.run: required when ai.provider is command (an argv list)');
  return problems;
}

/** Whether the user asked for debug output through the environment (before any config is read). */
export function debugRequested(env: Env = process.env): boolean {
  return /^(true|1|yes)$/i.test(env.AUTOSOLVE_LOG_DEBUG ?? '');
}
