/**
 * What a command run may see of the daemon: an allow-listed environment and a
 * working folder of its own. The program reads issue text an attacker wrote
 * and may be talked into exfiltrating whatever it can reach, so it is given
 * nothing it was not handed on purpose — no inherited credentials (a block
 * list always misses one: `DATABASE_URL`, `SSH_AUTH_SOCK`, `AWS_PROFILE`), and
 * not the daemon's working directory, where `config.yml` usually lies.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { ClassifiedError } from '../../domain/failure.js';
import type { ExecutorInput } from '../../domain/ports.js';

/** Variables every program needs to behave normally (locale, time zone, where to write temporary files). */
const BASE_VARIABLES = new Set(['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR']);
const LOCALE_VARIABLE = /^LC_[A-Z_]+$/;

/**
 * Linux refuses a single environment string above 128 KiB (E2BIG); the full
 * prompt is always on stdin.
 */
const MAX_ENV_VALUE_CHARS = 64 * 1024;

/** The base variables, the `passEnv` names, and the issue as `AUTOSOLVE_*` variables; nothing else. */
export function commandEnvironment(
  parentEnv: Readonly<Record<string, string | undefined>>,
  passEnv: readonly string[],
  input: ExecutorInput,
): Record<string, string> {
  const passed = new Set(passEnv);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parentEnv)) {
    if (value === undefined) continue;
    if (BASE_VARIABLES.has(name) || LOCALE_VARIABLE.test(name) || passed.has(name)) env[name] = value;
  }
  const issue: Record<string, string> = {
    AUTOSOLVE_REPOSITORY: input.repository,
    AUTOSOLVE_ISSUE_NUMBER: String(input.number),
    AUTOSOLVE_ISSUE_TITLE: input.title,
    AUTOSOLVE_ISSUE_URL: input.url,
    AUTOSOLVE_ISSUE_LABELS: input.labels.join(','),
    AUTOSOLVE_PROMPT: input.prompt.slice(0, MAX_ENV_VALUE_CHARS),
  };
  // spawn() throws on a NUL byte in the environment; issue text could carry one.
  for (const [name, value] of Object.entries(issue)) env[name] = value.replaceAll('\0', '');
  return env;
}

/** Where one run works, and how to tidy up after it. */
export interface RunFolder {
  readonly path: string;
  /** Removes a folder made for this run; leaves a configured one alone. Never throws. */
  release(): Promise<void>;
}

/** Temporary folders not yet removed, for the daemon's last-moment cleanup. */
export const liveFolders = new Set<string>();

/**
 * The configured `ai.command.cwd` (checked again here: it may have been
 * removed since the configuration was checked), or a fresh, empty folder of
 * the run's own under the system's temporary directory.
 */
export async function runFolder(configured: string | undefined, description: string): Promise<RunFolder> {
  if (configured !== undefined) {
    const info = await stat(configured).catch(() => undefined);
    if (!info?.isDirectory()) {
      throw new ClassifiedError('permanent', `${description}: ai.command.cwd ${configured} is not an existing folder; create it or change the setting`);
    }
    return { path: configured, release: () => Promise.resolve() };
  }
  const created = await mkdtemp(path.join(tmpdir(), 'autosolve-run-'));
  liveFolders.add(created);
  return {
    path: created,
    async release() {
      // A program killed mid-write may still be closing files: retry briefly.
      // Left in liveFolders when that fails, for one more try when the daemon exits.
      const removed = await rm(created, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 }).then(() => true, () => false);
      if (removed) liveFolders.delete(created);
    },
  };
}
