/**
 * Runs any program as the AI tool: a coding agent, a script. The argv list is
 * spawned without a shell, so nothing in the issue text is ever interpreted as
 * shell syntax. The issue arrives as JSON on stdin and as `AUTOSOLVE_*`
 * environment variables; stdout is the answer; stderr is handed line by line
 * to a logger and its tail explains failures.
 *
 * It sees only an allow-listed environment and works in a folder of its own
 * (see command-isolation.ts).
 *
 * The program leads its own process group, so a timeout or shutdown kills the
 * whole tree it started (SIGTERM, then SIGKILL after a grace period), not just
 * the direct child.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';

import { ClassifiedError } from '../../domain/failure.js';
import type { Executor, ExecutorInput, ExecutorOutput } from '../../domain/ports.js';
import { scrubSecrets } from '../../domain/scrub.js';
import { commandEnvironment, liveFolders, runFolder } from './command-isolation.js';
import { abortError, formatDuration } from './failures.js';

export interface CommandExecutorOptions {
  /** argv: the program and its arguments. No shell is involved. */
  readonly run: readonly string[];
  /** How long the program may run (`ai.timeout`) before its process group is killed. */
  readonly timeoutMs: number;
  /** Receives each stderr line, for logging. Default: stderr is only kept for error messages. */
  readonly onStderr?: (line: string) => void;
  /** Time between SIGTERM and SIGKILL. Default: 2000 ms. */
  readonly killGraceMs?: number;
  /** Stdout beyond this many bytes fails the run. Default: 1 MiB. */
  readonly maxOutputBytes?: number;
  /**
   * The environment the allow-list picks from (the daemon passes its own, from
   * src/config): PATH, HOME, LANG, LC_*, TZ and TMPDIR, plus `allowEnv`.
   */
  readonly parentEnv: Readonly<Record<string, string | undefined>>;
  /** `ai.command.passEnv`: further variable names handed on; the only way in. Default: none. */
  readonly allowEnv?: readonly string[];
  /** Known secrets scrubbed from stderr lines and error messages (with GitHub-token-shaped strings). Default: none. */
  readonly secrets?: readonly string[];
  /** `ai.command.cwd`: an existing folder to run in. Default: a fresh temporary folder per run, removed afterwards. */
  readonly cwd?: string;
}

const DEFAULT_KILL_GRACE_MS = 2000;
const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
const STDERR_TAIL_CHARS = 2048;
/** After SIGKILL, how long to keep waiting for the pipes to close. */
const GIVE_UP_AFTER_KILL_MS = 1000;
const MAX_STDERR_LINE_CHARS = 4096;

/** How the program ended, before it is judged. */
interface Ending {
  readonly spawnError?: NodeJS.ErrnoException;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderrTail: string;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  readonly overflowed: boolean;
}

export class CommandExecutor implements Executor {
  readonly description: string;
  readonly #program: string;
  readonly #args: readonly string[];
  readonly #name: string;
  readonly #options: CommandExecutorOptions;

  constructor(options: CommandExecutorOptions) {
    const [program, ...args] = options.run;
    if (program === undefined || program === '') {
      throw new Error('ai.command.run needs at least the program to run, e.g. ["my-agent", "--issue-json"]');
    }
    // A path like ./scripts/triage.sh meant the daemon's folder; the program now starts in another one.
    this.#program = program.includes('/') ? path.resolve(program) : program;
    this.#args = args;
    this.#name = path.basename(program);
    this.#options = options;
    this.description = `command ${this.#name}`;
  }

