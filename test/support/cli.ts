/** Runs the real CLI as a child process, from a temporary working directory. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = resolve(import.meta.dirname, '../..');
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/esm/index.mjs')).href;
const MAIN = join(ROOT, 'src/cli/main.ts');

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
  /** A compiled entry point (see compileCli) instead of src/cli/main.ts through tsx: the same code, started faster. */
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
  const entry = options.main === undefined ? ['--import', TSX, MAIN] : [options.main];
  const child = spawn(process.execPath, [...entry, ...args], {
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
 * Compiles src/ once into a folder inside the project (so that node_modules
 * resolves), for tests that start the CLI a hundred times. Returns the entry
 * point and the cleanup.
 */
export function compileCli(): { main: string; cleanup: () => void } {
  const outDir = mkdtempSync(join(ROOT, '.test-build-'));
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', outDir], { encoding: 'utf8' });
  if (result.status !== 0) {
    rmSync(outDir, { recursive: true, force: true });
    throw new Error(`tsc failed (${result.status}):\n${result.stdout}${result.stderr}`);
  }
  return { main: join(outDir, 'cli/main.js'), cleanup: () => rmSync(outDir, { recursive: true, force: true }) };
}
