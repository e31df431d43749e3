/**
 * Runs any program as the AI tool: a coding agent, a script. The argv list is
 * spawned without a shell, so nothing in the issue text is ever interpreted as
 * shell syntax. The issue arrives as JSON on stdin and as `AUTOSOLVE_*`
 * environment variables; stdout is the answer; stderr is handed line by line
 * to a logger and its tail explains failures.
 *
 * The program leads its own process group, so a timeout or shutdown kills the
 * whole tree it started (SIGTERM, then SIGKILL after a grace period), not just
 * the direct child.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';

import { ClassifiedError } from '../../domain/failure.js';
import type { Executor, ExecutorInput, ExecutorOutput } from '../../domain/ports.js';
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
  /** The environment the program inherits, before filtering (the daemon passes its own, from src/config). */
  readonly parentEnv: Readonly<Record<string, string | undefined>>;
  /** Variable names passed on even though they look secret. Default: none. */
  readonly allowEnv?: readonly string[];
}

const DEFAULT_KILL_GRACE_MS = 2000;
const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
const STDERR_TAIL_CHARS = 2048;
/** After SIGKILL, how long to keep waiting for the pipes to close. */
const GIVE_UP_AFTER_KILL_MS = 1000;
const MAX_STDERR_LINE_CHARS = 4096;
/**
 * Linux refuses a single environment string above 128 KiB (E2BIG); the full
 * prompt is always on stdin.
 */
const MAX_ENV_VALUE_CHARS = 64 * 1024;
/**
 * Names that suggest a credential. Our GitHub token and model API keys must not
 * leak to a program that runs with issue text an attacker wrote.
 */
const SECRET_NAME = /TOKEN|KEY|SECRET|PASSWORD/i;

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
    this.#program = program;
    this.#args = args;
    this.#name = path.basename(program);
    this.#options = options;
    this.description = `command ${this.#name}`;
  }

  async run(input: ExecutorInput, signal: AbortSignal): Promise<ExecutorOutput> {
    if (signal.aborted) throw abortError(this.description);
    const ending = await this.#execute(input, signal);
    return { text: this.#judge(ending), model: this.#name };
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

  #execute(input: ExecutorInput, signal: AbortSignal): Promise<Ending> {
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
          env: this.#environment(input),
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
          stderrTail: stderrTail.slice(-STDERR_TAIL_CHARS),
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
    this.#options.onStderr?.(line.length > MAX_STDERR_LINE_CHARS ? `${line.slice(0, MAX_STDERR_LINE_CHARS)}…` : line);
  }

  #environment(input: ExecutorInput): Record<string, string> {
    const allowed = new Set(this.#options.allowEnv ?? []);
    const env: Record<string, string> = {};
    // The parent's environment minus anything whose name contains TOKEN, KEY,
    // SECRET or PASSWORD: the program reads attacker-written issue text and must
    // not be able to exfiltrate our credentials.
    for (const [name, value] of Object.entries(this.#options.parentEnv)) {
      if (value !== undefined && (allowed.has(name) || !SECRET_NAME.test(name))) env[name] = value;
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