  async run(input: ExecutorInput, signal: AbortSignal): Promise<ExecutorOutput> {
    if (signal.aborted) throw abortError(this.description);
    const folder = await runFolder(this.#options.cwd, this.description);
    try {
      const ending = await this.#execute(input, folder.path, signal);
      return { text: this.#judge(ending), model: this.#name };
    } finally {
      // Also after a timeout or an abort: #execute settles only once the group was killed.
      await folder.release();
    }
  }

  #judge(ending: Ending): string {
    const tail = ending.stderrTail.trim() ? `; stderr: ${ending.stderrTail.trim()}` : '';
    if (ending.aborted) throw abortError(this.description);
    if (ending.spawnError) {
      const { code } = ending.spawnError;
      const why =
        code === 'ENOENT' ? `program not found: ${this.#program}`
        : code === 'EACCES' ? `program is not executable: ${this.#program}`
        : `cannot start ${this.#program} (${code ?? ending.spawnError.message})`;
      throw new ClassifiedError('permanent', `${this.description}: ${why}`, { cause: ending.spawnError });
    }
    if (ending.timedOut) {
      const limit = formatDuration(this.#options.timeoutMs);
      throw new ClassifiedError('permanent', `${this.description} did not finish within ${limit} and was killed${tail}`);
    }
    if (ending.overflowed) {
      const limit = this.#options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
      throw new ClassifiedError('permanent', `${this.description} wrote more than ${limit} bytes to stdout and was killed`);
    }
    if (ending.signal !== null) {
      throw new ClassifiedError('permanent', `${this.description} was killed by ${ending.signal}${tail}`);
    }
    if (ending.code !== 0) {
      throw new ClassifiedError('permanent', `${this.description} exited with code ${ending.code}${tail}`);
    }
    const text = ending.stdout.trim();
    if (text === '') throw new ClassifiedError('permanent', `${this.description} produced no output${tail}`);
    return text;
  }

  #execute(input: ExecutorInput, cwd: string, signal: AbortSignal): Promise<Ending> {
    const maxOutput = this.#options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    return new Promise<Ending>((resolve) => {
      const stdout: Buffer[] = [];
      let stdoutBytes = 0;
      let stderrTail = '';
      let partialLine = '';
      let timedOut = false;
      let aborted = false;
      let overflowed = false;
      let settled = false;

      const none = { code: null, signal: null, stdout: '', stderrTail: '', timedOut, aborted, overflowed };
      let child: ChildProcessWithoutNullStreams;
      try {
        child = spawn(this.#program, [...this.#args], {
          shell: false,
          // Its own process group, so one kill(-pid) reaches every descendant.
          detached: true,
          stdio: ['pipe', 'pipe', 'pipe'],
          cwd,
          env: commandEnvironment(this.#options.parentEnv, this.#options.allowEnv ?? [], input),
        });
      } catch (error) {
        // Invalid arguments (a NUL byte in argv) throw instead of emitting 'error'.
        resolve({ ...none, spawnError: error as NodeJS.ErrnoException });
        return;
      }
      const graceMs = this.#options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
      const killer = new GroupKiller(child.pid, graceMs);
      liveGroups.track(child.pid);
      const stop = (): void => {
        killer.kill();
        // A descendant that left the group can hold our pipes open forever:
        // stop waiting for them some time after the SIGKILL.
        const giveUp = setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          finish({ code: child.exitCode, signal: child.signalCode });
        }, graceMs + GIVE_UP_AFTER_KILL_MS);
        giveUp.unref();
      };

