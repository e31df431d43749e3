/** Command executors for CLI tests that must catch the daemon mid-answer. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFile } from './cli.js';

export interface GatedAgent {
  /** argv for ai.command.run. */
  readonly run: string[];
  /** Whether a run has started (and is waiting for the gate). */
  started(): boolean;
  /** The pid of the waiting run (the leader of its process group). */
  pid(): number;
  /** The pid of a child the waiting run started, to prove the whole group goes. */
  childPid(): number;
  /** Lets waiting and later runs answer at once. */
  open(): void;
}

/**
 * An agent that answers at once when the gate file exists, and otherwise
 * records its pid, starts a child, and waits for the gate (or to be killed).
 */
export function gatedAgent(dir: string): GatedAgent {
  const gate = join(dir, 'gate-open');
  const pidFile = join(dir, 'agent.pid');
  const childFile = join(dir, 'agent-child.pid');
  const script = writeFile(
    dir,
    'gated-agent.cjs',
    `const fs = require('fs');
const { spawn } = require('child_process');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const answer = () => { process.stdout.write('Answer for #' + input.number + '.'); process.exit(0); };
if (fs.existsSync(${JSON.stringify(gate)})) answer();
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
fs.writeFileSync(${JSON.stringify(childFile)}, String(child.pid));
fs.writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
setInterval(() => { if (fs.existsSync(${JSON.stringify(gate)})) { child.kill('SIGKILL'); answer(); } }, 20);
`,
  );
  const readPid = (file: string) => Number(readFileSync(file, 'utf8'));
  return {
    run: [process.execPath, script],
    started: () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').length > 0,
    pid: () => readPid(pidFile),
    childPid: () => readPid(childFile),
    open: () => void writeFile(dir, 'gate-open', ''),
  };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** SIGKILLs a process group that may already be gone. */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export interface RecordingAgent {
  /** argv for a command executor. */
  readonly run: string[];
  /** What each run received on stdin, in the order the runs started. */
  calls(): Array<{ number: number; title: string; body: string; prompt: string }>;
}

/**
 * An agent that records what it received and answers `answer` with `{n}`
 * replaced by the issue number and `{title}` by its title.
 */
export function recordingAgent(dir: string, name: string, answer = 'Answer from ' + name + ' for #{n}: {title}'): RecordingAgent {
  const calls = join(dir, `${name}-calls.jsonl`);
  const script = writeFile(
    dir,
    `${name}-agent.cjs`,
    `const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify({ number: input.number, title: input.title, body: input.body, prompt: input.prompt }) + '\\n');
process.stdout.write(${JSON.stringify(answer)}.replace('{n}', String(input.number)).replace('{title}', input.title));
`,
  );
  return {
    run: [process.execPath, script],
    calls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { number: number; title: string; body: string; prompt: string }) : []),
  };
}
