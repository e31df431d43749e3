/**
 * Environment overrides: AUTOSOLVE_ + the key path in upper case, plus the
 * conventional fallbacks GITHUB_TOKEN, OPENAI_API_KEY, DATABASE_URL and LOG_LEVEL.
 */
import { LOG_LEVELS } from './schema.js';
import { leaves, type Leaf } from './schema-walk.js';
import { closest } from './suggest.js';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Test-only, not a configuration key: every wait of the scheduler's retry
 * baseline (network 2 s, server busy 5 s, unrecognised 30 s, and their caps)
 * is multiplied by this factor, so tests that go through a retry do not sit
 * through seconds of it. A wait the server asked for (retry-after) is kept.
 */
export const TEST_RETRY_SCALE = 'AUTOSOLVE_TEST_RETRY_SCALE';

/** Variables an orchestrator sets for a service named autosolve (Kubernetes service links), not for us. */
const SERVICE_LINK = /^AUTOSOLVE_(?:PORT|SERVICE_HOST|SERVICE_PORT)(?:_|$)/;

export function envName(path: readonly string[]): string {
  return `AUTOSOLVE_${path.map((p) => p.toUpperCase()).join('_')}`;
}

/**
 * Writes every override into `raw`. A variable with a bad value is a problem;
 * an unknown AUTOSOLVE_ variable is only a warning: orchestrators inject their
 * own (AUTOSOLVE_PORT for a Service named autosolve) and the daemon must start there.
 */
export function applyEnv(raw: Record<string, unknown>, env: Env, problems: string[], warnings: string[]): void {
  const known = new Map(leaves().map((leaf) => [envName(leaf.path), leaf]));
  const serviceLinks: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('AUTOSOLVE_') || name === 'AUTOSOLVE_CONFIG' || name === TEST_RETRY_SCALE || value === undefined) continue;
    const leaf = known.get(name);
    if (!leaf) {
      if (SERVICE_LINK.test(name)) {
        serviceLinks.push(name);
        continue;
      }
      const hint = closest(name, [...known.keys()]);
      warnings.push(`${name}: unknown environment variable, ignored${hint ? ` (did you mean ${hint}?)` : ''}`);
      continue;
    }
    const converted = fromEnv(leaf, value);
    if (converted.problem) problems.push(`${name}: ${converted.problem}`);
    else setPath(raw, leaf.path, converted.value);
  }
  if (serviceLinks.length > 0) {
    warnings.push(
      `${serviceLinks.sort().join(', ')}: ignored; these look like Kubernetes service links for a Service named autosolve ` +
        '(set enableServiceLinks: false in the pod spec to drop them)',
    );
  }
  applyLogLevel(raw, env, problems);
  const scale = testRetryScale(env);
  if (scale.problem) problems.push(scale.problem);
  // Said on every start: a daemon retrying 2 s failures every 20 ms must not go unnoticed in production.
  else if (scale.factor !== 1) warnings.push(`${TEST_RETRY_SCALE}=${env[TEST_RETRY_SCALE]}: retry waits are ${scale.factor} times the usual; for tests only, unset it anywhere else`);
  const github = (raw.github ?? {}) as Record<string, unknown>;
  if ((github.token === undefined || github.token === '') && env.GITHUB_TOKEN) setPath(raw, ['github', 'token'], env.GITHUB_TOKEN);
  const database = (raw.database ?? {}) as Record<string, unknown>;
  if ((database.url === undefined || database.url === '') && env.DATABASE_URL) setPath(raw, ['database', 'url'], env.DATABASE_URL);
  const openai = ((raw.ai as Record<string, unknown> | undefined)?.openai ?? {}) as Record<string, unknown>;
  if ((openai.apiKey === undefined || openai.apiKey === '') && env.OPENAI_API_KEY) {
    setPath(raw, ['ai', 'openai', 'apiKey'], env.OPENAI_API_KEY);
  }
  applyExecutorKeys(raw, env);
}

/** A named openai executor without an apiKey takes OPENAI_API_KEY, like ai.openai.apiKey. */
function applyExecutorKeys(raw: Record<string, unknown>, env: Env): void {
  const executors = raw.executors;
  if (!env.OPENAI_API_KEY || executors === null || typeof executors !== 'object' || Array.isArray(executors)) return;
  for (const entry of Object.values(executors as Record<string, unknown>)) {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) continue;
    const executor = entry as Record<string, unknown>;
    if (executor.provider === 'openai' && (executor.apiKey === undefined || executor.apiKey === '')) executor.apiKey = env.OPENAI_API_KEY;
  }
}

/** LOG_LEVEL, as other Node daemons read it; it overrides log.level in the file, AUTOSOLVE_LOG_LEVEL overrides it. */
function applyLogLevel(raw: Record<string, unknown>, env: Env, problems: string[]): void {
  const value = env.LOG_LEVEL?.trim();
  if (!value || env.AUTOSOLVE_LOG_LEVEL !== undefined) return;
  const level = value.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) setPath(raw, ['log', 'level'], level);
  else problems.push(`LOG_LEVEL: expected ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
}

/** AUTOSOLVE_TEST_RETRY_SCALE: a factor in (0, 1] (it only shortens); 1 when unset. */
export function testRetryScale(env: Env): { factor: number; problem?: string } {
  const value = env[TEST_RETRY_SCALE];
  if (value === undefined) return { factor: 1 };
  const factor = Number(value);
  if (value.trim() === '' || !Number.isFinite(factor) || factor <= 0 || factor > 1) {
    return { factor: 1, problem: `${TEST_RETRY_SCALE}: expected a factor above 0 and at most 1 (test-only: it shortens retry waits), got ${JSON.stringify(value)}` };
  }
  return { factor };
}

/** Whether debug output is asked for through the environment alone (before any config is read). */
export function debugRequested(env: Env): boolean {
  if (/^(true|1|yes)$/i.test(env.AUTOSOLVE_LOG_DEBUG ?? '')) return true;
  const level = env.AUTOSOLVE_LOG_LEVEL ?? env.LOG_LEVEL;
  const lowered = level?.trim().toLowerCase();
  return lowered === 'debug' || lowered === 'trace';
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
    case 'record':
      return parseJsonEnv(value, 'expected a JSON object', (parsed) => parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed));
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
  // Rules have no short form.
  if (leaf.path.join('.') === 'rules') return { problem: 'expected a JSON array' };
  if (leaf.element === 'object') {
    const repos = value.split(',').map((s) => s.trim()).filter(Boolean);
    const parsed = repos.map((full) => full.split('/'));
    if (parsed.some((parts) => parts.length !== 2)) return { problem: 'expected owner/name[,owner/name...] or a JSON array' };
    return { value: parsed.map(([owner, name]) => ({ owner, name })) };
  }
  return { value: value.split(/\s+/).filter(Boolean) };
}

function parseJsonEnv(value: string, expected: string, accept: (parsed: unknown) => boolean): { value?: unknown; problem?: string } {
  try {
    const parsed: unknown = JSON.parse(value);
    return accept(parsed) ? { value: parsed } : { problem: expected };
  } catch {
    return { problem: expected };
  }
}

export function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}