      const finish = (ending: Omit<Ending, 'stdout' | 'stderrTail' | 'timedOut' | 'aborted' | 'overflowed'>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (partialLine) this.#emitStderr(partialLine);
        resolve({
          ...ending,
          stdout: Buffer.concat(stdout).toString('utf8'),
          // Scrubbed before the cut, so a secret is never left half-visible at its start.
          stderrTail: this.#scrub(stderrTail).slice(-STDERR_TAIL_CHARS),
          timedOut,
          aborted,
          overflowed,
        });
      };
      const onAbort = (): void => {
        aborted = true;
        stop();
      };
      const timer = setTimeout(() => {
        timedOut = true;
        stop();
      }, this.#options.timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });

      child.on('error', (error: NodeJS.ErrnoException) => {
        // Without a pid the program never started; later errors (a failed kill) change nothing.
        if (child.pid === undefined) finish({ spawnError: error, code: null, signal: null });
      });
      // The leader is gone: whatever it left running in its group is an orphan
      // that would otherwise hold our pipes open and live on unsupervised.
      child.on('exit', () => killer.kill());
      child.on('close', (code, exitSignal) => {
        liveGroups.forget(child.pid);
        finish({ code, signal: exitSignal });
      });

      child.stdout.on('data', (chunk: Buffer) => {
        if (overflowed) return;
        stdoutBytes += chunk.length;
        if (stdoutBytes > maxOutput) {
          overflowed = true;
          stop();
          return;
        }
        stdout.push(chunk);
      });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        stderrTail = (stderrTail + chunk).slice(-2 * STDERR_TAIL_CHARS);
        const lines = (partialLine + chunk).split(/\r?\n/);
        partialLine = lines.pop() ?? '';
        for (const line of lines) this.#emitStderr(line);
        if (partialLine.length > MAX_STDERR_LINE_CHARS) {
          this.#emitStderr(partialLine);
          partialLine = '';
        }
      });
      // A program that does not read its stdin closes the pipe early (EPIPE): not a failure.
      child.stdin.on('error', () => undefined);
      child.stdin.end(JSON.stringify(issueDocument(input)));
    });
  }

  #emitStderr(line: string): void {
    if (line === '') return;
    const clean = this.#scrub(line);
    this.#options.onStderr?.(clean.length > MAX_STDERR_LINE_CHARS ? `${clean.slice(0, MAX_STDERR_LINE_CHARS)}…` : clean);
  }

  /** Stderr goes to the log and, through error messages, to the database: neither may hold a secret. */
  #scrub(text: string): string {
    return scrubSecrets(text, this.#options.secrets ?? []).text;
  }
}

/** The JSON document the program reads from stdin. */
function issueDocument(input: ExecutorInput): Record<string, unknown> {
  return {
    repository: input.repository,
    number: input.number,
    title: input.title,
    body: input.body,
    labels: input.labels,
    url: input.url,
    prompt: input.prompt,
  };
}

/**
 * The process groups still running. If the daemon exits before they end (a
 * second Ctrl-C, the shutdown grace running out), they are SIGKILLed on the way
 * out instead of living on unsupervised: the escalation timers die with us.
 * Their temporary folders are removed then too.
 */
const liveGroups = new (class {
  readonly #pids = new Set<number>();
  #hooked = false;

  track(pid: number | undefined): void {
    if (pid === undefined) return;
    if (!this.#hooked) {
      process.on('exit', () => {
        for (const group of this.#pids) {
          try {
            process.kill(-group, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        for (const folder of liveFolders) {
          try {
            rmSync(folder, { recursive: true, force: true });
          } catch {
            // nothing more we can do on the way out
          }
        }
      });
      this.#hooked = true;
    }
    this.#pids.add(pid);
  }

  forget(pid: number | undefined): void {
    if (pid !== undefined) this.#pids.delete(pid);
  }
})();

/**
 * Kills a process group: SIGTERM so the program can clean up, SIGKILL after
 * the grace period for whatever ignored it. Idempotent.
 */
class GroupKiller {
  readonly #pid: number | undefined;
  readonly #graceMs: number;
  #started = false;

  constructor(pid: number | undefined, graceMs: number) {
    this.#pid = pid;
    this.#graceMs = graceMs;
  }

  kill(): void {
    if (this.#started || this.#pid === undefined) return;
    this.#started = true;
    if (!this.#signal('SIGTERM')) return;
    const escalate = setTimeout(() => {
      // Signal 0 first: only SIGKILL a group that still exists.
      if (this.#signal(0)) this.#signal('SIGKILL');
    }, this.#graceMs);
    // Must not keep the daemon alive on shutdown; the run itself waits for the pipes to close.
    escalate.unref();
  }

  /** Whether the group existed to receive the signal. */
  #signal(signal: NodeJS.Signals | 0): boolean {
    try {
      process.kill(-(this.#pid as number), signal);
      return true;
    } catch {
      // ESRCH: the group is gone. Anything else (EPERM) must not crash the
      // daemon from a timer callback; there is nothing more we could do.
      return false;
    }
  }
}
