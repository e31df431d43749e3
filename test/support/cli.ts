/** Runs the real CLI as a child process, from a temporary working directory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly cwd: string;
  /** Added to a clean environment (no AUTOSOLVE_* or GITHUB_TOKEN from the caller). */
  readonly env?: Record<string, string>;
  readonly input?: string;
  /** The entry point to run. Default: src/ as it is now, compiled (builtMain). */
  readonly main?: string;
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('AUTOSOLVE_') || key === 'GITHUB_TOKEN' || key === 'OPENAI_API_KEY' || key === 'DATABASE_URL' || key.startsWith('NODE_TEST')) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Starts the CLI; the caller waits for it with `finished`. */
export function startCli(args: readonly string[], options: CliOptions): { child: ChildProcess; finished: Promise<CliResult>; output: () => { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [options.main ?? builtMain(), ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin?.end(options.input ?? '');
  const finished = new Promise<CliResult>((resolveResult, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolveResult({ code, signal, stdout, stderr }));
  });
  return { child, finished, output: () => ({ stdout, stderr }) };
}

export function runCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  return startCli(args, options).finished;
}

/** A temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = 'autosolve-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export function writeFile(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/**
 * src/ as it is now, compiled, for the CLI's child processes: each file
 * transpiled alone by esbuild, as tsx does it on the fly (types are the
 * typecheck's business), in about a tenth of a second. A child then starts in
 * half the time tsx takes, which the suite's few hundred CLI runs feel. The
 * build is kept in the project (so that node_modules resolves, and
 * `../package.json` is the project's) under a hash of the sources, shared by
 * every test file of a run and rebuilt when a source changes; it is written
 * beside and renamed into place, so that test files starting together never
 * see half of one. Older builds are removed. Worked out once per process.
 */
let built: string | undefined;

export function builtMain(): string {
  if (built !== undefined) return built; // the sources do not change under a running test file
  const sources = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .sort();
  const hash = createHash('sha256');
  for (const file of sources) hash.update(file).update('\0').update(readFileSync(join(ROOT, 'src', file))).update('\0');
  const dir = join(ROOT, `${BUILD_PREFIX}${hash.digest('hex').slice(0, 16)}`);
  if (!existsSync(dir)) {
    const scratch = mkdtempSync(join(ROOT, `${BUILD_PREFIX}partial-`));
    buildSync({ entryPoints: sources.map((file) => join(ROOT, 'src', file)), outdir: scratch, outbase: join(ROOT, 'src'), format: 'esm', platform: 'node', target: 'node20', logLevel: 'error' });
    try {
      renameSync(scratch, dir);
    } catch {
      rmSync(scratch, { recursive: true, force: true }); // another test file got there first, with the same sources
    }
    removeOldBuilds(dir);
  }
  built = join(dir, 'cli/main.js');
  return built;
}

const BUILD_PREFIX = '.test-build-';

/** Builds of earlier sources (and partial ones) untouched for an hour: no run still uses them. */
function removeOldBuilds(keep: string): void {
  const hourAgo = Date.now() - 3_600_000;
  for (const name of readdirSync(ROOT)) {
    const path = join(ROOT, name);
    if (!name.startsWith(BUILD_PREFIX) || path === keep) continue;
    try {
      if (statSync(path).mtimeMs < hourAgo) rmSync(path, { recursive: true, force: true });
    } catch {
      // removed meanwhile by another test file
    }
  }
}

/** The compiled CLI (builtMain), for callers that hold it for a while; the cleanup leaves the shared build in place. */
export function compileCli(): { main: string; cleanup: () => void } {
  return { main: builtMain(), cleanup: () => {} };
}
